//! The federation layer: a libp2p swarm over QUIC (identify, Kademlia in server mode and the
//! `/parley/federation/1` request-response protocol) keyed by the node key, so the node's PeerId is its
//! identity. Shaped like rust-libp2p's file-sharing example: a cloneable [`Client`] sends commands over a
//! bounded channel to an event loop that alone owns the swarm.
//!
//! The node publishes a signed `name -> PeerId + addresses` record in the DHT and can resolve another
//! node's name to a reachable peer. This layer is only the network: requests from other nodes leave it
//! over a bounded channel ([`Network::inbound`]) for the node's dispatcher (`crate::inbound`), and what
//! they mean (messages, calls, users) belongs to the domain services, which send through a [`Client`].

mod behaviour;
mod client;
mod codec;
mod denied;
mod event_loop;
mod pins;
mod records;
mod transport;

use std::time::Duration;

pub use client::Client;
pub use codec::Codec;
pub(crate) use denied::DeniedNodes;
pub use event_loop::Reachability;
use libp2p::identity::Keypair;
use libp2p::request_response::ResponseChannel;
pub use libp2p::{Multiaddr, PeerId};
use protocol::federation::{NodeInfo, NodeName, Request, Response, WIRE_VERSION};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
pub use transport::{Transport, quic_or_tcp};

use crate::metrics::FederationCounters;
use crate::storage::Store;
use crate::tasks::Tasks;
use crate::{FederationConfig, NodeIdentity};

/// Commands queued for the event loop before callers wait (bounded, like every queue here).
const COMMAND_QUEUE: usize = 64;
/// How long an outbound request may take before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The software a node says it runs, in identify and in `Hello`.
const AGENT: &str = concat!("parley/", env!("CARGO_PKG_VERSION"));

/// How the node named `name` introduces itself (`Request::Hello`).
pub(crate) fn node_info(name: NodeName) -> NodeInfo {
    NodeInfo {
        version: WIRE_VERSION,
        name,
        agent: AGENT.to_owned(),
    }
}

/// Why a federation operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The swarm could not be built or could not listen.
    #[error("federation could not start: {0}")]
    Start(String),
    /// Another socket holds the address the federation was to listen on.
    #[error("federation could not start: {0} is already in use (by another node on this machine?)")]
    AddressInUse(Multiaddr),
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

/// How joining the federation through the operator's bootstrap nodes went, for the node to say before
/// it serves (`Client::join`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// No bootstrap node was named: the node federates only with nodes that dial it.
    Alone,
    /// A bootstrap node answered, and no other node holds this node's name.
    Joined,
    /// No bootstrap node could be reached: why, per address tried.
    Unreachable(String),
    /// Another node (this PeerId) holds this node's name in the federation.
    NameTaken(PeerId),
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
    /// Lookups of other nodes' names it has sent to the DHT since it started: a lookup of a node it
    /// is connected to and has pinned is answered without one, so this grows with new contacts, not
    /// with traffic.
    pub name_lookups: u64,
    /// Whether other nodes can dial it; behind NAT it listens through relays (`/p2p-circuit` addresses).
    pub reachability: Reachability,
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
    /// Whether every open connection goes through a relay (both nodes behind NAT, hole punching not
    /// yet done or impossible).
    pub relayed: bool,
    /// Addresses it was seen at.
    pub addresses: Vec<String>,
    /// Events (messages, receipts, membership changes) waiting in this node's outbox for it.
    pub outbox_depth: u64,
}

/// Another node as the node addresses it: by name (what users see, in handles) and PeerId (what the
/// network authenticates). Stored with conversations and remote users, so the PeerId is kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Its name in the DHT.
    pub node: NodeName,
    /// Its key.
    #[serde(rename = "peer_id", with = "peer_id_text")]
    pub peer: PeerId,
}

/// Stores a PeerId as its base58 text, the form operators read in logs and `/v1/federation/peers`.
pub(crate) mod peer_id_text {
    use libp2p::PeerId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(peer: &PeerId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(peer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PeerId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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
    task: tokio::task::JoinHandle<Option<()>>,
}

impl Handle {
    /// Stops the swarm (closing its connections) and waits for the event loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
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

/// What the network hands to the node, in arrival order: requests to answer, and peers that said who
/// they are (so work queued for them can start).
#[derive(Debug)]
#[non_exhaustive]
pub enum Inbound {
    /// A request from another node, to be answered through its [`Reply`].
    Request(InboundRequest),
    /// A peer announced its node name, so it is reachable now.
    Named {
        /// The peer, as authenticated by the connection.
        peer: PeerId,
        /// The name it claims (checked against name records before it is trusted for anything).
        name: NodeName,
    },
}

/// A request from another node.
#[derive(Debug)]
pub struct InboundRequest {
    /// The asking node, authenticated by the connection.
    pub peer: PeerId,
    /// Its name, when it has told it (`Hello`) or its record named it.
    pub name: Option<NodeName>,
    /// What it asks.
    pub request: Request,
    /// Where the answer goes.
    pub reply: Reply,
}

/// The way back to the node that asked: the answer goes straight to the event loop, which alone may
/// write to the connection. It holds the request's place among those in flight until then; dropping it
/// unanswered tells the asking node this one is busy.
#[derive(Debug)]
pub struct Reply {
    channel: Option<ResponseChannel<Response>>,
    answers: mpsc::Sender<(ResponseChannel<Response>, Response)>,
    _slot: OwnedSemaphorePermit,
}

impl Reply {
    /// Sends the answer back over the connection the request came on.
    pub fn send(mut self, response: Response) {
        self.answer(response);
    }

    fn answer(&mut self, response: Response) {
        if let Some(channel) = self.channel.take() {
            // The queue holds as many answers as there are places in flight, one of which this holds,
            // so it is never full; it is closed only once the network stopped.
            let _ = self.answers.try_send((channel, response));
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if self.channel.is_some() {
            self.answer(error_response("busy", "the request was dropped; retry later"));
        }
    }
}

/// The error answer every refusal takes on the wire: a stable code and a reason for people.
pub fn error_response(code: &str, message: &str) -> Response {
    Response::Error {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// A running network: the handle to send with, the stop switch and the requests arriving.
#[derive(Debug)]
pub struct Network {
    /// Sends requests and lookups; cloneable.
    pub client: Client,
    /// Stops the swarm.
    pub handle: Handle,
    /// Requests from other nodes (bounded; a full queue answers `busy`).
    pub inbound: mpsc::Receiver<Inbound>,
}

/// What the node shares with its network: the store (which keeps names pinned to their holders
/// across restarts), the nodes its operators deny, and the counters for its metrics.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) denied: DeniedNodes,
    pub(crate) counters: FederationCounters,
}

/// Builds the swarm on the node key over the transport `transport` makes for it, starts listening on
/// `config.p2p_listen` and spawns the event loop (needs a tokio runtime). The event loop and every
/// connection's task are the node's `tasks`, so a halted node's connections end with it.
pub(crate) fn start(
    identity: NodeIdentity,
    name: NodeName,
    config: FederationConfig,
    shared: Shared,
    transport: impl FnOnce(&Keypair) -> Transport,
    tasks: &Tasks,
) -> Result<Network, Error> {
    let Shared {
        store,
        denied,
        counters,
    } = shared;
    let keypair = identity.libp2p_keypair();
    let peer_id = keypair.public().to_peer_id();
    // A stream opened for one protocol (every one we open is: a request, a DHT query, a relay
    // reservation) carries its first bytes with the protocol's name instead of a round trip after it;
    // a peer that does not speak it fails the stream as it would have failed the negotiation. We only
    // open streams for protocols the peer announced (identify) or that every node speaks.
    let swarm_config = libp2p::swarm::Config::with_executor(tasks.clone())
        .with_idle_connection_timeout(config.idle_connection_timeout)
        .with_substream_upgrade_protocol_override(libp2p::core::upgrade::Version::V1Lazy);
    let (transport, relay_client) = match config.nat_traversal {
        true => {
            let (relayed, relay_client) = libp2p::relay::client::new(peer_id);
            (
                transport::with_relay(transport(&keypair), relayed, &keypair),
                Some(relay_client),
            )
        }
        false => (transport(&keypair), None),
    };
    let mut swarm = libp2p::Swarm::new(
        transport,
        behaviour::Behaviour::new(&keypair, relay_client, REQUEST_TIMEOUT),
        peer_id,
        swarm_config,
    );
    for address in &config.p2p_listen {
        swarm
            .listen_on(address.clone())
            .map_err(|err| listen_failure(address, &err))?;
    }
    tracing::info!(%name, %peer_id, listen = ?config.p2p_listen, "federation starting");
    let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let (inbound_tx, inbound) = mpsc::channel(event_loop::MAX_INBOUND_IN_FLIGHT);
    let parts = event_loop::Parts {
        identity,
        name,
        config,
        pins: store,
        denied,
        counters: counters.clone(),
        commands,
        inbound: inbound_tx,
    };
    let (stop, stopped) = oneshot::channel();
    let task = tasks.spawn(event_loop::EventLoop::new(swarm, parts).run(stopped));
    Ok(Network {
        client: Client::new(commands_tx, counters),
        handle: Handle { stop, task },
        inbound,
    })
}

/// Why listening on `address` failed, in words. libp2p's transport error displays as nothing and keeps
/// the reason in its source; the transport wraps its own error in an `io::Error`, and QUIC's wraps the
/// socket's `io::Error` transparently, and neither shows up as a source: the chain is walked through
/// all three. Whether the port is taken is asked of the system again rather than read from that chain,
/// where the transports' `Either` hides it.
fn listen_failure(address: &Multiaddr, err: &libp2p::TransportError<std::io::Error>) -> Error {
    if taken(address) {
        return Error::AddressInUse(address.clone());
    }
    let mut causes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = match err {
        libp2p::TransportError::Other(io) => Some(io),
        libp2p::TransportError::MultiaddrNotSupported(_) => None,
    };
    while let Some(cause) = next {
        causes.push(cause);
        next = if let Some(inner) = cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner)
        } else if let Some(libp2p::quic::Error::Io(socket)) = cause.downcast_ref::<libp2p::quic::Error>() {
            Some(socket)
        } else {
            cause.source()
        };
    }
    let mut reason = err.to_string();
    for cause in causes.iter().map(ToString::to_string) {
        if !cause.is_empty() && !reason.contains(&cause) {
            if !reason.is_empty() {
                reason.push_str(": ");
            }
            reason.push_str(&cause);
        }
    }
    Error::Start(format!("listening on {address}: {reason}"))
}

/// Whether another socket holds `address`'s IP and UDP or TCP port.
fn taken(address: &Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    let mut in_use = None;
    for protocol in address.iter() {
        match protocol {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Ip6(v6) => ip = Some(std::net::IpAddr::V6(v6)),
            Protocol::Udp(port) => in_use = ip.map(|ip| std::net::UdpSocket::bind((ip, port)).err()),
            Protocol::Tcp(port) => in_use = ip.map(|ip| std::net::TcpListener::bind((ip, port)).err()),
            _ => {}
        }
    }
    in_use
        .flatten()
        .is_some_and(|err| err.kind() == std::io::ErrorKind::AddrInUse)
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
