//! The node's composed libp2p behaviour: federation requests, the DHT and identify, and what a node
//! behind NAT needs to be reached (AutoNAT to learn it is, a relay client to be reachable through
//! a relay, DCUtR to replace a relayed connection with a direct one).

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, autonat, dcutr, identify, identity, kad, relay, request_response};
use protocol::federation::{IDENTIFY_PROTOCOL, KAD_PROTOCOL, PROTOCOL};

use super::codec::Codec;

/// Requests a peer may have in flight to us at once over one connection.
const MAX_CONCURRENT_STREAMS: usize = 64;
/// The first reachability probe waits this long after start: long enough for the first connection to
/// a bootstrap node, far shorter than AutoNAT's 15 s, since until it answers a node behind NAT is not
/// reachable through a relay.
const AUTONAT_BOOT_DELAY: Duration = Duration::from_secs(2);

/// How often the routing table is refreshed: libp2p's default is 5 minutes, go-libp2p-kad-dht's 10.
const ROUTING_TABLE_REFRESH: Duration = Duration::from_secs(10 * 60);

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) request_response: request_response::Behaviour<Codec>,
    pub(crate) kademlia: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
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
        // Nodes are long-lived servers whose tables their own and other nodes' lookups keep current;
        // a refresh is a dozen lookups asking a few hundred nodes, so it runs on a timer only, not
        // whenever the table is small, as it is for every joining node (`EventLoop::join_dht`).
        kad_config.set_periodic_bootstrap_interval(Some(ROUTING_TABLE_REFRESH));
        kad_config.set_automatic_bootstrap_throttle(None);
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
            autonat: Toggle::from(autonat),
            relay_client: Toggle::from(relay_client),
            dcutr: Toggle::from(nat_traversal.then(|| dcutr::Behaviour::new(peer_id))),
        }
    }
}

#[cfg(test)]
mod tests {
    use libp2p::kad::KBucketKey;
    use libp2p::{Multiaddr, PeerId};

    use super::*;

    /// The routing table's closest-first walk is ours to vouch for (patches/libp2p-kad changed how it
    /// fills its buffer): every peer comes out once, ordered by distance, whatever the target.
    #[test]
    fn the_routing_table_yields_every_peer_closest_first() {
        let key = identity::Keypair::generate_ed25519();
        let mut behaviour = Behaviour::new(&key, None, Duration::from_secs(5));
        let address: Multiaddr = "/ip4/127.0.0.1/udp/1/quic-v1".parse().unwrap();
        let mut added = std::collections::HashSet::new();
        for _ in 0..300 {
            let peer = PeerId::random();
            if behaviour.kademlia.add_address(&peer, address.clone()) == kad::RoutingUpdate::Success {
                added.insert(peer);
            }
        }
        for _ in 0..20 {
            let target = KBucketKey::from(PeerId::random());
            let walked: Vec<_> = behaviour.kademlia.get_closest_local_peers(&target).collect();
            let peers: std::collections::HashSet<_> = walked.iter().map(|key| *key.preimage()).collect();
            assert_eq!(peers, added);
            assert_eq!(walked.len(), added.len());
            assert!(
                walked
                    .windows(2)
                    .all(|pair| target.distance(&pair[0]) <= target.distance(&pair[1]))
            );
        }
    }
}
