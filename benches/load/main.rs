//! Load benchmark: one Parley node served in-process on 127.0.0.1 (real sockets, sled on disk in a
//! temp dir), one sender and two recipient users in a GROUP, both recipients connected over the
//! WebSocket. Three modes are measured, each with `PARLEY_BENCH_MESSAGES` messages (default 2000):
//!
//! 1. `REST -> WS`: the sender posts `POST /v1/messages` with a fixed number of concurrent senders.
//! 2. `WS -> WS`: the sender pipelines `message:send` frames on its own socket with a bounded window.
//! 3. `REST -> federation -> WS`: a bootstrap node and two federated nodes, `node-a` and `node-b`, also
//!    in-process (libp2p over loopback QUIC), are started for this mode only. `ann` on node A posts, with
//!    the same concurrency as mode 1, into a DM with `bob@node-b` that node A hosts; node A stores each
//!    message and relays it through its outbox to node B, which pushes it to bob's WebSocket on node B.
//!    The federation settings other than names and addresses are the defaults, so node B's per-peer
//!    budget (`peer_requests_per_minute`; each `Deliver` batch is one request) applies: at this load
//!    batches average about 6 events, so a run of more than about 6 x budget messages exhausts it and
//!    times out while node A's outbox backs off.
//!
//! Latency runs from just before the send to the moment a recipient's socket yields the matching
//! `message:new` (matched by `client_message_id`). CPU time is read from `/proc/self/stat` (utime +
//! stime, assuming 100 clock ticks per second as on Linux); the node and the load generator share
//! this process, so the process total includes both. The load generator runs on its own runtime whose
//! threads are named `bench-client`, which gives a split estimate from `/proc/self/task/*/stat`.
//!
//! Run with `cargo bench --bench load`. Every wait is bounded (`PARLEY_BENCH_TIMEOUT_SECS` per mode,
//! default 45); a timeout reports what is missing and exits non-zero. `PARLEY_BENCH_LOG` (a tracing
//! filter, e.g. `node::federation=debug`) logs the nodes to stderr; off by default, as it costs CPU.

mod api;
mod drivers;
mod nodes;
mod report;
mod setup;
mod workload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{STEP_TIMEOUT, connect_synced, post_json, register};
use crate::drivers::{receive, run_rest, run_ws};
use crate::nodes::{Federation, NODE_A, NODE_B, node_config, start_node};
use crate::report::{CLIENT_THREAD, Cpu, Stats, cpu_now, print_report, summarise};
use crate::setup::{Setup, prepare_federation};
use crate::workload::{CIPHERTEXT_BYTES, FEDERATED_SLOT, Mode, RECIPIENTS, SLOTS, Tracker, slot_name, wait_delivered};

/// Messages per mode unless `PARLEY_BENCH_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: usize = 2000;
/// Seconds each mode may take (sending plus delivery) unless `PARLEY_BENCH_TIMEOUT_SECS` says otherwise.
const DEFAULT_MODE_TIMEOUT_SECS: u64 = 45;

/// The client side of the bench, on the load generator's runtime. `node_rt` runs the nodes; the
/// federated mode's nodes are started on it (data under `data_dir`) only when that mode begins.
async fn bench(
    addr: SocketAddr,
    node_rt: tokio::runtime::Handle,
    data_dir: std::path::PathBuf,
    per_mode: usize,
    mode_timeout: Duration,
) -> Result<(Vec<Stats>, bool), String> {
    let base = format!("http://{addr}");
    let ws_base = format!("ws://{addr}");
    let http = reqwest::Client::builder()
        .timeout(STEP_TIMEOUT)
        .build()
        .map_err(|err| err.to_string())?;

    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let sender = register(&http, &base, &format!("sender{suffix}")).await?;
    let mut recipients = Vec::with_capacity(RECIPIENTS);
    for r in 0..RECIPIENTS {
        recipients.push(register(&http, &base, &format!("recipient{r}{suffix}")).await?);
    }
    let participants: Vec<&str> = recipients.iter().map(|r| r.user_id.as_str()).collect();
    let conversation = post_json(
        &http,
        &format!("{base}/v1/conversations"),
        Some(&sender.token),
        &json!({ "type": "GROUP", "subject": "load bench", "participants": participants }),
    )
    .await?;
    let conversation_id = conversation["id"]
        .as_str()
        .ok_or_else(|| format!("no conversation id in {conversation}"))?
        .to_owned();

    let ciphertexts: Vec<Value> = recipients
        .iter()
        .enumerate()
        .map(|(r, recipient)| {
            let bytes: Vec<u8> = (0..CIPHERTEXT_BYTES).map(|b| (b * 31 + r * 7) as u8).collect();
            json!({
                "recipient_device_id": recipient.device_id,
                "ciphertext": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
            })
        })
        .collect();
    let body_prefix = Setup::body_prefix(&conversation_id, &Value::Array(ciphertexts));
    let local = Arc::new(Setup {
        base,
        ws_base,
        http: http.clone(),
        sender_token: sender.token,
        body_prefix,
    });

    let tracker = Arc::new(Tracker::new(per_mode));
    let mut readers = Vec::with_capacity(SLOTS);
    for (r, recipient) in recipients.iter().enumerate() {
        let socket = connect_synced(&local.ws_base, &recipient.token, &slot_name(r)).await?;
        readers.push(tokio::spawn(receive(socket, r, tracker.clone())));
    }

    let mut stats = Vec::new();
    let mut ok = true;
    let mut federation = None;
    for mode in Mode::ALL {
        let setup = match mode {
            Mode::Rest | Mode::Ws => local.clone(),
            Mode::Federated => {
                eprintln!("[fed] starting a bootstrap node, {NODE_A} and {NODE_B} on loopback QUIC");
                let prepared = match node_rt.spawn(Federation::start(data_dir.clone())).await {
                    Ok(Ok(started)) => {
                        let prepared = prepare_federation(&started, &http).await;
                        federation = Some(started);
                        prepared
                    }
                    Ok(Err(err)) => Err(err),
                    Err(err) => Err(format!("starting the federation panicked: {err}")),
                };
                match prepared {
                    Ok((setup, socket)) => {
                        readers.push(tokio::spawn(receive(socket, FEDERATED_SLOT, tracker.clone())));
                        Arc::new(setup)
                    }
                    Err(err) => {
                        eprintln!("[fed] setup failed: {err}");
                        ok = false;
                        break;
                    }
                }
            }
        };
        eprintln!("[{}] sending {per_mode} messages", mode.tag());
        let deadline = tokio::time::Instant::now() + mode_timeout;
        let before = cpu_now();
        let sent = match mode {
            Mode::Rest | Mode::Federated => run_rest(mode, &setup, &tracker, deadline).await,
            Mode::Ws => run_ws(&setup, &tracker, deadline).await,
        };
        if let Err(err) = &sent {
            eprintln!("[{}] sending failed: {err}", mode.tag());
        }
        let delivered = sent.is_ok() && wait_delivered(&tracker, mode, deadline).await;
        let after = cpu_now();
        if !delivered {
            ok = false;
            for slot in mode.recipients() {
                let got = tracker.delivered[slot][mode.index()].load(Ordering::Acquire);
                eprintln!(
                    "[{}] TIMEOUT after {mode_timeout:?}: {} is missing {} of {} messages",
                    mode.tag(),
                    slot_name(slot),
                    tracker.expected(mode).saturating_sub(got),
                    tracker.expected(mode)
                );
            }
        }
        if tracker.send_failures[mode.index()].load(Ordering::Acquire) > 0 {
            ok = false;
        }
        let cpu = Cpu {
            process: after.process - before.process,
            client: after.client - before.client,
        };
        stats.push(summarise(&tracker, mode, cpu));
        eprintln!(
            "[{}] done: {} messages fully delivered",
            mode.tag(),
            tracker.delivered_to_all(mode)
        );
        if !delivered {
            break;
        }
    }
    for reader in readers {
        reader.abort();
    }
    if let Some(federation) = federation {
        federation.shutdown().await;
    }
    let (duplicates, unexpected, errors) = (
        tracker.duplicates.load(Ordering::Relaxed),
        tracker.unexpected.load(Ordering::Relaxed),
        tracker.socket_errors.load(Ordering::Relaxed),
    );
    if duplicates + unexpected + errors > 0 {
        eprintln!(
            "anomalies: {duplicates} duplicate message:new, {unexpected} message:new for unknown client ids, \
             {errors} error/unparseable frames"
        );
    }
    Ok((stats, ok))
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text} is not a number")),
        Err(_) => Ok(default),
    }
}

fn run() -> Result<bool, String> {
    let per_mode: usize = env_number("PARLEY_BENCH_MESSAGES", DEFAULT_MESSAGES)?;
    if per_mode == 0 {
        return Err("PARLEY_BENCH_MESSAGES must be at least 1".to_owned());
    }
    let mode_timeout = Duration::from_secs(env_number("PARLEY_BENCH_TIMEOUT_SECS", DEFAULT_MODE_TIMEOUT_SECS)?);
    if let Ok(filter) = std::env::var("PARLEY_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }

    let dir = tempfile::tempdir().map_err(|err| format!("temp dir: {err}"))?;
    let data_dir = dir.path().display().to_string();
    let node_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("parley-node")
        .build()
        .map_err(|err| err.to_string())?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(CLIENT_THREAD)
        // Keep the load generator's threads alive so their CPU time stays countable.
        .thread_keep_alive(Duration::from_secs(3600))
        .build()
        .map_err(|err| err.to_string())?;

    let local = node_rt.block_on(start_node(node_config(dir.path()), false))?;
    let addr = local.addr;
    eprintln!("node listening on {addr}, data in {data_dir}");

    // The bench runs on a worker of the client runtime, so the main thread stays idle.
    let outcome = client_rt
        .block_on(client_rt.spawn(bench(
            addr,
            node_rt.handle().clone(),
            dir.path().join("federation"),
            per_mode,
            mode_timeout,
        )))
        .unwrap_or_else(|err| Err(format!("bench task failed: {err}")));

    node_rt.block_on(local.shutdown());
    client_rt.shutdown_timeout(Duration::from_secs(2));
    node_rt.shutdown_timeout(Duration::from_secs(2));

    let (stats, ok) = outcome?;
    print_report(&stats, per_mode, &data_dir);
    drop(dir);
    Ok(ok)
}

fn main() {
    let code = match run() {
        Ok(true) => 0,
        Ok(false) => {
            eprintln!("load bench: FAILED (see timeouts / refused sends above)");
            1
        }
        Err(err) => {
            eprintln!("load bench failed: {err}");
            1
        }
    };
    std::process::exit(code);
}
