use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, autonat, identify, identity, kad, relay};
use protocol::federation::{IDENTIFY_PROTOCOL, KAD_PROTOCOL};

/// A relayed connection between two nodes lasts at most this long before they reconnect through the
/// relay (or, far more often, replace it with a direct one by hole punching within a second).
const MAX_CIRCUIT_DURATION: Duration = Duration::from_secs(60 * 60);
/// And carries at most this much: federation traffic (ciphertext, receipts, lookups) for two nodes
/// that cannot punch through their NATs, bounded so one pair cannot take a relay's bandwidth for good.
const MAX_CIRCUIT_BYTES: u64 = 256 * 1024 * 1024;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) kademlia: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
    /// Relays for nodes behind NAT, when the operator offers it (`Config::relay`).
    pub(crate) relay: Toggle<relay::Behaviour>,
    /// Tells nodes whether they can be dialled, with relaying.
    pub(crate) autonat: Toggle<autonat::Behaviour>,
}

impl Behaviour {
    pub(crate) fn new(key: &identity::Keypair, relay: bool) -> Self {
        let peer_id = key.public().to_peer_id();
        let mut config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // Only records that verify are stored (see `records::validate`).
        config.set_record_filtering(kad::StoreInserts::FilterBoth);
        config.set_query_timeout(Duration::from_secs(30));
        let mut kademlia = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), config);
        kademlia.set_mode(Some(kad::Mode::Server));
        let relay_config = relay::Config {
            max_circuit_duration: MAX_CIRCUIT_DURATION,
            max_circuit_bytes: MAX_CIRCUIT_BYTES,
            ..relay::Config::default()
        };
        Self {
            kademlia,
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                    .with_agent_version(format!("parley-bootstrap/{}", env!("CARGO_PKG_VERSION"))),
            ),
            relay: Toggle::from(relay.then(|| relay::Behaviour::new(peer_id, relay_config))),
            // The probes it serves are what matters; it has no servers to probe itself with.
            autonat: Toggle::from(relay.then(|| {
                autonat::Behaviour::new(
                    peer_id,
                    autonat::Config {
                        use_connected: false,
                        ..autonat::Config::default()
                    },
                )
            })),
        }
    }
}
