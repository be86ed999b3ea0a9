//! The node's composed libp2p behaviour: federation requests, the DHT, identify and ping, and what a
//! node behind NAT needs to be reached (AutoNAT to learn it is, a relay client to be reachable through
//! a relay, DCUtR to replace a relayed connection with a direct one).

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, autonat, dcutr, identify, identity, kad, ping, relay, request_response};
use protocol::federation::{IDENTIFY_PROTOCOL, KAD_PROTOCOL, PROTOCOL};

use super::codec::Codec;

/// Requests a peer may have in flight to us at once over one connection.
const MAX_CONCURRENT_STREAMS: usize = 64;
/// The first reachability probe waits this long after start: long enough for the first connection to
/// a bootstrap node, far shorter than AutoNAT's 15 s, since until it answers a node behind NAT is not
/// reachable through a relay.
const AUTONAT_BOOT_DELAY: Duration = Duration::from_secs(2);

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) request_response: request_response::Behaviour<Codec>,
    pub(crate) kademlia: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    /// The next three are off when the node runs without NAT traversal (`FederationConfig::nat_traversal`).
    pub(crate) autonat: Toggle<autonat::Behaviour>,
    pub(crate) relay_client: Toggle<relay::client::Behaviour>,
    pub(crate) dcutr: Toggle<dcutr::Behaviour>,
}

impl Behaviour {
    pub(crate) fn new(
        key: &identity::Keypair,
        relay_client: Option<relay::client::Behaviour>,
        request_timeout: Duration,
    ) -> Self {
        let nat_traversal = relay_client.is_some();
        let peer_id = key.public().to_peer_id();
        let mut kad_config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // Records are only stored once their signature checks out (see `records::validate`).
        kad_config.set_record_filtering(kad::StoreInserts::FilterBoth);
        kad_config.set_query_timeout(Duration::from_secs(30));
        let mut kademlia = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
        // Nodes are meant to be publicly reachable servers and serve the DHT; one that AutoNAT finds
        // behind NAT becomes a client of it (`event_loop::nat`).
        kademlia.set_mode(Some(kad::Mode::Server));
        let autonat = nat_traversal.then(|| {
            autonat::Behaviour::new(
                peer_id,
                autonat::Config {
                    boot_delay: AUTONAT_BOOT_DELAY,
                    // Probes go to the operator's bootstrap nodes that serve AutoNAT (added as they
                    // identify), not to every node the DHT happens to connect to.
                    use_connected: false,
                    ..autonat::Config::default()
                },
            )
        });
        Self {
            request_response: request_response::Behaviour::with_codec(
                Codec,
                [(StreamProtocol::new(PROTOCOL), request_response::ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS),
            ),
            kademlia,
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                    .with_agent_version(super::AGENT.to_owned()),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            autonat: Toggle::from(autonat),
            relay_client: Toggle::from(relay_client),
            dcutr: Toggle::from(nat_traversal.then(|| dcutr::Behaviour::new(peer_id))),
        }
    }
}
