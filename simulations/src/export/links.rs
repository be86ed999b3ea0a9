//! The links as they change over the run: each pair of hosts starts with the scenario's link, and `link`
//! faults replace its latency, jitter or loss for a while. Both targets shape each pair with one rule
//! whose values they replace at these times, rather than stacking a fault on top of the base link, so
//! a pair is always shaped exactly as the in-process engine's network is at that moment.

use std::time::Duration;

use super::deployment::Deployment;
use crate::plan::{FaultEvent, TimedFault};
use crate::scenario::{Link, LinkChange, LinkScope};

/// How long faults that last "to the end of the run" stay in force past `duration`: the driver keeps
/// waiting for deliveries after the last send (its drain), and the network must not heal under it.
pub(super) const AFTER_RUN: Duration = Duration::from_secs(3600);

/// A link value from `start` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Segment {
    pub(super) start: Duration,
    pub(super) link: Link,
}

/// The scenario's link with a fault's changes applied, as the engine applies them.
pub(super) fn changed(base: Link, change: &LinkChange) -> Link {
    Link {
        latency: change.latency.unwrap_or(base.latency),
        jitter: change.jitter.unwrap_or(base.jitter),
        loss: change.loss.unwrap_or(base.loss),
        ..base
    }
}

/// Whether a link fault's scope covers the pair of hosts `(a, b)`.
pub(super) fn covers(deployment: &Deployment, scope: &LinkScope, (a, b): (usize, usize)) -> bool {
    match scope {
        LinkScope::All => true,
        LinkScope::Between(x, y) => {
            let (x, y) = (&deployment.host(*x).name, &deployment.host(*y).name);
            let (a, b) = (&deployment.hosts[a].name, &deployment.hosts[b].name);
            (x, y) == (a, b) || (x, y) == (b, a)
        }
    }
}

/// Whether any link fault changes the pair.
pub(super) fn touched(deployment: &Deployment, timeline: &[TimedFault], pair: (usize, usize)) -> bool {
    timeline.iter().any(|timed| match &timed.event {
        FaultEvent::SetLink { between, .. } => covers(deployment, between, pair),
        _ => false,
    })
}

/// The pair's link over the run, from 0: a segment per change, none empty, each until the next.
pub(super) fn segments(deployment: &Deployment, timeline: &[TimedFault], (a, b): (usize, usize)) -> Vec<Segment> {
    let base = deployment.link(&deployment.hosts[a], &deployment.hosts[b]);
    let mut segments = vec![Segment {
        start: Duration::ZERO,
        link: base,
    }];
    for timed in timeline {
        let link = match &timed.event {
            FaultEvent::SetLink { between, change } if covers(deployment, between, (a, b)) => changed(base, change),
            FaultEvent::RestoreLink { between } if covers(deployment, between, (a, b)) => base,
            _ => continue,
        };
        let segment = Segment { start: timed.at, link };
        match segments.last_mut() {
            Some(last) if last.start == timed.at => *last = segment,
            _ => segments.push(segment),
        }
    }
    segments
}
