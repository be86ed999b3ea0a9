//! The growth curve (Parley only): one row measured again and again as the store grows, to see
//! whether CPU per message, latency and memory stay flat from a thousand stored messages to ten
//! million. Between stages the node is stopped and the store topped up in this process through the
//! node's own services (the same send and delivery-receipt code the gateway calls, with no sockets in
//! between, so ten million messages take minutes rather than the best part of an hour); then the node
//! starts again on that store, with its page cache capped (`PARLEY_COMPARE_CACHE_MB`), and the row runs
//! through the real interface: a warm-up run first, then the repeats.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::Row;
use crate::contenders::{Contender, Kind};
use crate::measure::{median, resident_bytes};
use crate::parley::CIPHERTEXT_BYTES;
use crate::report::Sample;

/// Conversations the filler spreads its messages over, one sender and one reader each.
const FILL_CONVERSATIONS: usize = 500;
/// Sends (each followed by its delivery receipt) in flight at once while filling.
const FILL_CONCURRENCY: usize = 128;

/// What to measure: the store sizes, the row, its repeats, the bound on one run.
pub(crate) struct Growth {
    pub(crate) stages: Vec<u64>,
    pub(crate) row: Row,
    pub(crate) repeats: usize,
    pub(crate) store_cache_mb: Option<u64>,
    pub(crate) timeout: Duration,
    /// Which Parley build serves: `parley`, or `baseline` for a build kept apart from the one cargo
    /// rebuilds (a run of ten million messages outlasts many rebuilds).
    pub(crate) kind: Kind,
    /// A data dir an earlier run filled (`PARLEY_COMPARE_GROWTH_FROM`), holding the first stage's count:
    /// measured there without filling, on accounts of its own, and written to.
    pub(crate) from: Option<PathBuf>,
}

/// One stage's figures.
struct Stage {
    stored: u64,
    samples: Vec<Sample>,
    resident: u64,
    on_disk: u64,
    fill_rate: f64,
}

pub(crate) async fn run(growth: Growth) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|err| format!("temp dir: {err}"))?;
    let data_dir = growth.from.clone().unwrap_or_else(|| dir.path().join("parley"));
    let mut node = Contender::start(growth.kind, &data_dir, growth.store_cache_mb)?;
    let (names, mut stored) = match growth.from {
        // A store filled before holds earlier runs' accounts: this run's names are its own.
        Some(_) => {
            let names = format!("run{}u", std::process::id());
            if let Some(took) = node.first_commit(&format!("{names}first"), growth.timeout).await? {
                eprintln!("first commit after start: {:.1} s", took.as_secs_f64());
            }
            (names, growth.stages.first().copied().unwrap_or_default())
        }
        None => ("bench".to_owned(), 0u64),
    };
    node.register_as(&names, growth.row.users).await?;
    node.prepare(growth.row.users).await?;
    let mut filler: Option<Filler> = None;
    let mut stages = Vec::new();
    let mut run_id = 0;
    for &target in &growth.stages {
        let wanted = target.saturating_sub(stored);
        let mut fill_rate = f64::NAN;
        if wanted > 0 {
            let data = data_dir.clone();
            let cache = growth.store_cache_mb;
            let mut taken = filler.take();
            tokio::task::block_in_place(|| {
                node.restart(|| {
                    let started = Instant::now();
                    taken = Some(fill(&data, cache, taken.take(), wanted)?);
                    fill_rate = wanted as f64 / started.elapsed().as_secs_f64();
                    Ok(())
                })
            })?;
            filler = taken;
            stored += wanted;
        }
        let mut samples = Vec::new();
        for attempt in 0..=growth.repeats {
            run_id += 1;
            let sample = node.run(growth.row, run_id, growth.timeout).await?;
            stored += sample.messages as u64;
            eprintln!(
                "[{target} stored] {} {}: {sample}",
                growth.row,
                if attempt == 0 { "warm-up" } else { "run" }
            );
            if attempt > 0 {
                samples.push(sample);
            }
        }
        let stage = Stage {
            stored: target,
            samples,
            resident: resident_bytes(node.pid())?,
            on_disk: bytes_under(&data_dir),
            fill_rate,
        };
        stages.push(stage);
    }
    print(&growth, &stages);
    Ok(())
}

/// Accounts and conversations the filler writes into; kept from one stage to the next.
struct Filler {
    /// Per conversation: its id, the sender's and the reader's access tokens, the reader's device.
    conversations: Vec<(String, String, String, String)>,
    /// Messages written so far, which numbers the next one.
    written: u64,
}

/// Opens the store in this process and writes `count` more messages, each sent and then marked
/// delivered by its reader, as a conversation between two people leaves it; returns the filler to
/// go on with next time. Runs on its own runtime, so nothing of the node outlives it.
fn fill(data_dir: &Path, store_cache_mb: Option<u64>, filler: Option<Filler>, count: u64) -> Result<Filler, String> {
    let data_dir: PathBuf = data_dir.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|err| format!("fill runtime: {err}"))?;
        runtime.block_on(async move {
            let mut config = node::Config::new(&data_dir);
            // Only the filler's own accounts are hashed with it; they never log in.
            config.password_hashing = node::PasswordHashing::MINIMAL;
            if let Some(mb) = store_cache_mb {
                config.store_cache_bytes = mb * 1024 * 1024;
            }
            let services = Arc::new(node::Services::open(config).map_err(|err| format!("opening the store: {err}"))?);
            let mut filler = match filler {
                Some(filler) => filler,
                None => set_up(&services).await?,
            };
            write(&services, &filler, count).await?;
            filler.written += count;
            services.flush().map_err(|err| format!("flushing: {err}"))?;
            services.halt();
            Ok(filler)
        })
    })
    .join()
    .map_err(|_| "the filler panicked".to_owned())?
}

async fn set_up(services: &node::Services) -> Result<Filler, String> {
    let register = |name: String| async move {
        let request = serde_json::from_value(crate::api::registration(&name)).map_err(|err| err.to_string())?;
        services
            .auth
            .register(request, None)
            .await
            .map_err(|err| format!("registering {name}: {err}"))
    };
    let mut conversations = Vec::with_capacity(FILL_CONVERSATIONS);
    for i in 0..FILL_CONVERSATIONS {
        let sender = register(format!("fill{i}s")).await?;
        let reader = register(format!("fill{i}r")).await?;
        let actor = authenticate(services, &sender.access_token)?;
        let request = serde_json::from_value(json!({ "type": "DM", "participants": [reader.user_id] }))
            .map_err(|err| err.to_string())?;
        let (conversation, _) = services
            .conversations
            .create(&actor, request)
            .await
            .map_err(|err| format!("a filler DM: {err}"))?;
        conversations.push((
            conversation.id.to_string(),
            sender.access_token,
            reader.access_token,
            reader.device_id.to_string(),
        ));
    }
    Ok(Filler {
        conversations,
        written: 0,
    })
}

fn authenticate(services: &node::Services, token: &str) -> Result<node::Actor, String> {
    services
        .auth
        .authenticate(token)
        .map_err(|err| format!("a filler token: {err}"))
}

async fn write(services: &node::Services, filler: &Filler, count: u64) -> Result<(), String> {
    let bytes: Vec<u8> = (0..CIPHERTEXT_BYTES).map(|b| (b * 31) as u8).collect();
    let ciphertext = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let report_every = (count / 20).max(1);
    futures_util::stream::iter(filler.written..filler.written + count)
        .map(|n| {
            let (conversation, sender, reader, device) = &filler.conversations[n as usize % filler.conversations.len()];
            let (ciphertext, done) = (&ciphertext, &done);
            async move {
                let request = serde_json::from_value(json!({
                    "conversation_id": conversation,
                    "ciphertexts": [{ "recipient_device_id": device, "ciphertext": ciphertext }],
                    "message_type": "text",
                    "client_message_id": n.to_string(),
                }))
                .map_err(|err| err.to_string())?;
                let message = services
                    .messages
                    .send(&authenticate(services, sender)?, request)
                    .await
                    .map_err(|err| format!("filling message {n}: {err}"))?;
                services
                    .messages
                    .mark_delivered(&authenticate(services, reader)?, message.id)
                    .await
                    .map_err(|err| format!("marking message {n} delivered: {err}"))?;
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished % report_every == 0 {
                    eprintln!(
                        "    filled {finished} of {count} ({:.0} msgs/s)",
                        finished as f64 / started.elapsed().as_secs_f64()
                    );
                }
                Ok::<(), String>(())
            }
        })
        .buffer_unordered(FILL_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => bytes_under(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |meta| meta.len()),
            Err(_) => 0,
        })
        .sum()
}

fn print(growth: &Growth, stages: &[Stage]) {
    let cache = growth
        .store_cache_mb
        .map_or_else(|| "the node's default".to_owned(), |mb| format!("{mb} MB"));
    println!();
    println!(
        "Growth: {} on Parley, medians of {} runs per stage, store page cache {cache}",
        growth.row, growth.repeats
    );
    println!();
    println!(
        "| messages stored | store on disk MB | fill msgs/s | msgs/s | server CPU s per 1,000 msgs | p50 ms | p99 ms | RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let first = stages.first().map(medians);
    for stage in stages {
        let (rate, cpu, p50, p99) = medians(stage);
        let ratio = |value: f64, base: Option<f64>| match base {
            Some(base) if base > 0.0 => format!("{value:.3} ({:.2}x)", value / base),
            _ => format!("{value:.3}"),
        };
        println!(
            "| {} | {:.0} | {:.0} | {rate:.0} | {} | {p50:.2} | {} | {:.0} |",
            stage.stored,
            stage.on_disk as f64 / 1e6,
            stage.fill_rate,
            ratio(cpu, first.map(|first| first.1)),
            ratio(p99, first.map(|first| first.3)),
            stage.resident as f64 / 1e6
        );
    }
}

/// Medians of a stage: msgs/s, CPU s per 1,000, p50, p99.
fn medians(stage: &Stage) -> (f64, f64, f64, f64) {
    let of = |field: fn(&Sample) -> f64| median(&stage.samples.iter().map(field).collect::<Vec<_>>());
    (
        of(|s| s.per_second),
        of(|s| s.cpu_per_thousand),
        of(|s| s.p50),
        of(|s| s.p99),
    )
}
