//! The fault timeline: what breaks, when, and for how long.

mod decode;

use std::time::Duration;

pub(crate) use decode::validate;

use super::nodes::NodeRef;

/// One entry of the timeline: a fault that starts at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// When it starts, from the start of the run.
    pub at: Duration,
    /// What happens.
    pub kind: FaultKind,
}

/// The faults a scenario can inject; each tests one way federation must cope with a hostile or broken
/// network.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// A user-hosting node stops abruptly, as on power loss.
    Crash {
        /// The node, by index in [`crate::Nodes::names`].
        node: usize,
        /// When it comes back after the crash; `None` leaves it down.
        restart_after: Option<Duration>,
    },
    /// The two sides cannot reach each other; nodes on neither side still reach both.
    Partition {
        /// Two disjoint, non-empty sets of nodes.
        sides: [Vec<NodeRef>; 2],
        /// When the partition heals after it starts; `None` leaves it.
        heal_after: Option<Duration>,
    },
    /// Links degrade: new latency, jitter or loss replaces the scenario's.
    Link {
        /// Which links change.
        between: LinkScope,
        /// The new values; what is `None` keeps its value.
        change: LinkChange,
        /// When the scenario's values come back after the change; `None` keeps the change.
        restore_after: Option<Duration>,
    },
    /// A bootstrap node goes away, so new or restarting nodes must find peers without it.
    BootstrapDown {
        /// The bootstrap node, by index in [`crate::Nodes::bootstrap`].
        bootstrap: usize,
        /// When it comes back; `None` leaves it down.
        restore_after: Option<Duration>,
    },
    /// A node turned hostile sends requests to another as fast as it can, to test rate limits.
    Flood {
        /// The attacker, by index in [`crate::Nodes::names`].
        node: usize,
        /// The victim, by index in [`crate::Nodes::names`].
        target: usize,
        /// Requests per second.
        rate: f64,
        /// How long the flood lasts.
        lasting: Duration,
    },
    /// A node turned hostile sends envelopes with forged origins, which the target must reject.
    Forge {
        /// The attacker, by index in [`crate::Nodes::names`].
        node: usize,
        /// The victim, by index in [`crate::Nodes::names`].
        target: usize,
        /// Envelopes sent at once.
        count: u32,
    },
}

/// The links a link fault changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkScope {
    /// Every link (`between = "*"`).
    All,
    /// The link between two nodes, both ways.
    Between(NodeRef, NodeRef),
}

/// New link values; `None` keeps the current one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkChange {
    /// New one-way latency.
    pub latency: Option<Duration>,
    /// New jitter.
    pub jitter: Option<Duration>,
    /// New loss probability, 0..=1.
    pub loss: Option<f64>,
}

impl Fault {
    /// When the fault's effect ends: `None` if it lasts to the end of the run; `at` itself for a
    /// forge, which is one burst.
    pub fn ends(&self) -> Option<Duration> {
        let after = match &self.kind {
            FaultKind::Crash {
                restart_after: after, ..
            }
            | FaultKind::Partition { heal_after: after, .. }
            | FaultKind::Link {
                restore_after: after, ..
            }
            | FaultKind::BootstrapDown {
                restore_after: after, ..
            } => *after,
            FaultKind::Flood { lasting, .. } => Some(*lasting),
            FaultKind::Forge { .. } => Some(Duration::ZERO),
        };
        after.map(|after| self.at + after)
    }

    /// Whether `self` and `other` act on the same thing, so they must not be in force at once: two
    /// crashes of a node, two partitions, two changes of one link, two floods of one pair.
    pub(crate) fn conflicts_with(&self, other: &Fault) -> bool {
        use FaultKind::*;
        match (&self.kind, &other.kind) {
            (Crash { node: a, .. }, Crash { node: b, .. }) => a == b,
            (Partition { .. }, Partition { .. }) => true,
            (Link { between: a, .. }, Link { between: b, .. }) => a.overlaps(b),
            (BootstrapDown { bootstrap: a, .. }, BootstrapDown { bootstrap: b, .. }) => a == b,
            (Flood { node: a, target: x, .. }, Flood { node: b, target: y, .. }) => (a, x) == (b, y),
            _ => false,
        }
    }

    /// Whether the two are in force at a common instant.
    pub(crate) fn overlaps(&self, other: &Fault) -> bool {
        let before = |fault: &Fault, instant: Duration| fault.ends().is_some_and(|end| end <= instant);
        !before(self, other.at) && !before(other, self.at)
    }
}

impl LinkScope {
    fn overlaps(&self, other: &LinkScope) -> bool {
        match (self, other) {
            (LinkScope::Between(a, b), LinkScope::Between(c, d)) => (a, b) == (c, d) || (a, b) == (d, c),
            _ => true,
        }
    }
}
