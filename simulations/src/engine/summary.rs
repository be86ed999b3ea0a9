//! The numbers of a run, computed from the recorder once it is over, and the files they are written to.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::attacks::Attacks;
use super::convergence::Convergence;
use super::recorder::{Delivery, SendRecord};
use crate::plan::Plan;
use crate::scenario::Scenario;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    pub(crate) fn of(mut samples: Vec<f64>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Self {
            count: samples.len(),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: samples[samples.len() - 1],
        }
    }
}

/// What a run measured; `summary.json`. Counts depend only on the scenario and what the nodes did, so
/// two runs of one seed without faults give the same counts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The scenario's name, if it has one.
    pub scenario: Option<String>,
    /// Its seed.
    pub seed: u64,
    /// Which engine ran it.
    pub engine: &'static str,
    /// Whether simulated time is wall time (false on engine 1's simulated clock).
    pub real_time: bool,
    /// Simulated time the whole run took, set-up and drain included (`wall_seconds` in real time).
    pub simulated_seconds: f64,
    /// `simulated_seconds / wall_seconds`: above 1, simulated time went faster than the wall clock.
    pub speed: f64,
    /// User-hosting nodes.
    pub nodes: usize,
    /// Users, one device each.
    pub users: usize,
    /// Conversations created.
    pub conversations: usize,
    /// Messages the plan schedules.
    pub messages_planned: usize,
    /// Messages whose first attempt was made.
    pub messages_sent: usize,
    /// Messages the sender's node acknowledged (stored durably).
    pub messages_acknowledged: usize,
    /// Copies the acknowledged messages owe their recipients (one per recipient device).
    pub deliveries_expected: usize,
    /// Distinct copies that reached a recipient's connection.
    pub deliveries: usize,
    /// `deliveries / deliveries_expected` (1.0 when nothing was expected).
    pub delivery_ratio: f64,
    /// Whether clients encrypted end to end (X3DH + Double Ratchet, per recipient device).
    pub encryption: bool,
    /// Copies their recipient could not decrypt to the plaintext sent (0 when not encrypting).
    pub undecryptable: usize,
    /// Copies that reached the same recipient more than once.
    pub duplicates: usize,
    /// Copies that arrived after a later message of the same conversation, at the same recipient.
    pub out_of_order: usize,
    /// Send (first attempt) to arrival, when sender, recipient and the conversation's host share a node.
    pub latency_local: Latency,
    /// Send to arrival, when the message crossed the network (any of the three on another node).
    pub latency_cross_node: Latency,
    /// Send (first attempt) to the sender node's acknowledgement.
    pub acknowledgement: Latency,
    /// Bytes the simulated network carried, both directions, every link.
    pub bytes_on_wire: u64,
    /// `bytes_on_wire / deliveries`.
    pub bytes_per_delivery: f64,
    /// What hostile nodes (flood and forge faults) did and got through.
    pub attacks: Attacks,
    /// Time for one node to find another's name in the DHT (its signed record checked, the node
    /// dialled), sampled every few seconds while the run goes on.
    pub dht_lookup: Latency,
    /// Why messages were never acknowledged: each such message's last refusal, grouped, most frequent
    /// first (at most ten reasons).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unacknowledged: Vec<Refusal>,
    /// Sampled lookups that failed or took over 10 s.
    pub dht_lookups_failed: usize,
    /// The most connections open at once over the whole network at a sampling instant (engine 1,
    /// which sees them; sampling starts once users are set up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_connections: Option<u64>,
    /// Recovery after each heal and restart of the timeline.
    pub convergence: Vec<Convergence>,
    /// Wall-clock seconds of the whole run (setup and drain included).
    pub wall_seconds: f64,
    /// CPU seconds this process used (every node, the network and the clients).
    pub cpu_seconds: f64,
    /// Peak resident memory of this process, bytes.
    pub peak_rss_bytes: u64,
    /// `peak_rss_bytes / nodes`: every node shares the process, so this is an upper bound per node.
    pub peak_rss_per_node_bytes: u64,
    /// Whether the scenario's link model (latency, jitter, bandwidth, loss) was applied; absent for
    /// engine 1, which always applies it, `false` on loopback, which has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_model: Option<bool>,
    /// What the engine could not measure or did differently, for whoever reads the figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A reason sends were refused, and how many messages it kept from being acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The error the node (or the client, when it could not encrypt) gave.
    pub reason: String,
    /// Messages whose last attempt failed so.
    pub messages: usize,
}

/// Reasons listed in the summary.
const MAX_REFUSAL_REASONS: usize = 10;

/// What an engine measures of itself rather than of the clients' record.
pub(crate) struct Costs {
    pub(crate) bytes_on_wire: u64,
    pub(crate) wall_seconds: f64,
    pub(crate) cpu_seconds: f64,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) peak_rss_per_node_bytes: u64,
}

impl Summary {
    /// The summary both engines share: identity from the scenario and plan, counts and latencies from
    /// the record, costs from the engine. What only some engines observe (attacks, DHT lookups,
    /// convergence, decryption failures) starts empty for the caller to fill in.
    pub(crate) fn new(
        scenario: &Scenario,
        plan: &Plan,
        engine: &'static str,
        measured: Measured,
        costs: Costs,
    ) -> Self {
        let ratio = |part: f64, whole: usize| if whole == 0 { 0.0 } else { part / whole as f64 };
        Self {
            scenario: scenario.name().map(str::to_owned),
            seed: scenario.seed(),
            engine,
            real_time: true,
            simulated_seconds: costs.wall_seconds,
            speed: 1.0,
            nodes: scenario.nodes().names().len(),
            users: plan.users.len(),
            conversations: plan.conversations.len(),
            messages_planned: plan.messages.len(),
            messages_sent: measured.sent,
            messages_acknowledged: measured.acknowledged,
            deliveries_expected: measured.expected,
            deliveries: measured.delivered,
            delivery_ratio: if measured.expected == 0 {
                1.0
            } else {
                ratio(measured.delivered as f64, measured.expected)
            },
            encryption: scenario.traffic().encryption,
            undecryptable: 0,
            duplicates: measured.duplicates,
            out_of_order: measured.out_of_order,
            latency_local: measured.latency_local,
            latency_cross_node: measured.latency_cross_node,
            acknowledgement: measured.acknowledgement,
            bytes_on_wire: costs.bytes_on_wire,
            bytes_per_delivery: ratio(costs.bytes_on_wire as f64, measured.delivered),
            attacks: Attacks::default(),
            unacknowledged: measured.unacknowledged,
            dht_lookup: Latency::default(),
            dht_lookups_failed: 0,
            peak_connections: None,
            convergence: Vec::new(),
            wall_seconds: costs.wall_seconds,
            cpu_seconds: costs.cpu_seconds,
            peak_rss_bytes: costs.peak_rss_bytes,
            peak_rss_per_node_bytes: costs.peak_rss_per_node_bytes,
            link_model: None,
            notes: Vec::new(),
        }
    }
}

/// What the summary is computed from.
pub(crate) struct Outcome<'a> {
    pub(crate) plan: &'a Plan,
    /// Each user's home node, by user index (the plan's `PlannedUser::node`): which copies crossed
    /// the network depends on it, and it is all an engine needs to say about its users.
    pub(crate) nodes: &'a [usize],
    pub(crate) sends: &'a [SendRecord],
    pub(crate) deliveries: &'a [Delivery],
}

impl Outcome<'_> {
    /// The counts and latencies; the caller fills in the run's identity and costs.
    /// Whether a copy crossed the network: its sender, its recipient or its conversation's host is on
    /// another node than the others.
    pub(crate) fn crossed_network(&self, delivery: &Delivery) -> bool {
        let planned = self.plan.messages[delivery.message];
        let host = self.nodes[self.plan.conversations[planned.conversation].host];
        let sender = self.nodes[planned.sender];
        host != sender || self.nodes[delivery.recipient] != sender
    }

    /// Whether every acknowledged message has reached all its recipients: what a drain waits for,
    /// without the latencies [`Outcome::measure`] sorts.
    pub(crate) fn settled(&self) -> bool {
        let delivered: HashSet<(usize, usize)> = self
            .deliveries
            .iter()
            .map(|delivery| (delivery.message, delivery.recipient))
            .collect();
        let expected: usize = (0..self.sends.len())
            .filter(|index| self.sends[*index].acked_at.is_some())
            .map(|index| self.plan.copies_owed(index))
            .sum();
        delivered.len() >= expected
    }

    pub(crate) fn measure(&self) -> Measured {
        let mut seen = HashSet::new();
        let mut duplicates = 0;
        let mut out_of_order = 0;
        let mut highest: HashMap<(usize, usize), u64> = HashMap::new();
        let (mut local, mut cross) = (Vec::new(), Vec::new());
        for delivery in self.deliveries {
            if !seen.insert((delivery.message, delivery.recipient)) {
                duplicates += 1;
                continue;
            }
            let planned = self.plan.messages[delivery.message];
            let last = highest.entry((delivery.recipient, planned.conversation)).or_default();
            if delivery.seq < *last {
                out_of_order += 1;
            }
            *last = (*last).max(delivery.seq);
            if let Some(sent) = self.sends[delivery.message].sent_at {
                let ms = delivery.at.saturating_sub(sent).as_secs_f64() * 1000.0;
                if self.crossed_network(delivery) {
                    cross.push(ms);
                } else {
                    local.push(ms);
                }
            }
        }
        let acknowledged: Vec<usize> = (0..self.sends.len())
            .filter(|index| self.sends[*index].acked_at.is_some())
            .collect();
        let expected = acknowledged.iter().map(|index| self.plan.copies_owed(*index)).sum();
        let acks = acknowledged
            .iter()
            .filter_map(|index| {
                let send = &self.sends[*index];
                Some(send.acked_at?.saturating_sub(send.sent_at?).as_secs_f64() * 1000.0)
            })
            .collect();
        Measured {
            sent: self.sends.iter().filter(|send| send.sent_at.is_some()).count(),
            acknowledged: acknowledged.len(),
            expected,
            delivered: seen.len(),
            duplicates,
            out_of_order,
            latency_local: Latency::of(local),
            latency_cross_node: Latency::of(cross),
            acknowledgement: Latency::of(acks),
            unacknowledged: refusals(self.sends),
        }
    }
}

/// Each never-acknowledged message's last refusal, grouped, most frequent first.
fn refusals(sends: &[SendRecord]) -> Vec<Refusal> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for send in sends.iter().filter(|send| send.acked_at.is_none()) {
        let reason = match (&send.last_error, send.sent_at) {
            (Some(error), _) => error.as_str(),
            (None, Some(_)) => "no answer before the run ended",
            (None, None) => "not sent before the run ended",
        };
        *counts.entry(reason).or_default() += 1;
    }
    let mut refusals: Vec<Refusal> = counts
        .into_iter()
        .map(|(reason, messages)| Refusal {
            reason: reason.to_owned(),
            messages,
        })
        .collect();
    refusals.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.reason.cmp(&b.reason)));
    refusals.truncate(MAX_REFUSAL_REASONS);
    refusals
}

/// The part of the summary the record gives.
pub(crate) struct Measured {
    pub(crate) sent: usize,
    pub(crate) acknowledged: usize,
    pub(crate) expected: usize,
    pub(crate) delivered: usize,
    pub(crate) duplicates: usize,
    pub(crate) out_of_order: usize,
    pub(crate) latency_local: Latency,
    pub(crate) latency_cross_node: Latency,
    pub(crate) acknowledgement: Latency,
    pub(crate) unacknowledged: Vec<Refusal>,
}

/// Writes `deliveries.csv`: one row per copy that arrived, in arrival order.
pub(crate) fn write_deliveries(path: &Path, outcome: &Outcome<'_>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "message,conversation,sender,sender_node,recipient,recipient_node,seq,sent_ms,delivered_ms,latency_ms"
    )?;
    for delivery in outcome.deliveries {
        let planned = outcome.plan.messages[delivery.message];
        let sent = outcome.sends[delivery.message].sent_at.unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{:.3},{:.3},{:.3}",
            delivery.message,
            planned.conversation,
            planned.sender,
            outcome.nodes[planned.sender],
            delivery.recipient,
            outcome.nodes[delivery.recipient],
            delivery.seq,
            sent.as_secs_f64() * 1000.0,
            delivery.at.as_secs_f64() * 1000.0,
            delivery.at.saturating_sub(sent).as_secs_f64() * 1000.0,
        )?;
    }
    out.flush()
}

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat` (Linux, 100 ticks/s).
pub(crate) fn cpu_seconds() -> f64 {
    let ticks = stat_ticks();
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process and of every child it has reaped (`cutime` and `cstime`), so the node
/// processes engine 2 started and waited for count too.
pub(crate) fn cpu_seconds_with_children() -> f64 {
    let ticks = stat_ticks();
    (ticks(11) + ticks(12) + ticks(13) + ticks(14)) / 100.0
}

/// Field `i` of `/proc/self/stat` after the command name, as a number (0 when unreadable).
fn stat_ticks() -> impl Fn(usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .map(|field| field.parse::<f64>().unwrap_or(0.0))
        .collect();
    move |i| fields.get(i).copied().unwrap_or(0.0)
}

/// Peak resident memory of this process, from `/proc/self/status` (`VmHWM`).
pub(crate) fn peak_rss_bytes() -> u64 {
    peak_rss_of("self")
}

/// Peak resident memory of process `pid` (`"self"` or a number), 0 when it cannot be read (gone).
pub(crate) fn peak_rss_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn send(acked: bool, error: Option<&str>, sent: bool) -> SendRecord {
        SendRecord {
            sent_at: sent.then_some(Duration::ZERO),
            acked_at: acked.then_some(Duration::from_millis(5)),
            attempts: u32::from(sent),
            last_error: error.map(str::to_owned),
        }
    }

    #[test]
    fn unacknowledged_messages_are_grouped_by_their_last_refusal_most_frequent_first() {
        let sends = [
            send(true, None, true),
            send(false, Some("host down"), true),
            send(false, Some("dial failed"), true),
            send(false, Some("dial failed"), true),
            send(false, None, true),
            send(false, None, false),
        ];
        let reasons: Vec<(String, usize)> = refusals(&sends)
            .into_iter()
            .map(|refusal| (refusal.reason, refusal.messages))
            .collect();
        assert_eq!(
            reasons,
            [
                ("dial failed".to_owned(), 2),
                ("host down".to_owned(), 1),
                ("no answer before the run ended".to_owned(), 1),
                ("not sent before the run ended".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn at_most_ten_reasons_are_listed() {
        let sends: Vec<SendRecord> = (0..25)
            .map(|i| send(false, Some(&format!("reason {i}")), true))
            .collect();
        assert_eq!(refusals(&sends).len(), MAX_REFUSAL_REASONS);
    }
}
