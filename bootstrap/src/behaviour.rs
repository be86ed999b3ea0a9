use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, identify, identity, kad, ping};
use protocol::federation::{IDENTIFY_PROTOCOL, KAD_PROTOCOL};

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) kademlia: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

impl Behaviour {
    pub(crate) fn new(key: &identity::Keypair) -> Self {
        let peer_id = key.public().to_peer_id();
        let mut config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // Only records that verify are stored (see `records::validate`).
        config.set_record_filtering(kad::StoreInserts::FilterBoth);
        config.set_query_timeout(Duration::from_secs(30));
        let mut kademlia = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), config);
        kademlia.set_mode(Some(kad::Mode::Server));
        Self {
            kademlia,
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                    .with_agent_version(format!("parley-bootstrap/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
        }
    }
}
