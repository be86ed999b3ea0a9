//! Joining the federation, as `parley node` reports it before it says it serves: whether one of the
//! operator's bootstrap nodes answered (or why none did), then whether another node already holds this
//! node's name, found by looking the name up as any node would.

use std::collections::HashMap;

use libp2p::{PeerId, kad};
use tokio::sync::oneshot;

use super::EventLoop;
use super::lookups::{PendingResolve, Resolving};
use crate::federation::{Joined, records};

/// The bootstrap nodes' answers so far, and who waits for them.
#[derive(Default)]
pub(super) struct Joining {
    /// Per bootstrap node: the dials started to it at start, and the failures that came back.
    dials: HashMap<PeerId, (usize, Vec<String>)>,
    reached: bool,
    waiting: Vec<oneshot::Sender<Joined>>,
    /// The lookup of this node's own key that enters it into the DHT, while it runs.
    dht_lookup: Option<kad::QueryId>,
    /// That lookup reached another node: the record has been published to the nodes closest to
    /// its key, and a lookup is not started again.
    in_dht: bool,
}

impl Joining {
    /// Counts a dial started to a bootstrap node.
    pub(super) fn dialing(&mut self, peer: PeerId) {
        self.dials.entry(peer).or_default().0 += 1;
    }

    /// Every bootstrap node failed as many dials as were started to it (a dial the DHT made to one
    /// tried all its addresses, so counting it too only settles the question sooner).
    fn all_failed(&self) -> bool {
        !self.reached
            && self
                .dials
                .values()
                .all(|(started, failures)| failures.len() >= *started)
    }

    pub(super) fn is_dht_lookup(&self, query: kad::QueryId) -> bool {
        self.dht_lookup == Some(query)
    }

    fn failures(&self) -> String {
        let mut failures: Vec<&String> = self.dials.values().flat_map(|(_, failures)| failures).collect();
        failures.sort();
        failures.dedup();
        failures.into_iter().cloned().collect::<Vec<_>>().join("; ")
    }
}

impl EventLoop {
    /// Answers once joining is settled: at once without bootstrap nodes or when all of them failed,
    /// after the check of this node's name once one answered.
    pub(super) fn on_join(&mut self, reply: oneshot::Sender<Joined>) {
        if self.joining.dials.is_empty() {
            let _ = reply.send(Joined::Alone);
        } else if self.joining.reached {
            self.check_own_name(reply);
        } else if self.joining.all_failed() {
            let _ = reply.send(Joined::Unreachable(self.joining.failures()));
        } else {
            self.joining.waiting.push(reply);
        }
    }

    /// Enters the DHT with a lookup of this node's own key, which fills the routing table with the
    /// nodes around it and puts this node in theirs: the join Kademlia's paper describes, without its
    /// refresh of every farther bucket. That refresh is a dozen more lookups asking a few hundred
    /// nodes, each over a connection held until idle; Kademlia's automatic bootstrap ran it for every
    /// joining node (its routing table was small), and a federation's start was mostly that
    /// (docs/ARCHITECTURE.md). The farther buckets fill from other nodes' lookups and the periodic
    /// refresh.
    pub(super) fn join_dht(&mut self) {
        let local = *self.swarm.local_peer_id();
        self.joining.dht_lookup = Some(self.swarm.behaviour_mut().kademlia.get_closest_peers(local));
    }

    /// Publishes this node's record once the lookup reached someone, so the record goes to the nodes
    /// closest to its key; a lookup that reached no one is tried again when a bootstrap node connects.
    pub(super) fn on_dht_lookup_done(&mut self, result: kad::GetClosestPeersResult) {
        self.joining.dht_lookup = None;
        let reached = match result {
            Ok(kad::GetClosestPeersOk { peers, .. }) | Err(kad::GetClosestPeersError::Timeout { peers, .. }) => {
                !peers.is_empty()
            }
        };
        if reached && !self.joining.in_dht {
            self.joining.in_dht = true;
            self.publish_record();
        }
    }

    pub(super) fn on_bootstrap_connected(&mut self, peer: PeerId) {
        if !self.joining.dials.contains_key(&peer) {
            return;
        }
        if !self.joining.in_dht && self.joining.dht_lookup.is_none() {
            self.join_dht();
        }
        if self.joining.reached {
            return;
        }
        self.joining.reached = true;
        for reply in std::mem::take(&mut self.joining.waiting) {
            self.check_own_name(reply);
        }
    }

    pub(super) fn on_bootstrap_dial_failed(&mut self, peer: PeerId, error: String) {
        let Some((_, failures)) = self.joining.dials.get_mut(&peer) else {
            return;
        };
        failures.push(error);
        if self.joining.all_failed() {
            let failures = self.joining.failures();
            for reply in std::mem::take(&mut self.joining.waiting) {
                let _ = reply.send(Joined::Unreachable(failures.clone()));
            }
        }
    }

    /// Looks this node's own name up in the DHT, as another node would before talking to it.
    fn check_own_name(&mut self, reply: oneshot::Sender<Joined>) {
        let query = self.swarm.behaviour_mut().kademlia.get_record(records::key(&self.name));
        self.pending_resolves.insert(
            query,
            PendingResolve {
                name: self.name.clone(),
                reply: Resolving::OwnName(reply),
                candidates: Vec::new(),
                decide_at: None,
            },
        );
    }
}

/// What the lookup of this node's own name decided: joined, unless the name's holder is another node.
pub(super) fn own_name_verdict(chosen: Option<PeerId>, local: PeerId) -> Joined {
    match chosen {
        Some(holder) if holder != local => Joined::NameTaken(holder),
        _ => Joined::Joined,
    }
}

/// A failed dial in one line: libp2p's own text for a transport failure names neither the address
/// nor the reason, which are inside it.
pub(super) fn dial_failure(error: &libp2p::swarm::DialError) -> String {
    match error {
        libp2p::swarm::DialError::Transport(attempts) => attempts
            .iter()
            .map(|(address, err)| {
                // Each layer wraps the one below and often repeats (or hides) its text: keep each
                // text once.
                let mut reason = err.to_string();
                let mut source = std::error::Error::source(err);
                while let Some(cause) = source {
                    let text = cause.to_string();
                    if !text.is_empty() && !reason.contains(&text) {
                        reason = if reason.is_empty() {
                            text
                        } else {
                            format!("{reason}: {text}")
                        };
                    }
                    source = cause.source();
                }
                format!("{address}: {reason}")
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
