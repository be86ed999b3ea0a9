//! The federation layer: a libp2p swarm over QUIC (identify, Kademlia in server mode, ping and the
//! `/parley/federation/1` request-response protocol) keyed by the node key, so the node's PeerId is its
//! identity. Shaped like rust-libp2p's file-sharing example: a cloneable [`Client`] sends commands over a
//! bounded channel to an event loop that alone owns the swarm.
//!
//! The node publishes a signed `name -> PeerId + addresses` record in the DHT and can resolve another
//! node's name to a reachable peer. Conversations are hosted by their creator's node, which orders their
//! messages and relays them, signed, through a durable per-destination outbox (`outbox`) to the home
//! nodes of their participants (`deliveries` is the receiving side).

mod acting;
mod behaviour;
pub(crate) mod call_updates;
mod calls;
mod changes;
mod client;
mod codec;
mod deliveries;
mod event_loop;
pub(crate) mod homes;
mod inbound;
pub(crate) mod outbox;
mod pins;
mod records;
mod remote;
mod submit;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use acting::speaks_for;
pub use client::Client;
pub use codec::Codec;
pub use libp2p::{Multiaddr, PeerId};
use protocol::federation::NodeName;
pub use remote::ResolvedUser;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::Services;

/// Commands queued for the event loop before callers wait (bounded, like every queue here).
const COMMAND_QUEUE: usize = 64;
/// How long an outbound request may take before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A QUIC connection silent this long is considered dead.
const QUIC_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// Healthy connections ping this often, well within [`QUIC_IDLE_TIMEOUT`].
const QUIC_KEEP_ALIVE: Duration = Duration::from_secs(1);
/// Connections with no traffic are closed after this long.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a federation operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The swarm could not be built or could not listen.
    #[error("federation could not start: {0}")]
    Start(String),
    /// The event loop is not running (shut down).
    #[error("federation is not running")]
    Stopped,
    /// No valid record for that node name was found in the DHT.
    #[error("no node named {0} was found")]
    UnknownNode(String),
    /// A request to a peer failed (unreachable, timed out, refused).
    #[error("the federation request failed: {0}")]
    RequestFailed(String),
}

/// This node as the federation knows it (`GET /v1/federation/node`).
#[derive(Debug, Clone, Serialize)]
pub struct LocalNode {
    /// The node's name in the DHT.
    pub name: String,
    /// Its libp2p PeerId (base58).
    pub peer_id: String,
    /// Addresses its swarm listens on.
    pub listen_addresses: Vec<String>,
}

/// Another node this node knows of (`GET /v1/federation/peers`).
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    /// Its name, once learnt from its record or its `Hello` (bootstrap nodes have none).
    pub name: Option<String>,
    /// Its PeerId (base58).
    pub peer_id: String,
    /// Whether a connection is open now.
    pub connected: bool,
    /// Addresses it was seen at.
    pub addresses: Vec<String>,
    /// Events (messages, receipts, membership changes) waiting in this node's outbox for it.
    pub outbox_depth: u64,
}

/// A node name resolved through the DHT.
#[derive(Debug, Clone)]
pub struct ResolvedNode {
    /// The node's PeerId, proven by the record's signature.
    pub peer_id: PeerId,
    /// Where the record says it listens.
    pub addresses: Vec<Multiaddr>,
}

/// The running event loop; [`Handle::shutdown`] stops it. Dropping the handle stops it too.
#[derive(Debug)]
pub struct Handle {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Stops the swarm (closing its connections) and waits for the event loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Services {
    /// The nodes this node knows of, with the events queued for each. The queues are counted here, in
    /// the caller's task, so a long outbox never stalls the event loop.
    pub async fn federation_peers(&self) -> Result<Vec<PeerInfo>, Error> {
        let client = self.federation().ok_or(Error::Stopped)?;
        let mut peers = client.peers().await?;
        for peer in &mut peers {
            if let Some(name) = peer.name.as_deref().and_then(|name| NodeName::new(name).ok()) {
                peer.outbox_depth = self.outbox.depth(&name);
            }
        }
        Ok(peers)
    }
}

/// The name a node uses when the operator gives none: the tail of its base58 PeerId, lower-cased (every
/// Ed25519 PeerId starts with the same `12D3KooW`, so the head would not tell nodes apart).
pub fn default_name(peer_id: &PeerId) -> String {
    let text = peer_id.to_string().to_lowercase();
    text[text.len().saturating_sub(12)..].to_owned()
}

/// The node's name: configured, or derived from its PeerId.
pub(crate) fn local_name(config: &crate::FederationConfig, peer_id: &PeerId) -> Result<NodeName, Error> {
    match &config.name {
        Some(name) => NodeName::new(name.as_str()),
        None => NodeName::new(default_name(peer_id)),
    }
    .map_err(|err| Error::Start(format!("node name: {err}")))
}

/// Builds the swarm, starts listening and spawns the event loop (needs a tokio runtime).
pub(crate) fn start(services: &Arc<Services>) -> Result<(Client, Handle), Error> {
    let config = services.config.federation.clone();
    let keypair = services.identity.libp2p_keypair();
    let peer_id = keypair.public().to_peer_id();
    let name = services.node_name.clone();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_quic_config(|mut quic| {
            // A peer that died is noticed after QUIC_IDLE_TIMEOUT rather than quinn's 10 s, so the outbox
            // redials a restarted node sooner; keep-alives hold healthy idle connections open.
            quic.max_idle_timeout = u32::try_from(QUIC_IDLE_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
            quic.keep_alive_interval = QUIC_KEEP_ALIVE;
            quic
        })
        .with_behaviour(|key| behaviour::Behaviour::new(key, REQUEST_TIMEOUT))
        .map_err(|never| match never {})?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    swarm
        .listen_on(config.p2p_listen.clone())
        .map_err(|err| Error::Start(format!("listening on {}: {err}", config.p2p_listen)))?;
    tracing::info!(%name, %peer_id, listen = %config.p2p_listen, "federation starting");
    let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let event_loop = event_loop::EventLoop::new(swarm, Arc::downgrade(services), name, config, commands);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(event_loop.run(stopped));
    Ok((Client::new(commands_tx), Handle { stop, task }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_a_valid_node_name() {
        for _ in 0..20 {
            let name = default_name(&PeerId::random());
            assert_eq!(name.len(), 12);
            NodeName::new(name).unwrap();
        }
    }
}
