//! Measuring and reporting: CPU time from `/proc`, latency quantiles, and the printed tables.

use std::sync::atomic::Ordering;

use crate::nodes::{LOCAL_QUIC, NODE_A, NODE_B};
use crate::workload::{CIPHERTEXT_BYTES, Mode, RECIPIENTS, REST_CONCURRENCY, Tracker, WS_WINDOW, slot_name};

/// Linux `CLK_TCK` (`getconf CLK_TCK`); 100 on every mainstream Linux configuration.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;
/// Name of the load generator's threads (at most 15 bytes, the kernel's `comm` limit).
pub(crate) const CLIENT_THREAD: &str = "bench-client";

/// Process CPU seconds (all threads, living and exited) and the load generator's share.
#[derive(Clone, Copy)]
pub(crate) struct Cpu {
    pub(crate) process: f64,
    pub(crate) client: f64,
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

pub(crate) fn cpu_now() -> Cpu {
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

pub(crate) struct Stats {
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

pub(crate) fn summarise(tracker: &Tracker, mode: Mode, cpu: Cpu) -> Stats {
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

pub(crate) fn print_report(stats: &[Stats], per_mode: usize, data_dir: &str) {
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
