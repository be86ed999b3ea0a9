//! Watching the deployment while the run goes on: once per interval, each node's state (up or down,
//! events waiting in its outbox, messages its users had acknowledged, copies its users had received,
//! bytes it had put on the wire, connections it held), the connections open over the whole network, and
//! now and then a DHT lookup of one node's name by another, timed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::federation::NodeName;

use super::cluster::Cluster;
use super::recorder::Recorder;
use crate::plan::Plan;

/// How often nodes are sampled.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Every this many samples, one DHT lookup is timed.
const LOOKUP_EVERY_SAMPLES: usize = 2;
/// A lookup slower than this counts as failed.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// One node at one instant.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) at: Duration,
    pub(crate) node: usize,
    pub(crate) up: bool,
    pub(crate) outbox_depth: u64,
    pub(crate) acknowledged: u64,
    pub(crate) delivered: u64,
    pub(crate) bytes_sent: u64,
    /// Connections open at the node (engine 1 only; 0 where not observed).
    pub(crate) connections: u64,
}

/// What the sampler saw.
#[derive(Default)]
pub(crate) struct Observations {
    pub(crate) samples: Vec<Sample>,
    /// Milliseconds per successful lookup.
    pub(crate) lookups_ms: Vec<f64>,
    pub(crate) failed_lookups: usize,
    /// The most connections open at once, bootstrap nodes' included, each counted once.
    pub(crate) peak_connections: u64,
}

/// Samples until aborted, into `into`.
pub(crate) async fn sample(
    cluster: Arc<Cluster>,
    plan: Arc<Plan>,
    user_nodes: Arc<Vec<usize>>,
    recorder: Arc<Recorder>,
    into: Arc<Mutex<Observations>>,
) {
    let nodes = cluster.names().len();
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    let mut round = 0usize;
    loop {
        every.tick().await;
        let at = recorder.now();
        let (acknowledged, delivered) = per_node(&plan, &user_nodes, &recorder, nodes);
        let mut bytes_sent = vec![0u64; nodes];
        for link in cluster.network().bytes() {
            if let Some(sent) = bytes_sent.get_mut(link.from) {
                *sent += link.bytes;
            }
        }
        let connections = cluster.network().open_connections();
        let mut samples = Vec::with_capacity(nodes);
        for node in 0..nodes {
            let depth = cluster
                .on_node(node, |services| async move { services.outbox_depth() })
                .await;
            samples.push(Sample {
                at,
                node,
                up: depth.is_some(),
                outbox_depth: depth.unwrap_or(0),
                acknowledged: acknowledged[node],
                delivered: delivered[node],
                bytes_sent: bytes_sent[node],
                connections: connections.get(node).map_or(0, |open| *open as u64),
            });
        }
        let lookup = if round.is_multiple_of(LOOKUP_EVERY_SAMPLES) && nodes > 1 {
            time_lookup(&cluster, round / LOOKUP_EVERY_SAMPLES).await
        } else {
            None
        };
        round += 1;
        let open = connections.iter().sum::<usize>() as u64 / 2;
        let mut seen = into.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.samples.extend(samples);
        seen.peak_connections = seen.peak_connections.max(open);
        match lookup {
            Some(Some(ms)) => seen.lookups_ms.push(ms),
            Some(None) => seen.failed_lookups += 1,
            None => {}
        }
    }
}

/// Cumulative acknowledged messages by sender node and delivered copies by recipient node;
/// `user_nodes` is each user's home node.
pub(crate) fn per_node(plan: &Plan, user_nodes: &[usize], recorder: &Recorder, nodes: usize) -> (Vec<u64>, Vec<u64>) {
    let (mut acknowledged, mut delivered) = (vec![0u64; nodes], vec![0u64; nodes]);
    for message in recorder.acknowledged() {
        acknowledged[user_nodes[plan.messages[message].sender]] += 1;
    }
    for recipient in recorder.recipients() {
        delivered[user_nodes[recipient]] += 1;
    }
    (acknowledged, delivered)
}

/// Times node `a`'s lookup of node `b`'s name (the pair walks round-robin through all pairs). `None`
/// when the asking node is down; `Some(None)` when the lookup failed.
async fn time_lookup(cluster: &Cluster, turn: usize) -> Option<Option<f64>> {
    let nodes = cluster.names().len();
    let a = turn % nodes;
    let b = (a + 1 + (turn / nodes) % (nodes - 1)) % nodes;
    let name = NodeName::new(cluster.names()[b].as_str()).ok()?;
    cluster
        .on_node(a, move |services| async move {
            let client = services.federation()?.clone();
            let started = tokio::time::Instant::now();
            let found = tokio::time::timeout(LOOKUP_TIMEOUT, client.resolve(name)).await;
            Some(matches!(found, Ok(Ok(_))).then(|| started.elapsed().as_secs_f64() * 1000.0))
        })
        .await
        .flatten()
}
