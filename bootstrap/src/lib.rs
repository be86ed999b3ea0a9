//! A Parley bootstrap node: a well-known DHT entry point that holds no users. It listens on QUIC and TCP, serves
//! Kademlia (server mode, storing only node records whose signature checks out) and identify, so nodes
//! that name it find each other; opt-in, it relays for nodes behind NAT and answers their AutoNAT
//! probes. Shaped after rust-libp2p's `misc/server`.
#![deny(unsafe_code, missing_docs)]

mod behaviour;
mod config;
mod key;
mod records;

use std::future::Future;
use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, Transport as _};
use libp2p::core::upgrade::Version;
use libp2p::futures::StreamExt;
use libp2p::futures::future::Either;
use libp2p::identity::Keypair;
use libp2p::kad::store::RecordStore;
use libp2p::swarm::SwarmEvent;
use libp2p::{Swarm, identify, kad};

pub use config::Config;
pub use key::load_or_create_key;
pub use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};

use behaviour::{Behaviour, BehaviourEvent};

/// A TCP connection's Noise handshake and yamux negotiation must finish within this.
const TCP_UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the bootstrap node could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key file could not be read, created or parsed.
    #[error("key file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The swarm could not listen on the address.
    #[error("listening on {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// The swarm stopped before it reported a listen address.
    #[error("the swarm stopped before listening")]
    NotListening,
}

/// What a swarm runs on: authenticated, multiplexed connections to peers.
pub type Transport = Boxed<(PeerId, StreamMuxerBox)>;

/// QUIC, and TCP (Noise, yamux) for nodes whose networks block UDP: what a bootstrap node serves on the
/// internet, the same pair nodes federate over (`node::federation::quic_or_tcp`).
pub fn quic_or_tcp(keypair: &Keypair) -> Transport {
    let quic = libp2p::quic::tokio::Transport::new(libp2p::quic::Config::new(keypair))
        .map(|(peer, connection), _| (peer, StreamMuxerBox::new(connection)));
    let noise = libp2p::noise::Config::new(keypair).expect("an Ed25519 key always signs Noise's static key");
    let tcp = libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default().nodelay(true))
        .upgrade(Version::V1Lazy)
        .authenticate(noise)
        .multiplex(libp2p::yamux::Config::default())
        .timeout(TCP_UPGRADE_TIMEOUT);
    quic.or_transport(tcp)
        .map(|connection, _| match connection {
            Either::Left(quic) => quic,
            Either::Right((peer, muxer)) => (peer, StreamMuxerBox::new(muxer)),
        })
        .boxed()
}

/// A bootstrap node that is listening but not yet serving; [`Bootstrap::run`] serves it.
pub struct Bootstrap {
    swarm: Swarm<Behaviour>,
    listen_addresses: Vec<Multiaddr>,
}

impl Bootstrap {
    /// Loads (or creates) the key, builds the swarm over QUIC and TCP and waits until it listens on
    /// every address (inside a tokio runtime).
    pub async fn start(config: &Config) -> Result<Self, Error> {
        Self::start_over(config, quic_or_tcp).await
    }

    /// Starts as [`Bootstrap::start`] does, over the transport `transport` builds for the node key:
    /// simulations run bootstrap nodes over an in-memory network this way.
    pub async fn start_over(config: &Config, transport: impl FnOnce(&Keypair) -> Transport) -> Result<Self, Error> {
        let keypair = load_or_create_key(&config.key_file)?;
        let peer_id = keypair.public().to_peer_id();
        let mut swarm = Swarm::new(
            transport(&keypair),
            Behaviour::new(&keypair, config.relay),
            peer_id,
            libp2p::swarm::Config::with_tokio_executor().with_idle_connection_timeout(Duration::from_secs(120)),
        );
        let mut listeners = Vec::with_capacity(config.listen.len());
        for address in &config.listen {
            let listener = swarm.listen_on(address.clone()).map_err(|err| Error::Listen {
                address: address.to_string(),
                reason: err.to_string(),
            })?;
            listeners.push(listener);
        }
        let mut bootstrap = Self {
            swarm,
            listen_addresses: Vec::new(),
        };
        // Every listener's first address tells operators (and tests that bind port 0) where to point
        // nodes: a QUIC address alone would leave nodes that cannot use UDP without one.
        while !listeners.is_empty() {
            match bootstrap.swarm.next().await {
                Some(event) => {
                    if let SwarmEvent::NewListenAddr { listener_id, .. } = &event {
                        listeners.retain(|listener| listener != listener_id);
                    }
                    bootstrap.on_event(event);
                }
                None => return Err(Error::NotListening),
            }
        }
        if config.relay {
            // A relay advertises itself, and hands nodes circuit addresses, only through addresses it
            // knows to be reachable.
            let external = if config.external.is_empty() {
                bootstrap.listen_addresses.clone()
            } else {
                config.external.clone()
            };
            for address in external {
                bootstrap.swarm.add_external_address(address);
            }
        }
        Ok(bootstrap)
    }

    /// The node's PeerId.
    pub fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Full addresses nodes should name, each ending in `/p2p/<peer id>`.
    pub fn addresses(&self) -> Vec<Multiaddr> {
        let peer = self.peer_id();
        self.listen_addresses
            .iter()
            .map(|address| address.clone().with_p2p(peer).unwrap_or_else(|address| address))
            .collect()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(event) = self.swarm.next() => self.on_event(event),
            }
        }
        tracing::info!("bootstrap node stopped");
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "bootstrap node listening");
                self.listen_addresses.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => self.listen_addresses.retain(|a| a != &address),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                // Learn where identified DHT peers listen so the routing table can hand them out.
                let serves_dht = info
                    .protocols
                    .iter()
                    .any(|p| p.as_ref() == protocol::federation::KAD_PROTOCOL);
                if serves_dht {
                    for address in info.listen_addrs {
                        self.swarm.behaviour_mut().kademlia.add_address(&peer_id, address);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kademlia(kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::PutRecord {
                        source,
                        record: Some(record),
                        ..
                    },
            })) => {
                let store = self.swarm.behaviour_mut().kademlia.store_mut();
                let now = chrono::Utc::now().timestamp();
                match records::admit(&record, store.get(&record.key).as_deref(), now) {
                    Ok(()) => {
                        if let Err(err) = store.put(record) {
                            tracing::warn!(error = %err, "storing a node record failed");
                        }
                    }
                    Err(err) => tracing::warn!(peer = %source, error = %err, "refused a node record"),
                }
            }
            _ => {}
        }
    }
}

/// Starts a bootstrap node and serves it until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    Bootstrap::start(&config).await?.run(shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_listens_and_reports_its_full_address() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(
            dir.path().join("bootstrap.key"),
            ["/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()],
        );
        let bootstrap = Bootstrap::start(&config).await.unwrap();
        let peer = bootstrap.peer_id();
        let addresses = bootstrap.addresses();
        assert!(!addresses.is_empty());
        assert!(
            addresses
                .iter()
                .all(|a| a.to_string().ends_with(&format!("/p2p/{peer}")))
        );
        drop(bootstrap);
        // The key file makes the PeerId stable across restarts.
        let again = Bootstrap::start(&config).await.unwrap();
        assert_eq!(again.peer_id(), peer);
    }
}
