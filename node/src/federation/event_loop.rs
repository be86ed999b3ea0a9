//! The one task that owns the swarm. It serves commands from `Client` handles, answers inbound requests,
//! keeps the node's name record published and tracks what it knows of other nodes.

mod dialing;
mod joining;
mod lookups;
mod nat;
mod requests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::kad::store::RecordStore;
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, identify, kad, multiaddr::Protocol};
use protocol::federation::{KAD_PROTOCOL, NodeName, PROTOCOL, Request, Response};
use tokio::sync::{Semaphore, mpsc, oneshot};

use self::dialing::HeldRequest;
use self::joining::Joining;
use self::lookups::{PendingResolve, RESOLVE_WINDOW, Resolving};
use self::nat::Nat;
pub use self::nat::Reachability;
use super::behaviour::{Behaviour, BehaviourEvent};
use super::{DeniedNodes, Error, Inbound, Joined, LocalNode, PeerInfo, ResolvedNode, pins, records};
use crate::metrics::FederationCounters;
use crate::storage::Store;
use crate::{FederationConfig, NodeIdentity};

/// Inbound requests being answered at once; beyond this a peer is told `busy` (bounded work per node).
pub(crate) const MAX_INBOUND_IN_FLIGHT: usize = 64;

/// What a `Client` asks of the event loop; every command carries its own reply channel.
#[derive(Debug)]
pub(crate) enum Command {
    LocalNode {
        reply: oneshot::Sender<LocalNode>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    Resolve {
        name: NodeName,
        reply: oneshot::Sender<Result<ResolvedNode, Error>>,
    },
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, Error>>,
    },
    /// Closes every connection to a node that was just denied.
    Disconnect {
        peer: PeerId,
    },
    /// Answers once joining through the bootstrap nodes is settled.
    Join {
        reply: oneshot::Sender<Joined>,
    },
}

/// Who waits for an outbound request's answer.
enum Pending {
    Client(oneshot::Sender<Result<Response, Error>>),
    /// Our own `Hello`; the answer only teaches us the peer's name.
    Hello,
}

#[derive(Default)]
struct KnownPeer {
    name: Option<NodeName>,
    addresses: BTreeSet<Multiaddr>,
}

/// The per-peer budget refills over this period: a peer may burst the whole per-minute budget, then
/// continues at budget / 60 requests a second.
const PEER_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// The name record is published once more this long after start. The first publication goes to the
/// peers closest to the name among the few a joining node knows; in a federation that is still
/// growing, the closest of all are others by a minute later, and lookups, which ask those, found no
/// copy until the next refresh (ten minutes by default). Found by a 100-node simulation whose nodes
/// joined 100 ms apart.
const RECORD_SETTLE: Duration = Duration::from_secs(60);

/// What the event loop needs besides its swarm.
pub(crate) struct Parts {
    /// Signs the node's name record.
    pub(crate) identity: NodeIdentity,
    pub(crate) name: NodeName,
    pub(crate) config: FederationConfig,
    /// Where name pins are kept.
    pub(crate) pins: Store,
    /// Nodes whose traffic is refused; operators change it while the node runs.
    pub(crate) denied: DeniedNodes,
    pub(crate) counters: FederationCounters,
    pub(crate) commands: mpsc::Receiver<Command>,
    /// Where requests from other nodes go, for the node to answer.
    pub(crate) inbound: mpsc::Sender<Inbound>,
}

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    identity: NodeIdentity,
    name: NodeName,
    config: FederationConfig,
    pins: Store,
    denied: DeniedNodes,
    counters: FederationCounters,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<Inbound>,
    answers_tx: mpsc::Sender<(ResponseChannel<Response>, Response)>,
    answers: mpsc::Receiver<(ResponseChannel<Response>, Response)>,
    inbound_slots: Arc<Semaphore>,
    peers: HashMap<PeerId, KnownPeer>,
    /// Peers greeted since they last connected: a `Hello` per time a node comes back, so one that
    /// restarted learns (and wakes for) every node with events queued for it.
    greeted: HashSet<PeerId>,
    /// The nodes a name is pinned to (see `pins::pinned_peers`).
    pinned: HashSet<PeerId>,
    pending_requests: HashMap<OutboundRequestId, Pending>,
    pending_resolves: HashMap<kad::QueryId, PendingResolve>,
    /// Requests waiting for a DHT lookup of their peer.
    finding: HashMap<kad::QueryId, HeldRequest>,
    /// Each peer's token bucket: when it was last topped up and the requests it may still make.
    peer_budget: HashMap<PeerId, (tokio::time::Instant, f64)>,
    /// Name lookups sent to the DHT since the start (those answered from a pin are not).
    name_lookups: u64,
    joining: Joining,
    nat: Nat,
}

impl EventLoop {
    pub(crate) fn new(swarm: Swarm<Behaviour>, parts: Parts) -> Self {
        let (answers_tx, answers) = mpsc::channel(MAX_INBOUND_IN_FLIGHT);
        let pinned = pins::pinned_peers(&parts.pins).unwrap_or_else(|err| {
            tracing::error!(error = %err, "reading the name pins failed; greeting no node until they are set again");
            HashSet::new()
        });
        Self {
            swarm,
            identity: parts.identity,
            name: parts.name,
            config: parts.config,
            pins: parts.pins,
            denied: parts.denied,
            counters: parts.counters,
            commands: parts.commands,
            inbound: parts.inbound,
            answers_tx,
            answers,
            inbound_slots: Arc::new(Semaphore::new(MAX_INBOUND_IN_FLIGHT)),
            peers: HashMap::new(),
            greeted: HashSet::new(),
            pinned,
            pending_requests: HashMap::new(),
            pending_resolves: HashMap::new(),
            finding: HashMap::new(),
            peer_budget: HashMap::new(),
            name_lookups: 0,
            joining: Joining::default(),
            nat: Nat::default(),
        }
    }

    /// Runs until `shutdown` fires (or its sender is dropped).
    pub(crate) async fn run(mut self, mut shutdown: oneshot::Receiver<()>) {
        self.join_bootstrap_nodes();
        let mut refresh = tokio::time::interval(self.config.record_refresh_interval);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lookups = tokio::time::interval(RESOLVE_WINDOW / 4);
        lookups.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let settled = tokio::time::sleep(RECORD_SETTLE);
        tokio::pin!(settled);
        let mut republished = false;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some(command) = self.commands.recv() => self.on_command(command),
                Some((channel, response)) = self.answers.recv() => {
                    // Fails only when the peer has gone; nothing to do then.
                    let _ = self.swarm.behaviour_mut().request_response.send_response(channel, response);
                }
                _ = refresh.tick() => self.publish_record(),
                _ = &mut settled, if !republished => {
                    republished = true;
                    self.publish_record();
                }
                _ = lookups.tick() => {
                    self.decide_due_resolves();
                    self.close_replaced_connections();
                }
            }
        }
        tracing::info!("federation stopped");
    }

    fn join_bootstrap_nodes(&mut self) {
        for address in self.config.bootstrap.clone() {
            let Some(Protocol::P2p(peer)) = address.iter().last() else {
                tracing::warn!(%address, "bootstrap address lacks /p2p/<peer id>; skipped");
                continue;
            };
            let transport: Multiaddr = address.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect();
            self.swarm.add_peer_address(peer, transport.clone());
            self.swarm
                .behaviour_mut()
                .kademlia
                .add_address(&peer, transport.clone());
            self.peers.entry(peer).or_default().addresses.insert(transport);
            self.joining.dialing(peer);
            if let Err(err) = self.swarm.dial(address.clone()) {
                tracing::warn!(%address, error = %err, "dialing a bootstrap node failed");
                self.on_bootstrap_dial_failed(peer, format!("{address}: {err}"));
            }
        }
        self.join_dht();
    }

    /// The operator's bootstrap nodes, whose copies of name records are trusted over others'.
    fn bootstrap_peers(&self) -> Vec<PeerId> {
        self.config
            .bootstrap
            .iter()
            .filter_map(|address| match address.iter().last() {
                Some(Protocol::P2p(peer)) => Some(peer),
                _ => None,
            })
            .collect()
    }

    fn listen_addresses(&self) -> Vec<Multiaddr> {
        let mut addresses: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
        for external in self.swarm.external_addresses() {
            if !addresses.contains(external) {
                addresses.push(external.clone());
            }
        }
        addresses
    }

    /// Signs and (re)publishes `name -> PeerId + addresses`. The record lives six refresh periods so a
    /// missed refresh or two does not make the node unreachable.
    fn publish_record(&mut self) {
        let confirmed: Vec<Multiaddr> = self.swarm.external_addresses().cloned().collect();
        let mut addresses = self.nat.published(self.listen_addresses(), &confirmed);
        addresses.truncate(protocol::federation::MAX_RECORD_ADDRESSES);
        if addresses.is_empty() {
            return;
        }
        let lifetime = self
            .config
            .record_refresh_interval
            .saturating_mul(6)
            .max(Duration::from_secs(60));
        let record = match records::build(&self.identity, &self.name, &addresses, now(), lifetime) {
            Ok(record) => record,
            Err(err) => {
                tracing::error!(error = %err, "building the node record failed");
                return;
            }
        };
        if let Err(err) = self.swarm.behaviour_mut().kademlia.put_record(record, kad::Quorum::One) {
            tracing::warn!(error = %err, "storing the node record failed");
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::LocalNode { reply } => {
                let _ = reply.send(LocalNode {
                    name: self.name.to_string(),
                    peer_id: self.swarm.local_peer_id().to_string(),
                    listen_addresses: self.listen_addresses().iter().map(ToString::to_string).collect(),
                    name_lookups: self.name_lookups,
                    reachability: self.nat.reachability(),
                });
            }
            Command::Peers { reply } => {
                let mut peers: Vec<PeerInfo> = self
                    .peers
                    .iter()
                    .map(|(peer, known)| PeerInfo {
                        name: known.name.as_ref().map(ToString::to_string),
                        peer_id: peer.to_string(),
                        connected: self.swarm.is_connected(peer),
                        relayed: self.nat.relayed_only(peer),
                        addresses: known.addresses.iter().map(ToString::to_string).collect(),
                        // Counted by `Services::federation_peers`, off this loop.
                        outbox_depth: 0,
                    })
                    .collect();
                peers.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
                let _ = reply.send(peers);
            }
            Command::Resolve { name, reply } => {
                if name == self.name {
                    let _ = reply.send(Ok(ResolvedNode {
                        peer_id: *self.swarm.local_peer_id(),
                        addresses: self.listen_addresses(),
                    }));
                    return;
                }
                if let Some(known) = self.resolve_from_pin(&name) {
                    let _ = reply.send(Ok(known));
                    return;
                }
                self.name_lookups += 1;
                self.counters.dht_lookups.inc();
                let query = self.swarm.behaviour_mut().kademlia.get_record(records::key(&name));
                self.pending_resolves.insert(
                    query,
                    PendingResolve {
                        name,
                        reply: Resolving::Client(reply),
                        candidates: Vec::new(),
                        decide_at: None,
                    },
                );
            }
            Command::Request { peer, request, reply } => self.send_request(peer, request, reply),
            Command::Disconnect { peer } => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Join { reply } => self.on_join(reply),
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, peer_id = %self.swarm.local_peer_id(), "federation listening");
                self.publish_record();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                self.nat.on_connection(peer_id, connection_id, &endpoint);
                if self.denied.contains(&peer_id) {
                    tracing::info!(peer = %peer_id, "closing a connection from a denied node");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                self.peers.entry(peer_id).or_default();
                self.on_bootstrap_connected(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.nat.on_connection_closed(peer_id, connection_id);
                if num_established == 0 {
                    self.greeted.remove(&peer_id);
                }
            }
            SwarmEvent::ListenerClosed { listener_id, .. } => self.nat.on_listener_closed(listener_id),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, error = %error, "federation dial failed");
                if let Some(peer) = peer_id {
                    self.on_bootstrap_dial_failed(peer, joining::dial_failure(&error));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                self.on_identified(peer_id, info);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kademlia(event)) => self.on_kad_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::RequestResponse(event)) => self.on_request_response(event),
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(event)) => self.on_autonat(event),
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => self.on_relay_client(event),
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => self.on_dcutr(event),
            _ => {}
        }
    }

    fn on_identified(&mut self, peer: PeerId, info: identify::Info) {
        let speaks = |name: &str| info.protocols.iter().any(|p| p.as_ref() == name);
        self.learn_nat_helpers(peer, &info);
        let known = self.peers.entry(peer).or_default();
        known.addresses.extend(info.listen_addrs.iter().cloned());
        if speaks(KAD_PROTOCOL) {
            for address in &info.listen_addrs {
                self.swarm.behaviour_mut().kademlia.add_address(&peer, address.clone());
            }
        }
        // Bootstrap nodes speak the DHT only; of the Parley nodes, those this node federates with.
        if speaks(PROTOCOL) && self.pinned.contains(&peer) {
            self.greet(peer);
        }
    }

    /// Says `Hello` to `peer`, once while connected: each side learns the other's name, and a node
    /// with events queued for the other sends them at once (`Inbound::Named`). Only for nodes a name is
    /// pinned to: the DHT's queries connect a node to most others, and greeting each of them cost a
    /// sixth of a federation's start-up (a request, and an outbox worker woken for nothing, each).
    pub(super) fn greet(&mut self, peer: PeerId) {
        if self.greeted.insert(peer) {
            let hello = Request::Hello(crate::federation::node_info(self.name.clone()));
            let id = self.swarm.behaviour_mut().request_response.send_request(&peer, hello);
            self.pending_requests.insert(id, Pending::Hello);
        }
    }

    /// Remembers a peer's name and, since it is reachable now, tells the node (which may have work
    /// queued for it). A full inbound queue drops the notice: queued work is retried on its own anyway.
    fn learn_name(&mut self, peer: PeerId, name: NodeName) {
        let _ = self.inbound.try_send(Inbound::Named {
            peer,
            name: name.clone(),
        });
        self.peers.entry(peer).or_default().name = Some(name);
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::PutRecord {
                        source,
                        record: Some(record),
                        ..
                    },
            } => {
                let store = self.swarm.behaviour_mut().kademlia.store_mut();
                let verdict = records::validate(&record, now())
                    .and_then(|verified| records::may_replace(store.get(&record.key).as_deref(), &verified, now()));
                match verdict {
                    Ok(()) => {
                        if let Err(err) = store.put(record) {
                            tracing::warn!(error = %err, "storing a node record failed");
                        }
                    }
                    Err(err) => tracing::warn!(peer = %source, error = %err, "refused a node record"),
                }
            }
            kad::Event::RoutingUpdated { peer, addresses, .. } => {
                self.peers
                    .entry(peer)
                    .or_default()
                    .addresses
                    .extend(addresses.into_vec());
            }
            kad::Event::OutboundQueryProgressed { id, result, step, .. } => match result {
                kad::QueryResult::GetClosestPeers(result) if self.joining.is_dht_lookup(id) => {
                    self.on_dht_lookup_done(result);
                }
                kad::QueryResult::PutRecord(Err(err)) => tracing::debug!(error = %err, "node record not replicated"),
                kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(found))) => {
                    self.on_record_found(id, found.peer, found.record);
                    if step.last {
                        self.decide_resolve(id);
                    }
                }
                kad::QueryResult::GetRecord(_) => self.decide_resolve(id),
                kad::QueryResult::GetClosestPeers(result) => self.on_closest_peers(id, result),
                _ => {}
            },
            _ => {}
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
