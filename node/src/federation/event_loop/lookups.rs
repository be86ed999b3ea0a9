//! Name lookups: a lookup collects the valid copies of a name's record the DHT returns, then decides
//! who holds the name (see `records::choose`), pins it and dials it.

use libp2p::PeerId;
use libp2p::kad;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use protocol::federation::NodeName;
use std::time::Duration;
use tokio::sync::oneshot;

use super::{EventLoop, joining, now};
use crate::federation::{Error, Joined, ResolvedNode, pins, records};

/// A name lookup under way: the valid records found so far (one per copy) and when to decide.
pub(super) struct PendingResolve {
    pub(super) name: NodeName,
    pub(super) reply: Resolving,
    pub(super) candidates: Vec<records::FoundCopy>,
    pub(super) decide_at: Option<tokio::time::Instant>,
}

/// Who waits for a lookup.
pub(super) enum Resolving {
    /// A client, for a node to talk to: the holder is pinned, dialled and handed back.
    Client(oneshot::Sender<Result<ResolvedNode, Error>>),
    /// The check of this node's own name at start (`joining`): the holder is only reported.
    OwnName(oneshot::Sender<Joined>),
}

/// A lookup decides when the DHT query ends, or this long after the first valid copy arrived, so one
/// fast answer (an impostor's own copy) cannot decide alone.
pub(super) const RESOLVE_WINDOW: Duration = Duration::from_secs(2);

impl EventLoop {
    /// Keeps a valid copy of the record a lookup is after.
    pub(super) fn on_record_found(&mut self, query: kad::QueryId, source: Option<PeerId>, record: kad::Record) {
        let Some(pending) = self.pending_resolves.get_mut(&query) else {
            return;
        };
        match records::validate(&record, now()) {
            Ok(verified) if verified.name == pending.name => {
                pending.candidates.push(records::FoundCopy {
                    source,
                    record: verified,
                });
                pending
                    .decide_at
                    .get_or_insert_with(|| tokio::time::Instant::now() + RESOLVE_WINDOW);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(name = %pending.name, error = %err, "ignored an invalid node record"),
        }
    }

    /// The pinned holder of `name` when this node is connected to it now: the connection has
    /// authenticated the holder and a DHT query could only confirm the pin, so the lookup costs
    /// nothing. `None` sends the lookup to the DHT.
    pub(super) fn resolve_from_pin(&self, name: &NodeName) -> Option<ResolvedNode> {
        let (peer, until) = pins::get(&self.pins, name).ok().flatten()?;
        if until <= now() || !self.swarm.is_connected(&peer) {
            return None;
        }
        let addresses = self
            .peers
            .get(&peer)
            .map(|known| known.addresses.iter().cloned().collect())
            .unwrap_or_default();
        Some(ResolvedNode {
            peer_id: peer,
            addresses,
        })
    }

    pub(super) fn decide_due_resolves(&mut self) {
        let now = tokio::time::Instant::now();
        let due: Vec<kad::QueryId> = self
            .pending_resolves
            .iter()
            .filter(|(_, pending)| pending.decide_at.is_some_and(|at| at <= now))
            .map(|(query, _)| *query)
            .collect();
        for query in due {
            self.decide_resolve(query);
        }
    }

    /// Ends a lookup: picks the name's holder among the copies found (see `records::choose`), pins it,
    /// dials it and answers; fails when nothing valid (or only contradictions of a live pin) was found.
    pub(super) fn decide_resolve(&mut self, query: kad::QueryId) {
        let Some(pending) = self.pending_resolves.remove(&query) else {
            return;
        };
        if let Some(mut running) = self.swarm.behaviour_mut().kademlia.query_mut(&query) {
            running.finish();
        }
        let pinned = pins::get(&self.pins, &pending.name).ok().flatten();
        let anchors = self.bootstrap_peers();
        let chosen = records::choose(&pending.candidates, pinned, &anchors, now()).cloned();
        let reply = match pending.reply {
            Resolving::Client(reply) => reply,
            Resolving::OwnName(reply) => {
                let holder = chosen.map(|chosen| chosen.peer_id);
                let _ = reply.send(joining::own_name_verdict(holder, *self.swarm.local_peer_id()));
                return;
            }
        };
        let Some(chosen) = chosen else {
            if !pending.candidates.is_empty() {
                tracing::warn!(name = %pending.name, "only records of another node than the name's holder were found");
            }
            let _ = reply.send(Err(Error::UnknownNode(pending.name.to_string())));
            return;
        };
        if let Err(err) = pins::set(&self.pins, &pending.name, chosen.peer_id, chosen.expires_at) {
            tracing::warn!(name = %pending.name, error = %err, "pinning a node name failed");
        }
        let peer = chosen.peer_id;
        self.pinned.insert(peer);
        let known = self.peers.entry(peer).or_default();
        known.name = Some(chosen.name.clone());
        known.addresses.extend(chosen.addresses.iter().cloned());
        for address in &chosen.addresses {
            self.swarm.add_peer_address(peer, address.clone());
        }
        if self.swarm.is_connected(&peer) {
            self.greet(peer);
        } else {
            // Even while another dial to it is under way: that one may be trying addresses the node
            // no longer has (a node that found itself behind NAT now names its relays instead), and a
            // request waiting for the peer goes out on whichever connection comes first.
            let dial = DialOpts::peer_id(peer)
                .condition(PeerCondition::Disconnected)
                .addresses(chosen.addresses.clone())
                .build();
            if let Err(err) = self.swarm.dial(dial) {
                tracing::debug!(%peer, error = %err, "dialing a resolved node failed");
            }
        }
        let _ = reply.send(Ok(ResolvedNode {
            peer_id: peer,
            addresses: chosen.addresses,
        }));
    }
}
