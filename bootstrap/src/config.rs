use std::path::PathBuf;

use libp2p::Multiaddr;

/// What the operator sets.
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's Ed25519 key (32-byte secret), created on first start so the PeerId stays stable.
    pub key_file: PathBuf,
    /// The addresses to listen on: QUIC (`/ip4/0.0.0.0/udp/4001/quic-v1`) and TCP (`/ip4/0.0.0.0/tcp/4001`,
    /// for nodes whose networks block UDP).
    pub listen: Vec<Multiaddr>,
    /// Relay connections for nodes behind NAT (circuit relay v2) and answer their AutoNAT probes, so
    /// they learn they are behind NAT and become reachable through this node. Off by default: relaying
    /// costs the operator bandwidth.
    pub relay: bool,
    /// The addresses nodes reach this node at, when not the ones it listens on (behind a port
    /// forward, or a name in a container network). A relay hands them to the nodes it relays for.
    pub external: Vec<Multiaddr>,
}

impl Config {
    /// A config with the given key file and listen addresses.
    pub fn new(key_file: impl Into<PathBuf>, listen: impl IntoIterator<Item = Multiaddr>) -> Self {
        Self {
            key_file: key_file.into(),
            listen: listen.into_iter().collect(),
            relay: false,
            external: Vec::new(),
        }
    }
}
