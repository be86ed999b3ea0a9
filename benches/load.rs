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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Messages per mode unless `PARLEY_BENCH_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: usize = 2000;
/// Seconds each mode may take (sending plus delivery) unless `PARLEY_BENCH_TIMEOUT_SECS` says otherwise.
const DEFAULT_MODE_TIMEOUT_SECS: u64 = 45;
/// Recipient users (one device each) of the local GROUP, all connected over the WebSocket.
const RECIPIENTS: usize = 2;
/// The recipient socket slot of bob on node B (federated mode); slots below it are the GROUP's.
const FEDERATED_SLOT: usize = RECIPIENTS;
/// Recipient sockets over all modes.
const SLOTS: usize = RECIPIENTS + 1;
/// Modes measured.
const MODES: usize = 3;
/// The federated nodes' names; the recipient is addressed as `bob@node-b`.
const NODE_A: &str = "node-a";
const NODE_B: &str = "node-b";
/// Where the bootstrap node and the federated nodes' swarms listen.
const LOCAL_QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";
/// How often a federated node republishes its name record (as the federation tests do).
const RECORD_REFRESH: Duration = Duration::from_secs(2);
/// Bound on the federated setup waits: node B's name reaching node A through the DHT, and the DM
/// reaching node B.
const FEDERATION_SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent REST senders, each with its own `client_message_id` sequence.
const REST_CONCURRENCY: usize = 4;
/// Most `message:send` frames in flight without an answer.
const WS_WINDOW: usize = 16;
/// Raw ciphertext bytes per recipient device.
const CIPHERTEXT_BYTES: usize = 200;
/// Progress goes to stderr every this many messages.
const PROGRESS_EVERY: usize = 500;
/// Linux `CLK_TCK` (`getconf CLK_TCK`); 100 on every mainstream Linux configuration.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;
/// Name of the load generator's threads (at most 15 bytes, the kernel's `comm` limit).
const CLIENT_THREAD: &str = "bench-client";
/// Bound on any single setup step or request.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Errors printed in full per kind before they are only counted.
const ERRORS_SHOWN: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Rest,
    Ws,
    Federated,
}

impl Mode {
    const ALL: [Mode; MODES] = [Mode::Rest, Mode::Ws, Mode::Federated];

    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Rest => "REST -> WS",
            Mode::Ws => "WS -> WS",
            Mode::Federated => "REST -> federation -> WS",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Mode::Rest => "rest",
            Mode::Ws => "ws",
            Mode::Federated => "fed",
        }
    }

    /// The recipient socket slots that must receive this mode's messages.
    fn recipients(self) -> std::ops::Range<usize> {
        match self {
            Mode::Rest | Mode::Ws => 0..RECIPIENTS,
            Mode::Federated => FEDERATED_SLOT..SLOTS,
        }
    }

    /// Who receives, for progress lines.
    fn audience(self) -> String {
        match self {
            Mode::Rest | Mode::Ws => "both recipients".to_owned(),
            Mode::Federated => slot_name(FEDERATED_SLOT),
        }
    }
}

/// A recipient socket slot's name in reports.
fn slot_name(slot: usize) -> String {
    if slot == FEDERATED_SLOT {
        format!("bob@{NODE_B}")
    } else {
        format!("recipient {slot}")
    }
}

/// The only fields of server frames the bench looks at; the rest is skipped.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_message_id: Option<String>,
    #[serde(default)]
    replayed: Option<usize>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Timestamps of every message of every mode, written lock-free by senders and recipients.
/// A stamp is nanoseconds since `epoch` plus one; zero means "not yet".
struct Tracker {
    epoch: Instant,
    per_mode: usize,
    client_ids: Vec<String>,
    index: HashMap<String, usize>,
    sent: Vec<AtomicU64>,
    answered: Vec<AtomicU64>,
    received: [Vec<AtomicU64>; SLOTS],
    delivered: [[AtomicUsize; MODES]; SLOTS],
    send_failures: [AtomicUsize; MODES],
    duplicates: AtomicUsize,
    unexpected: AtomicUsize,
    socket_errors: AtomicUsize,
    progress: Notify,
}

impl Tracker {
    fn new(per_mode: usize) -> Self {
        let total = per_mode * Mode::ALL.len();
        let client_ids: Vec<String> = (0..total)
            .map(|global| {
                let (mode, i) = (Mode::ALL[global / per_mode], global % per_mode);
                match mode {
                    // Worker w sends i = w, w + C, w + 2C, ...: its own sequence 0, 1, 2, ...
                    Mode::Rest | Mode::Federated => {
                        format!("{}-w{}-{}", mode.tag(), i % REST_CONCURRENCY, i / REST_CONCURRENCY)
                    }
                    Mode::Ws => format!("ws-{i}"),
                }
            })
            .collect();
        let index = client_ids.iter().enumerate().map(|(g, id)| (id.clone(), g)).collect();
        let stamps = || (0..total).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Self {
            epoch: Instant::now(),
            per_mode,
            client_ids,
            index,
            sent: stamps(),
            answered: stamps(),
            received: std::array::from_fn(|_| stamps()),
            delivered: std::array::from_fn(|_| std::array::from_fn(|_| AtomicUsize::new(0))),
            send_failures: std::array::from_fn(|_| AtomicUsize::new(0)),
            duplicates: AtomicUsize::new(0),
            unexpected: AtomicUsize::new(0),
            socket_errors: AtomicUsize::new(0),
            progress: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    fn global(&self, mode: Mode, i: usize) -> usize {
        mode.index() * self.per_mode + i
    }

    fn delivered_to_all(&self, mode: Mode) -> usize {
        mode.recipients()
            .map(|r| self.delivered[r][mode.index()].load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    /// Messages of `mode` sent and answered without an error, so expected at the recipients.
    fn expected(&self, mode: Mode) -> usize {
        self.per_mode - self.send_failures[mode.index()].load(Ordering::Acquire)
    }
}

/// Counts an unexpected error or frame, printing the first few.
fn count_error(tracker: &Tracker, report: &str) {
    if tracker.socket_errors.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
        eprintln!("{report}");
    }
}

/// Parses a frame, counting and reporting the ones that do not parse.
fn parse_frame(text: &str, tracker: &Tracker, who: &str) -> Option<Frame> {
    serde_json::from_str(text)
        .map_err(|err| count_error(tracker, &format!("[{who}] unparseable frame ({err}): {text}")))
        .ok()
}

/// Reads a recipient's socket (slot `recipient`) for the whole bench, stamping each `message:new`.
async fn receive(mut socket: Socket, recipient: usize, tracker: Arc<Tracker>) {
    let who = slot_name(recipient);
    while let Some(incoming) = socket.next().await {
        let text = match incoming {
            Ok(WsMessage::Text(text)) => text,
            Ok(WsMessage::Close(frame)) => {
                eprintln!("[{who}] the node closed the socket: {frame:?}");
                break;
            }
            Ok(_) => continue,
            Err(err) => {
                eprintln!("[{who}] socket error: {err}");
                break;
            }
        };
        let at = tracker.now();
        let Some(frame) = parse_frame(&text, &tracker, &who) else {
            continue;
        };
        match frame.kind.as_str() {
            "message:new" => {
                let Some(&global) = frame.client_message_id.as_ref().and_then(|id| tracker.index.get(id)) else {
                    tracker.unexpected.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let first = tracker.received[recipient][global]
                    .compare_exchange(0, at, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if !first {
                    tracker.duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tracker.delivered[recipient][global / tracker.per_mode].fetch_add(1, Ordering::AcqRel);
                tracker.progress.notify_one();
            }
            "error" => count_error(&tracker, &format!("[{who}] error frame: {text}")),
            _ => {}
        }
    }
}

/// Waits until every expected message of `mode` reached every recipient, or the deadline passes.
async fn wait_delivered(tracker: &Tracker, mode: Mode, deadline: tokio::time::Instant) -> bool {
    loop {
        if tracker.delivered_to_all(mode) >= tracker.expected(mode) {
            return true;
        }
        if tokio::time::timeout_at(deadline, tracker.progress.notified())
            .await
            .is_err()
        {
            return tracker.delivered_to_all(mode) >= tracker.expected(mode);
        }
    }
}

/// Reports progress every `PROGRESS_EVERY` messages sent.
fn progress(tracker: &Tracker, mode: Mode, sent: usize) {
    if sent.is_multiple_of(PROGRESS_EVERY) || sent == tracker.per_mode {
        eprintln!(
            "[{}] sent {sent}/{}, delivered to {} {}",
            mode.tag(),
            tracker.per_mode,
            mode.audience(),
            tracker.delivered_to_all(mode)
        );
    }
}

/// What the senders need.
struct Setup {
    base: String,
    ws_base: String,
    http: reqwest::Client,
    sender_token: String,
    /// `"conversation_id":..,"ciphertexts":[..],"message_type":"text"`, shared by every send.
    body_prefix: String,
}

impl Setup {
    fn rest_body(&self, client_id: &str) -> String {
        format!(r#"{{{},"client_message_id":"{client_id}"}}"#, self.body_prefix)
    }

    fn ws_frame(&self, client_id: &str) -> String {
        format!(
            r#"{{"type":"message:send",{},"client_message_id":"{client_id}"}}"#,
            self.body_prefix
        )
    }
}

struct Registered {
    user_id: String,
    device_id: String,
    token: String,
}

async fn post_json(http: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Result<Value, String> {
    let mut request = http.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = tokio::time::timeout(STEP_TIMEOUT, request.send())
        .await
        .map_err(|_| format!("POST {url} timed out"))?
        .map_err(|err| format!("POST {url}: {err}"))?;
    let status = response.status();
    let text = tokio::time::timeout(STEP_TIMEOUT, response.text())
        .await
        .map_err(|_| format!("POST {url}: body timed out"))?
        .map_err(|err| format!("POST {url}: {err}"))?;
    if !status.is_success() {
        return Err(format!("POST {url}: {status}: {text}"));
    }
    let body: Value = serde_json::from_str(&text).map_err(|err| format!("POST {url}: {err}: {text}"))?;
    Ok(body["data"].clone())
}

async fn register(http: &reqwest::Client, base: &str, name: &str) -> Result<Registered, String> {
    let data = post_json(
        http,
        &format!("{base}/v1/auth/register"),
        None,
        &json!({
            "email": format!("{name}@example.org"),
            "username": name,
            "password": "correct horse battery staple",
            "device_id": uuid::Uuid::new_v4(),
            "display_name": name,
            "device_name": format!("{name}'s bench device"),
            "device_type": "desktop",
        }),
    )
    .await?;
    let field = |key: &str| {
        data[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("register {name}: no {key} in {data}"))
    };
    Ok(Registered {
        user_id: field("user_id")?,
        device_id: field("device_id")?,
        token: field("access_token")?,
    })
}

/// Opens a socket and reads `ready`, any replay and `sync:complete`.
async fn connect_synced(ws_base: &str, token: &str, who: &str) -> Result<Socket, String> {
    let url = format!("{ws_base}/v1/ws?token={token}");
    let (mut socket, _) = tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| format!("{who}: WebSocket connect timed out"))?
        .map_err(|err| format!("{who}: WebSocket connect: {err}"))?;
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let mut ready = false;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| format!("{who}: no sync:complete within {STEP_TIMEOUT:?}"))?;
        let text = match next {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Close(frame))) => return Err(format!("{who}: closed during sync: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(format!("{who}: socket error during sync: {err}")),
            None => return Err(format!("{who}: socket ended during sync")),
        };
        let frame: Frame = serde_json::from_str(&text).map_err(|err| format!("{who}: {err}: {text}"))?;
        match frame.kind.as_str() {
            "ready" => ready = true,
            "sync:complete" if ready => {
                if frame.replayed.unwrap_or(0) != 0 {
                    eprintln!("[{who}] replayed {:?} messages on connect", frame.replayed);
                }
                return Ok(socket);
            }
            "error" => return Err(format!("{who}: error during sync: {text}")),
            _ => {}
        }
    }
}

/// Modes 1 and 3: concurrent REST senders (to the sender's own node, `setup.base`).
async fn run_rest(
    mode: Mode,
    setup: &Arc<Setup>,
    tracker: &Arc<Tracker>,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let sent = Arc::new(AtomicUsize::new(0));
    let errors_shown = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/v1/messages", setup.base);
    let mut workers = Vec::with_capacity(REST_CONCURRENCY);
    for worker in 0..REST_CONCURRENCY {
        let (setup, tracker, sent, errors_shown, url) = (
            setup.clone(),
            tracker.clone(),
            sent.clone(),
            errors_shown.clone(),
            url.clone(),
        );
        workers.push(tokio::spawn(async move {
            for i in (worker..tracker.per_mode).step_by(REST_CONCURRENCY) {
                let global = tracker.global(mode, i);
                let body = setup.rest_body(&tracker.client_ids[global]);
                let request = setup
                    .http
                    .post(&url)
                    .bearer_auth(&setup.sender_token)
                    .header("content-type", "application/json")
                    .body(body);
                tracker.sent[global].store(tracker.now(), Ordering::Release);
                let outcome = tokio::time::timeout_at(deadline, async {
                    let response = request.send().await.map_err(|err| err.to_string())?;
                    let status = response.status();
                    let text = response.text().await.map_err(|err| err.to_string())?;
                    if status == reqwest::StatusCode::CREATED {
                        Ok(())
                    } else {
                        Err(format!("{status}: {text}"))
                    }
                })
                .await;
                match outcome {
                    Ok(Ok(())) => tracker.answered[global].store(tracker.now(), Ordering::Release),
                    Ok(Err(err)) => {
                        tracker.send_failures[mode.index()].fetch_add(1, Ordering::AcqRel);
                        if errors_shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
                            eprintln!("[{}] send {} failed: {err}", mode.tag(), tracker.client_ids[global]);
                        }
                    }
                    Err(_) => return Err(format!("REST sender {worker} timed out at message {i}")),
                }
                progress(&tracker, mode, sent.fetch_add(1, Ordering::AcqRel) + 1);
            }
            Ok(())
        }));
    }
    let mut result = Ok(());
    for worker in workers {
        let outcome = worker
            .await
            .unwrap_or_else(|err| Err(format!("REST sender panicked: {err}")));
        if result.is_ok() {
            result = outcome;
        }
    }
    result
}

/// Mode 2: `message:send` frames pipelined on the sender's own socket.
async fn run_ws(setup: &Arc<Setup>, tracker: &Arc<Tracker>, deadline: tokio::time::Instant) -> Result<(), String> {
    let mode = Mode::Ws;
    let socket = connect_synced(&setup.ws_base, &setup.sender_token, "sender").await?;
    let (mut sink, mut stream) = socket.split();
    let window = Semaphore::new(WS_WINDOW);
    let writer = async {
        for i in 0..tracker.per_mode {
            window.acquire().await.map_err(|err| err.to_string())?.forget();
            let global = tracker.global(mode, i);
            let frame = setup.ws_frame(&tracker.client_ids[global]);
            tracker.sent[global].store(tracker.now(), Ordering::Release);
            sink.send(WsMessage::Text(frame.into()))
                .await
                .map_err(|err| format!("sender socket: {err}"))?;
            progress(tracker, mode, i + 1);
        }
        Ok::<_, String>(())
    };
    let reader = async {
        let mut answers = 0;
        let mut errors_shown = 0;
        while answers < tracker.per_mode {
            let text = match stream.next().await {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(format!("the node closed the sender socket: {frame:?}"));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(format!("sender socket: {err}")),
                None => return Err("sender socket ended".to_owned()),
            };
            let at = tracker.now();
            let Some(frame) = parse_frame(&text, tracker, "sender") else {
                continue;
            };
            let global = frame
                .client_message_id
                .as_ref()
                .and_then(|id| tracker.index.get(id))
                .copied();
            match (frame.kind.as_str(), global) {
                ("message:ack", Some(global)) => {
                    tracker.answered[global].store(at, Ordering::Release);
                    answers += 1;
                    window.add_permits(1);
                }
                ("error", global) => {
                    if errors_shown < ERRORS_SHOWN {
                        errors_shown += 1;
                        eprintln!(
                            "[ws] error frame: code {:?}: {:?} ({text})",
                            frame.code.as_deref().unwrap_or_default(),
                            frame.error.as_deref().unwrap_or_default()
                        );
                    }
                    if global.is_some() {
                        tracker.send_failures[mode.index()].fetch_add(1, Ordering::AcqRel);
                        answers += 1;
                        window.add_permits(1);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    };
    let outcome = tokio::time::timeout_at(deadline, async { tokio::try_join!(writer, reader) }).await;
    match outcome {
        Ok(Ok(_)) => {
            let _ = tokio::time::timeout(STEP_TIMEOUT, sink.close()).await;
            Ok(())
        }
        Ok(Err(err)) => Err(err),
        Err(_) => {
            let answered = (0..tracker.per_mode)
                .filter(|&i| tracker.answered[tracker.global(mode, i)].load(Ordering::Acquire) != 0)
                .count();
            Err(format!(
                "WS sender timed out: {answered} of {} sends answered",
                tracker.per_mode
            ))
        }
    }
}

/// Process CPU seconds (all threads, living and exited) and the load generator's share.
#[derive(Clone, Copy)]
struct Cpu {
    process: f64,
    client: f64,
}

/// utime + stime in seconds from a `/proc/.../stat` line; the fields after the `(comm)`.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    // After ")": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) as f64 / CLOCK_TICKS_PER_SEC))
}

fn cpu_now() -> Cpu {
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat_cpu(&stat))
        .map_or(f64::NAN, |(_, seconds)| seconds);
    let mut client = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Some((comm, seconds)) = std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|stat| stat_cpu(&stat))
                && comm.starts_with(CLIENT_THREAD)
            {
                client += seconds;
            }
        }
    }
    Cpu { process, client }
}

/// The value at quantile `q` (nearest rank) of sorted samples.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Stats {
    mode: Mode,
    messages: usize,
    failures: usize,
    wall: f64,
    throughput: f64,
    delivery: Vec<f64>,
    /// Per recipient slot of the mode: (slot, samples).
    per_recipient: Vec<(usize, Vec<f64>)>,
    both: Vec<f64>,
    answer: Vec<f64>,
    cpu: Cpu,
}

fn summarise(tracker: &Tracker, mode: Mode, cpu: Cpu) -> Stats {
    let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
    let (mut delivery, mut both, mut answer) = (Vec::new(), Vec::new(), Vec::new());
    let mut per_recipient: Vec<(usize, Vec<f64>)> = mode.recipients().map(|slot| (slot, Vec::new())).collect();
    let (mut first_sent, mut last_delivered) = (u64::MAX, 0);
    for i in 0..tracker.per_mode {
        let global = tracker.global(mode, i);
        let sent = tracker.sent[global].load(Ordering::Acquire);
        if sent == 0 {
            continue;
        }
        first_sent = first_sent.min(sent);
        let answered = tracker.answered[global].load(Ordering::Acquire);
        if answered != 0 {
            answer.push(ms(sent, answered));
        }
        let received: Vec<u64> = mode
            .recipients()
            .map(|slot| tracker.received[slot][global].load(Ordering::Acquire))
            .collect();
        for (r, &at) in received.iter().enumerate().filter(|(_, at)| **at != 0) {
            delivery.push(ms(sent, at));
            per_recipient[r].1.push(ms(sent, at));
        }
        if received.iter().all(|&at| at != 0) {
            let last = received.iter().copied().max().unwrap_or(sent);
            last_delivered = last_delivered.max(last);
            both.push(ms(sent, last));
        }
    }
    for samples in [&mut delivery, &mut both, &mut answer]
        .into_iter()
        .chain(per_recipient.iter_mut().map(|(_, samples)| samples))
    {
        samples.sort_by(f64::total_cmp);
    }
    let wall = if last_delivered > first_sent {
        (last_delivered - first_sent) as f64 / 1e9
    } else {
        f64::NAN
    };
    Stats {
        mode,
        messages: both.len(),
        failures: tracker.send_failures[mode.index()].load(Ordering::Acquire),
        wall,
        throughput: both.len() as f64 / wall,
        delivery,
        per_recipient,
        both,
        answer,
        cpu,
    }
}

fn print_report(stats: &[Stats], per_mode: usize, data_dir: &str) {
    // The mode column fits the longest label shown (11 as before when only the local modes ran).
    let width = stats.iter().map(|s| s.mode.label().len()).max().unwrap_or(0).max(11);
    let federated = stats.iter().any(|s| s.mode == Mode::Federated);
    println!();
    println!("Parley load benchmark: 1 node in-process on 127.0.0.1, sled on disk at {data_dir}");
    println!(
        "{per_mode} messages per mode; 1 sender, {RECIPIENTS} recipient users (1 device each) in one GROUP, both on \
         WebSocket; {CIPHERTEXT_BYTES} B ciphertext per recipient device; REST: {REST_CONCURRENCY} concurrent \
         senders; WS: window of {WS_WINDOW} unacked message:send frames"
    );
    if federated {
        println!(
            "{}: bootstrap + {NODE_A} + {NODE_B} in the same process (libp2p over {LOCAL_QUIC}, sled under the same \
             dir); ann on {NODE_A} posts to a DM hosted by {NODE_A} with {REST_CONCURRENCY} concurrent REST senders; \
             1 recipient, bob on {NODE_B} on WebSocket to {NODE_B}; {CIPHERTEXT_BYTES} B ciphertext for bob's device",
            Mode::Federated.label()
        );
    }
    println!();
    println!(
        "{:<width$} {:>6} {:>7} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "mode", "msgs", "wall s", "msg/s", "deliv p50", "deliv p99", "both p50", "both p99", "ack p50", "ack p99"
    );
    for s in stats {
        println!(
            "{:<width$} {:>6} {:>7.2} {:>8.1} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
            s.mode.label(),
            s.messages,
            s.wall,
            s.throughput,
            quantile(&s.delivery, 0.5),
            quantile(&s.delivery, 0.99),
            quantile(&s.both, 0.5),
            quantile(&s.both, 0.99),
            quantile(&s.answer, 0.5),
            quantile(&s.answer, 0.99),
        );
    }
    println!(
        "latencies in ms, measured from just before the send: deliv = until one recipient's socket yields the \
         message:new ({RECIPIENTS} samples per message); both = until the last recipient has it; ack = until the \
         HTTP 201 response / the message:ack frame. msg/s = messages fully delivered to both recipients / (last \
         delivery - first send)."
    );
    if federated {
        println!(
            "{}: the one recipient is bob's socket on {NODE_B}, so deliv = both = send start (REST to {NODE_A}) -> \
             message:new on {NODE_B}; ack = HTTP 201 from {NODE_A}.",
            Mode::Federated.label()
        );
    }
    for s in stats {
        let each: Vec<String> = s
            .per_recipient
            .iter()
            .map(|(slot, samples)| {
                format!(
                    "{} p50 {:.2} / p99 {:.2}",
                    slot_name(*slot),
                    quantile(samples, 0.5),
                    quantile(samples, 0.99)
                )
            })
            .collect();
        println!("  {} deliv per recipient (ms): {}", s.mode.label(), each.join(", "));
    }
    println!();
    println!(
        "{:<width$} {:>12} {:>16} {:>15} {:>22}",
        "mode", "CPU s (proc)", "CPU s/1000 msgs", "load-gen CPU s", "node-side s/1000 msgs"
    );
    for s in stats {
        let node_side = s.cpu.process - s.cpu.client;
        let per_thousand = |seconds: f64| seconds / s.messages as f64 * 1000.0;
        println!(
            "{:<width$} {:>12.2} {:>16.3} {:>15.2} {:>22.3}",
            s.mode.label(),
            s.cpu.process,
            per_thousand(s.cpu.process),
            s.cpu.client,
            per_thousand(node_side),
        );
    }
    println!(
        "CPU = utime + stime from /proc/self/stat at {CLOCK_TICKS_PER_SEC} ticks/s (10 ms resolution) over each \
         mode's send..last-delivery window. The node runs in-process, so CPU s (proc) and CPU s/1000 msgs are the \
         PROCESS TOTAL: node + load generator (HTTP/WS clients, JSON parsing, bookkeeping). load-gen CPU s is the \
         sum over the load generator's '{CLIENT_THREAD}' threads (/proc/self/task/*/stat); node-side = process - \
         load-gen (node runtime, sled threads), an estimate."
    );
    if federated {
        println!(
            "{}: node-side includes both nodes, the bootstrap node and libp2p/QUIC on the node runtime.",
            Mode::Federated.label()
        );
    }
    for s in stats.iter().filter(|s| s.failures > 0) {
        println!("{}: {} sends were refused by the node", s.mode.label(), s.failures);
    }
}

/// A node served in-process: its HTTP/WebSocket gateway and, when federated, its libp2p swarm.
struct RunningNode {
    addr: SocketAddr,
    services: Arc<node::Services>,
    federation: Option<node::federation::Handle>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningNode {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops the gateway (and the swarm), each bounded.
    async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        if let Some(federation) = self.federation {
            let _ = tokio::time::timeout(Duration::from_secs(5), federation.shutdown()).await;
        }
        drop(self.services);
    }
}

/// The config every bench node uses: data in `dir`, rate limits off (a load test measures the node, not
/// the per-user request budget).
fn node_config(dir: &std::path::Path) -> node::Config {
    let mut config = node::Config::new(dir);
    config.rate_limits.enabled = false;
    config
}

/// Opens a node and serves it on 127.0.0.1 (inside the node runtime); joins the federation when
/// `federate`.
async fn start_node(config: node::Config, federate: bool) -> Result<RunningNode, String> {
    let services = Arc::new(node::Services::open(config).map_err(|err| format!("open node: {err}"))?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("bind: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    tokio::spawn(services.clone().run_background());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(gateway::serve(listener, services.clone(), async {
        let _ = stopped.await;
    }));
    let federation = if federate {
        Some(
            services
                .start_federation()
                .map_err(|err| format!("start federation: {err}"))?,
        )
    } else {
        None
    };
    Ok(RunningNode {
        addr,
        services,
        federation,
        stop,
        server,
    })
}

/// The federated mode's nodes: a bootstrap node, node A (the sender's, hosting the DM) and node B.
struct Federation {
    bootstrap_stop: oneshot::Sender<()>,
    a: RunningNode,
    b: RunningNode,
}

impl Federation {
    /// Starts the bootstrap node and both nodes (inside the node runtime), data under `dir`.
    async fn start(dir: std::path::PathBuf) -> Result<Self, String> {
        let listen: bootstrap::Multiaddr = LOCAL_QUIC.parse().map_err(|err| format!("{LOCAL_QUIC}: {err}"))?;
        let config = bootstrap::Config::new(dir.join("bootstrap.key"), listen.clone());
        let bootstrap = bootstrap::Bootstrap::start(&config)
            .await
            .map_err(|err| format!("bootstrap node: {err}"))?;
        let address = bootstrap
            .addresses()
            .into_iter()
            .next()
            .ok_or("the bootstrap node reported no address")?;
        let (bootstrap_stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(bootstrap.run(async {
            let _ = stopped.await;
        }));
        eprintln!("[fed] bootstrap node listening on {address}");
        let federated = |name: &str| {
            let mut config = node_config(&dir.join(name));
            config.federation.name = Some(name.to_owned());
            config.federation.p2p_listen = listen.clone();
            config.federation.bootstrap = vec![address.clone()];
            config.federation.record_refresh_interval = RECORD_REFRESH;
            config
        };
        let a = start_node(federated(NODE_A), true).await?;
        let b = start_node(federated(NODE_B), true).await?;
        eprintln!("[fed] {NODE_A} listening on {}, {NODE_B} on {}", a.addr, b.addr);
        Ok(Self { bootstrap_stop, a, b })
    }

    async fn shutdown(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
        let _ = self.bootstrap_stop.send(());
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let response = tokio::time::timeout(STEP_TIMEOUT, http.get(url).bearer_auth(token).send())
        .await
        .map_err(|_| format!("GET {url} timed out"))?
        .map_err(|err| format!("GET {url}: {err}"))?;
    let status = response.status();
    let text = tokio::time::timeout(STEP_TIMEOUT, response.text())
        .await
        .map_err(|_| format!("GET {url}: body timed out"))?
        .map_err(|err| format!("GET {url}: {err}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {text}"));
    }
    let body: Value = serde_json::from_str(&text).map_err(|err| format!("GET {url}: {err}: {text}"))?;
    Ok(body["data"].clone())
}

/// Retries `attempt` every 200 ms until it succeeds or `FEDERATION_SETUP_TIMEOUT` passes, then fails
/// with its last error.
async fn retry<T, F: std::future::Future<Output = Result<T, String>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<T, String> {
    let started = Instant::now();
    loop {
        match attempt().await {
            Ok(value) => {
                eprintln!("[fed] {what}: after {:.1} s", started.elapsed().as_secs_f64());
                return Ok(value);
            }
            Err(err) if started.elapsed() >= FEDERATION_SETUP_TIMEOUT => {
                return Err(format!("{what}: gave up after {FEDERATION_SETUP_TIMEOUT:?}: {err}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Registers ann on node A and bob on node B, has ann open a DM with `bob@node-b` (node A hosts it),
/// waits until node B lists it and connects bob's socket to node B.
async fn prepare_federation(federation: &Federation, http: &reqwest::Client) -> Result<(Setup, Socket), String> {
    let (base_a, base_b) = (federation.a.base(), federation.b.base());
    let ann = register(http, &base_a, "ann").await?;
    let bob = register(http, &base_b, "bob").await?;
    // Node A finds node B through the DHT; until node B's record is there the handle does not resolve.
    let handle = format!("bob@{NODE_B}");
    let (url, body) = (
        format!("{base_a}/v1/conversations"),
        json!({ "type": "DM", "participants": [handle] }),
    );
    let (url, body, token) = (url.as_str(), &body, ann.token.as_str());
    let conversation = retry(&format!("DM with {handle} created on {NODE_A}"), move || {
        post_json(http, url, Some(token), body)
    })
    .await?;
    let conversation_id = conversation["id"]
        .as_str()
        .ok_or_else(|| format!("no conversation id in {conversation}"))?
        .to_owned();
    // Node B learns of the conversation asynchronously, from node A's outbox.
    let url = format!("{base_b}/v1/conversations?limit=100");
    let (url, token, id) = (url.as_str(), bob.token.as_str(), conversation_id.as_str());
    retry(&format!("DM listed on {NODE_B}"), move || async move {
        let page = get_json(http, url, token).await?;
        let listed = page["conversations"]
            .as_array()
            .is_some_and(|all| all.iter().any(|c| c["id"] == id));
        listed.then_some(()).ok_or_else(|| format!("not yet listed: {page}"))
    })
    .await?;
    let socket = connect_synced(&federation.b.ws_base(), &bob.token, &slot_name(FEDERATED_SLOT)).await?;

    let bytes: Vec<u8> = (0..CIPHERTEXT_BYTES).map(|b| (b * 31 + 5) as u8).collect();
    let ciphertexts = json!([{
        "recipient_device_id": bob.device_id,
        "ciphertext": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
    }]);
    let body_prefix =
        format!(r#""conversation_id":"{conversation_id}","ciphertexts":{ciphertexts},"message_type":"text""#);
    let setup = Setup {
        base: base_a,
        ws_base: federation.a.ws_base(),
        http: http.clone(),
        sender_token: ann.token,
        body_prefix,
    };
    Ok((setup, socket))
}

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
    let body_prefix = format!(
        r#""conversation_id":"{conversation_id}","ciphertexts":{},"message_type":"text""#,
        Value::Array(ciphertexts)
    );
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
