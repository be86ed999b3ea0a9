//! Being reachable from behind NAT. The operator's bootstrap nodes that serve AutoNAT tell the node
//! whether others can dial it; one that cannot becomes a DHT client (others could not reach it to ask)
//! and listens through each bootstrap node that offers to relay, so its name record names addresses
//! that work. When a node reaches it over a relay, DCUtR has both sides dial at once to punch through
//! their NATs; once a direct connection stands, the relayed one is closed (after a grace for requests
//! already on it), so requests stop taking the detour (request-response spreads them over every open
//! connection to a peer).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use libp2p::core::ConnectedPoint;
use libp2p::core::transport::ListenerId;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId, autonat, dcutr, identify, kad, multiaddr::Protocol, relay};
use serde::Serialize;

use super::EventLoop;

/// A relayed connection replaced by a direct one stays open this long, so requests already on it
/// finish rather than fail.
const RELAYED_GRACE: Duration = Duration::from_secs(2);

/// Whether other nodes can dial this one, as AutoNAT last found (`GET /v1/federation/node`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// Not probed yet, or no bootstrap node serves AutoNAT.
    #[default]
    Unknown,
    /// A bootstrap node dialled this node back.
    Public,
    /// Dials back failed: the node is behind NAT or a firewall and listens through relays.
    Private,
}

/// What the loop knows about getting through NAT.
#[derive(Default)]
pub(super) struct Nat {
    reachability: Reachability,
    /// The address each bootstrap node was last reached at, to be relayed through it the same way.
    routes: HashMap<PeerId, Multiaddr>,
    /// Bootstrap nodes that relay, and the listener through each once the node listens there.
    relays: HashMap<PeerId, Option<ListenerId>>,
    /// Open connections per peer, and whether each goes through a relay.
    connections: HashMap<PeerId, HashMap<ConnectionId, bool>>,
    /// Relayed connections to close once their grace ends (see `RELAYED_GRACE`).
    closing: Vec<(Instant, ConnectionId)>,
}

impl Nat {
    pub(super) fn reachability(&self) -> Reachability {
        self.reachability
    }

    /// Whether every connection open to `peer` goes through a relay.
    pub(super) fn relayed_only(&self, peer: &PeerId) -> bool {
        self.connections
            .get(peer)
            .is_some_and(|connections| !connections.is_empty() && connections.values().all(|relayed| *relayed))
    }

    pub(super) fn on_connection(&mut self, peer: PeerId, connection: ConnectionId, endpoint: &ConnectedPoint) {
        if let ConnectedPoint::Dialer { address, .. } = endpoint
            && !endpoint.is_relayed()
        {
            self.routes.insert(peer, address.clone());
        }
        self.connections
            .entry(peer)
            .or_default()
            .insert(connection, endpoint.is_relayed());
    }

    pub(super) fn on_connection_closed(&mut self, peer: PeerId, connection: ConnectionId) {
        if let Some(connections) = self.connections.get_mut(&peer) {
            connections.remove(&connection);
            if connections.is_empty() {
                self.connections.remove(&peer);
            }
        }
    }

    /// A relay listener ended (the relay went away): the next identify of that relay starts another.
    pub(super) fn on_listener_closed(&mut self, listener: ListenerId) {
        for slot in self.relays.values_mut() {
            if *slot == Some(listener) {
                *slot = None;
            }
        }
    }

    /// Keeps, of `addresses`, those a record should name: behind NAT, only the relayed ones and any
    /// confirmed external ones, since the private ones reach nothing from elsewhere, and a node dialling
    /// them waits out QUIC's handshake timeout before the relayed dial can start. With none of those
    /// (no relay yet), all of them: a record must name some address to be kept alive at all.
    pub(super) fn published(&self, addresses: Vec<Multiaddr>, confirmed: &[Multiaddr]) -> Vec<Multiaddr> {
        if self.reachability != Reachability::Private {
            return addresses;
        }
        let reachable: Vec<Multiaddr> = addresses
            .iter()
            .filter(|address| is_circuit(address) || confirmed.contains(address))
            .cloned()
            .collect();
        match reachable.is_empty() {
            true => addresses,
            false => reachable,
        }
    }

    /// Relayed connections replaced by a direct one whose grace has run out.
    pub(super) fn due_closings(&mut self) -> Vec<ConnectionId> {
        let now = Instant::now();
        let (due, waiting) = std::mem::take(&mut self.closing)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.closing = waiting;
        due.into_iter().map(|(_, connection)| connection).collect()
    }
}

fn is_circuit(address: &Multiaddr) -> bool {
    address.iter().any(|protocol| protocol == Protocol::P2pCircuit)
}

impl EventLoop {
    /// Notes what an identified bootstrap node offers: AutoNAT probes, relaying.
    pub(super) fn learn_nat_helpers(&mut self, peer: PeerId, info: &identify::Info) {
        if !self.bootstrap_peers().contains(&peer) {
            return;
        }
        let speaks = |name: &str| info.protocols.iter().any(|p| p.as_ref() == name);
        let route = self.nat.routes.get(&peer).cloned();
        if speaks(autonat::DEFAULT_PROTOCOL_NAME.as_ref())
            && let Some(autonat) = self.swarm.behaviour_mut().autonat.as_mut()
        {
            autonat.add_server(peer, route);
        }
        if speaks(relay::HOP_PROTOCOL_NAME.as_ref()) {
            self.nat.relays.entry(peer).or_default();
            if self.nat.reachability == Reachability::Private {
                self.listen_through(peer);
            }
        }
    }

    pub(super) fn on_autonat(&mut self, event: autonat::Event) {
        let autonat::Event::StatusChanged { new, .. } = event else {
            return;
        };
        let reachability = match new {
            autonat::NatStatus::Public(_) => Reachability::Public,
            autonat::NatStatus::Private => Reachability::Private,
            autonat::NatStatus::Unknown => Reachability::Unknown,
        };
        if reachability == self.nat.reachability {
            return;
        }
        tracing::info!(?reachability, "federation reachability changed");
        self.nat.reachability = reachability;
        match reachability {
            Reachability::Private => {
                self.swarm.behaviour_mut().kademlia.set_mode(Some(kad::Mode::Client));
                let relays: Vec<PeerId> = self.nat.relays.keys().copied().collect();
                for relay in relays {
                    self.listen_through(relay);
                }
            }
            Reachability::Public => {
                self.swarm.behaviour_mut().kademlia.set_mode(Some(kad::Mode::Server));
                for listener in self.nat.relays.values_mut().filter_map(Option::take) {
                    self.swarm.remove_listener(listener);
                }
                self.publish_record();
            }
            Reachability::Unknown => {}
        }
    }

    /// Listens through the bootstrap node `relay`, once: the relay client reserves a slot there and
    /// keeps it renewed.
    fn listen_through(&mut self, relay: PeerId) {
        let Some(route) = self.nat.routes.get(&relay).cloned() else {
            return;
        };
        let Some(listener) = self.nat.relays.get_mut(&relay) else {
            return;
        };
        if listener.is_some() {
            return;
        }
        let Ok(address) = route.with_p2p(relay) else {
            return;
        };
        let address = address.with(Protocol::P2pCircuit);
        match self.swarm.listen_on(address.clone()) {
            Ok(id) => *listener = Some(id),
            Err(err) => tracing::warn!(%address, error = %err, "listening through a relay failed"),
        }
    }

    pub(super) fn on_relay_client(&mut self, event: relay::client::Event) {
        if let relay::client::Event::ReservationReqAccepted { relay_peer_id, .. } = event {
            tracing::info!(relay = %relay_peer_id, "reachable through a relay");
        }
    }

    /// Closes the relayed connections whose grace is over.
    pub(super) fn close_replaced_connections(&mut self) {
        for connection in self.nat.due_closings() {
            self.swarm.close_connection(connection);
        }
    }

    pub(super) fn on_dcutr(&mut self, event: dcutr::Event) {
        let peer = event.remote_peer_id;
        match event.result {
            Ok(direct) => {
                tracing::info!(%peer, "hole punched: a direct connection replaces the relayed one");
                let close_at = Instant::now() + RELAYED_GRACE;
                let relayed = self
                    .nat
                    .connections
                    .get(&peer)
                    .into_iter()
                    .flatten()
                    .filter(|(id, relayed)| **relayed && **id != direct)
                    .map(|(id, _)| (close_at, *id));
                self.nat.closing.extend(relayed);
            }
            Err(err) => tracing::info!(%peer, error = %err, "hole punching failed; the connection stays relayed"),
        }
    }
}
