//! How long the federation takes to recover: after a partition heals or a crashed node restarts, the
//! time until every message acknowledged before that moment has reached all its recipients and every
//! node's outbox is empty (as sampled; so the answer is as fine as the sampling interval).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::recorder::{Delivery, SendRecord};
use super::sampler::Sample;
use crate::plan::{FaultEvent, Plan};

/// One recovery and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Convergence {
    /// What ended (`heal` or `restart node-1`).
    pub event: String,
    /// When, in seconds from the start of traffic.
    pub at_s: f64,
    /// Seconds until converged; `None` when the run ended first.
    pub converged_after_s: Option<f64>,
}

/// The convergence after every heal and restart of the timeline.
pub(crate) fn after_recoveries(
    plan: &Plan,
    names: &[String],
    sends: &[SendRecord],
    deliveries: &[Delivery],
    samples: &[Sample],
) -> Vec<Convergence> {
    plan.faults
        .iter()
        .filter_map(|timed| {
            let event = match &timed.event {
                FaultEvent::Heal => "heal".to_owned(),
                FaultEvent::Restart { node } => format!("restart {}", names[*node]),
                _ => return None,
            };
            Some(Convergence {
                event,
                at_s: timed.at.as_secs_f64(),
                converged_after_s: converged(plan, timed.at, sends, deliveries, samples)
                    .map(|at| at.saturating_sub(timed.at).as_secs_f64()),
            })
        })
        .collect()
}

/// The first moment from `since` on when the messages acknowledged before `since` are all delivered
/// and a sample shows every node up with an empty outbox.
fn converged(
    plan: &Plan,
    since: Duration,
    sends: &[SendRecord],
    deliveries: &[Delivery],
    samples: &[Sample],
) -> Option<Duration> {
    let owed: HashMap<usize, usize> = sends
        .iter()
        .enumerate()
        .filter(|(_, send)| send.acked_at.is_some_and(|at| at <= since))
        .map(|(message, _)| (message, plan.copies_owed(message)))
        .collect();
    let mut arrived: HashMap<usize, usize> = HashMap::new();
    let mut last = since;
    for delivery in deliveries {
        if let Some(count) = owed.get(&delivery.message) {
            let seen = arrived.entry(delivery.message).or_default();
            *seen += 1;
            if *seen <= *count {
                last = last.max(delivery.at);
            }
        }
    }
    if owed
        .iter()
        .any(|(message, count)| arrived.get(message).copied().unwrap_or(0) < *count)
    {
        return None;
    }
    let mut instants: Vec<Duration> = samples
        .iter()
        .map(|sample| sample.at)
        .filter(|at| *at >= since)
        .collect();
    instants.dedup();
    let quiet = instants.into_iter().find(|at| {
        samples
            .iter()
            .filter(|sample| sample.at == *at)
            .all(|sample| sample.up && sample.outbox_depth == 0)
    })?;
    Some(last.max(quiet))
}
