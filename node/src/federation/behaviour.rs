//! The node's composed libp2p behaviour: federation requests, the DHT, identify and ping.

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, identify, identity, kad, ping, request_response};
use protocol::federation::{IDENTIFY_PROTOCOL, KAD_PROTOCOL, PROTOCOL};

use super::codec::Codec;

/// Requests a peer may have in flight to us at once over one connection.
const MAX_CONCURRENT_STREAMS: usize = 64;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) request_response: request_response::Behaviour<Codec>,
    pub(crate) kademlia: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

impl Behaviour {
    pub(crate) fn new(key: &identity::Keypair, request_timeout: Duration) -> Self {
        let peer_id = key.public().to_peer_id();
        let mut kad_config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // Records are only stored once their signature checks out (see `records::validate`).
        kad_config.set_record_filtering(kad::StoreInserts::FilterBoth);
        kad_config.set_query_timeout(Duration::from_secs(30));
        let mut kademlia = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
        // Every node serves the DHT: nodes are meant to be publicly reachable servers.
        kademlia.set_mode(Some(kad::Mode::Server));
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
                    .with_agent_version(format!("parley/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
        }
    }
}
