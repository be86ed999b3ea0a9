//! The link model: how long a chunk written on one side of a link takes to reach the other.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha12Rng;

use crate::scenario::Link;

/// Shortest retransmission timeout, as TCP's (RFC 6298 allows 1 s; Linux uses 200 ms).
const MIN_RTO: Duration = Duration::from_millis(200);
/// Longest retransmission timeout once doubled, as TCP's upper bound.
const MAX_RTO: Duration = Duration::from_secs(60);
/// Consecutive losses counted for one chunk, so a `loss` of 1 stalls a link instead of hanging it
/// forever (Linux also gives up after 15 retransmissions).
const MAX_RETRANSMISSIONS: u32 = 15;

/// How one link between two nodes behaves, the same both ways. The in-memory connections under it
/// are reliable and ordered, so the model only ever delays bytes: it never drops or reorders them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkModel {
    /// One-way delay of every chunk.
    pub latency: Duration,
    /// Largest random deviation added to or taken from `latency`, drawn for each chunk; chunks still
    /// arrive in order, as on a TCP connection.
    pub jitter: Duration,
    /// Capacity in bytes per second of each direction; 0 is unlimited. Chunks queue behind each other,
    /// so a large message delays what follows it.
    pub bandwidth_bytes_per_sec: u64,
    /// Probability, 0..=1, that a chunk is lost. A lost chunk is retransmitted, so it arrives one
    /// retransmission timeout late (doubling on each consecutive loss), holding back those behind it.
    pub loss: f64,
}

impl From<Link> for LinkModel {
    fn from(link: Link) -> Self {
        Self {
            latency: link.latency,
            jitter: link.jitter,
            bandwidth_bytes_per_sec: link.bandwidth_bytes_per_sec,
            loss: link.loss,
        }
    }
}

impl LinkModel {
    /// How long after its write a chunk arrives if nothing is queued ahead of it: latency, jitter
    /// and retransmissions. Draws from `rng` in a fixed order, so the same sequence of chunks on a
    /// link meets the same delays.
    pub(super) fn propagation(&self, rng: &mut ChaCha12Rng) -> Duration {
        self.jittered_latency(rng) + self.retransmissions(rng)
    }

    /// How long the link is busy sending `len` bytes.
    pub(super) fn transmission(&self, len: usize) -> Duration {
        if self.bandwidth_bytes_per_sec == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(len as f64 / self.bandwidth_bytes_per_sec as f64)
    }

    fn jittered_latency(&self, rng: &mut ChaCha12Rng) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let jitter = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX / 2);
        let offset = Duration::from_nanos(rng.random_range(0..=jitter.saturating_mul(2)));
        self.latency.saturating_add(offset).saturating_sub(self.jitter)
    }

    fn retransmissions(&self, rng: &mut ChaCha12Rng) -> Duration {
        if self.loss.is_nan() || self.loss <= 0.0 {
            return Duration::ZERO;
        }
        let loss = self.loss.min(1.0);
        let mut timeout = MIN_RTO.max(self.latency.saturating_mul(2)).min(MAX_RTO);
        let mut delay = Duration::ZERO;
        for _ in 0..MAX_RETRANSMISSIONS {
            if !rng.random_bool(loss) {
                break;
            }
            delay += timeout;
            timeout = (timeout * 2).min(MAX_RTO);
        }
        delay
    }
}
