//! Watching real nodes while the driver runs: once a second, for each node, whether it answers
//! `GET /health`, the events its outbox holds (the sum of `outbox_depth` over `GET
//! /v1/federation/peers`, asked as one of its users), and what the clients' record says its users had
//! acknowledged and received. Bytes on the wire cannot be seen from here: real QUIC is encrypted and the
//! driver is not on the path, so they are 0.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::Client;
use futures_util::future::join_all;

use super::Shared;
use crate::engine::{SAMPLE_EVERY, Sample, per_node};

/// A probe slower than this counts as no answer: a sample must not outlast its second by much.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Samples every node until aborted, into `into`. `urls` and `user_nodes` are by node and by user.
pub(super) async fn sample(
    urls: Vec<String>,
    shared: Arc<Shared>,
    user_nodes: Arc<Vec<usize>>,
    into: Arc<Mutex<Vec<Sample>>>,
) {
    let http = match reqwest::Client::builder().timeout(PROBE_TIMEOUT).build() {
        Ok(http) => http,
        Err(err) => {
            tracing::error!(error = %err, "no HTTP client; nodes are not sampled");
            return;
        }
    };
    // Each node is asked about its peers by its first user (every node hosts at least one).
    let observers: Vec<Option<&Client>> = (0..urls.len())
        .map(|node| {
            user_nodes
                .iter()
                .position(|home| *home == node)
                .map(|user| &shared.clients[user])
        })
        .collect();
    // An outbox whose depth could not be read is taken to hold what it held last.
    let mut depths = vec![0u64; urls.len()];
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let at = shared.recorder.now();
        let (acknowledged, delivered) = per_node(&shared.plan, &user_nodes, &shared.recorder, urls.len());
        let probes = urls
            .iter()
            .zip(&observers)
            .map(|(url, observer)| probe(&http, url, *observer));
        let answers = join_all(probes).await;
        let mut samples = Vec::with_capacity(urls.len());
        for (node, (up, depth)) in answers.into_iter().enumerate() {
            if let Some(depth) = depth {
                depths[node] = depth;
            }
            samples.push(Sample {
                at,
                node,
                up,
                outbox_depth: depths[node],
                acknowledged: acknowledged[node],
                delivered: delivered[node],
                bytes_sent: 0,
                connections: 0,
            });
        }
        into.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(samples);
    }
}

/// Whether the node at `url` is healthy, and its outbox depth when it could be read.
async fn probe(http: &reqwest::Client, url: &str, observer: Option<&Client>) -> (bool, Option<u64>) {
    let health = http.get(format!("{url}/health")).send().await;
    if !health.is_ok_and(|answer| answer.status().is_success()) {
        return (false, None);
    }
    let Some(observer) = observer else {
        return (true, None);
    };
    match tokio::time::timeout(PROBE_TIMEOUT, observer.federation_peers()).await {
        Ok(Ok(peers)) => (true, Some(peers.iter().map(|peer| peer.outbox_depth).sum())),
        _ => (true, None),
    }
}
