//! The fault timeline as events: each fault's start and, if it comes before the end of the run, its
//! end, in time order, which is how an engine consumes it.

use std::time::Duration;

use crate::scenario::{Fault, FaultKind, LinkChange, LinkScope, NodeRef};

/// One event of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    /// When it happens, from the start of the run.
    pub at: Duration,
    /// The entry of [`crate::Scenario::faults`] it comes from, to report which fault a result follows.
    pub fault: usize,
    /// What happens.
    pub event: FaultEvent,
}

/// A change an engine applies to the simulated deployment. Node indices are into
/// [`crate::Nodes::names`], bootstrap indices into [`crate::Nodes::bootstrap`].
#[derive(Debug, Clone, PartialEq)]
pub enum FaultEvent {
    /// Stop the node abruptly.
    Crash {
        /// The node.
        node: usize,
    },
    /// Start the crashed node again, on its old data.
    Restart {
        /// The node.
        node: usize,
    },
    /// Cut every link between the two sides.
    Partition {
        /// Two disjoint sets of nodes.
        sides: [Vec<NodeRef>; 2],
    },
    /// Restore the links the partition in force cut (partitions never overlap).
    Heal,
    /// Change links' values from now on.
    SetLink {
        /// The links.
        between: LinkScope,
        /// The new values; `None` keeps the current one.
        change: LinkChange,
    },
    /// Give the links back the scenario's values.
    RestoreLink {
        /// The links.
        between: LinkScope,
    },
    /// Stop the bootstrap node.
    BootstrapDown {
        /// The bootstrap node.
        bootstrap: usize,
    },
    /// Start the bootstrap node again.
    BootstrapUp {
        /// The bootstrap node.
        bootstrap: usize,
    },
    /// Have `node` send requests to `target` at `rate` per second.
    FloodStart {
        /// The attacker.
        node: usize,
        /// The victim.
        target: usize,
        /// Requests per second.
        rate: f64,
    },
    /// Stop the flood.
    FloodStop {
        /// The attacker.
        node: usize,
        /// The victim.
        target: usize,
    },
    /// Have `node` send `count` envelopes with forged origins to `target`, at once.
    Forge {
        /// The attacker.
        node: usize,
        /// The victim.
        target: usize,
        /// How many envelopes.
        count: u32,
    },
}

/// Flattens the timeline. Ends at or after `duration` are dropped, as the run stops first. At one
/// instant ends come before starts, so a node restarted and crashed again at the same time ends down.
pub(super) fn flatten(faults: &[Fault], duration: Duration) -> Vec<TimedFault> {
    let mut events = Vec::with_capacity(faults.len() * 2);
    for (index, fault) in faults.iter().enumerate() {
        let (start, end) = events_of(&fault.kind);
        events.push((
            fault.at,
            1,
            TimedFault {
                at: fault.at,
                fault: index,
                event: start,
            },
        ));
        if let (Some(end), Some(at)) = (end, fault.ends())
            && at < duration
        {
            events.push((
                at,
                0,
                TimedFault {
                    at,
                    fault: index,
                    event: end,
                },
            ));
        }
    }
    events.sort_by_key(|(at, order, event)| (*at, *order, event.fault));
    events.into_iter().map(|(_, _, event)| event).collect()
}

/// The events that start and end a fault; a forge has no end.
fn events_of(kind: &FaultKind) -> (FaultEvent, Option<FaultEvent>) {
    match kind {
        &FaultKind::Crash { node, .. } => (FaultEvent::Crash { node }, Some(FaultEvent::Restart { node })),
        FaultKind::Partition { sides, .. } => (FaultEvent::Partition { sides: sides.clone() }, Some(FaultEvent::Heal)),
        &FaultKind::Link { between, change, .. } => (
            FaultEvent::SetLink { between, change },
            Some(FaultEvent::RestoreLink { between }),
        ),
        &FaultKind::BootstrapDown { bootstrap, .. } => (
            FaultEvent::BootstrapDown { bootstrap },
            Some(FaultEvent::BootstrapUp { bootstrap }),
        ),
        &FaultKind::Flood { node, target, rate, .. } => (
            FaultEvent::FloodStart { node, target, rate },
            Some(FaultEvent::FloodStop { node, target }),
        ),
        &FaultKind::Forge { node, target, count } => (FaultEvent::Forge { node, target, count }, None),
    }
}
