//! What happened during a run, as the simulated clients saw it: when each message was sent and
//! acknowledged, and every copy that reached a recipient's connection. Everything else (the summary,
//! the CSV files) is computed from this record after the run.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One planned message's fate at its sender.
#[derive(Debug, Clone, Default)]
pub(crate) struct SendRecord {
    /// When the first attempt started.
    pub(crate) sent_at: Option<Duration>,
    /// When the sender's node acknowledged it (durably stored).
    pub(crate) acked_at: Option<Duration>,
    /// Attempts made (a client retries with the same `client_message_id` until acknowledged).
    pub(crate) attempts: u32,
    /// The last refusal, when it was never acknowledged.
    pub(crate) last_error: Option<String>,
}

/// One copy of a message seen on a recipient's connection.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The planned message.
    pub(crate) message: usize,
    /// The receiving user.
    pub(crate) recipient: usize,
    /// When it arrived, from the start of the run.
    pub(crate) at: Duration,
    /// Its place in the conversation, as the host numbered it.
    pub(crate) seq: u64,
}

/// The run's record, shared by every client task. A std mutex: each update is a push, never held
/// across an await.
pub(crate) struct Recorder {
    start: Instant,
    sends: Mutex<Vec<SendRecord>>,
    deliveries: Mutex<Vec<Delivery>>,
    /// Copies whose recipient could not decrypt them (or found another plaintext), as (message, user).
    undecryptable: Mutex<Vec<(usize, usize)>>,
}

impl Recorder {
    pub(crate) fn new(start: Instant, messages: usize) -> Self {
        Self {
            start,
            sends: Mutex::new(vec![SendRecord::default(); messages]),
            deliveries: Mutex::new(Vec::new()),
            undecryptable: Mutex::new(Vec::new()),
        }
    }

    /// Time since the run started.
    pub(crate) fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub(crate) fn attempt(&self, message: usize) {
        let now = self.now();
        let mut sends = lock(&self.sends);
        let record = &mut sends[message];
        record.sent_at.get_or_insert(now);
        record.attempts += 1;
    }

    pub(crate) fn acked(&self, message: usize) {
        let now = self.now();
        let mut sends = lock(&self.sends);
        sends[message].acked_at.get_or_insert(now);
        sends[message].last_error = None;
    }

    pub(crate) fn refused(&self, message: usize, reason: String) {
        lock(&self.sends)[message].last_error = Some(reason);
    }

    pub(crate) fn delivered(&self, message: usize, recipient: usize, seq: u64) {
        let at = self.now();
        lock(&self.deliveries).push(Delivery {
            message,
            recipient,
            at,
            seq,
        });
    }

    pub(crate) fn undecryptable(&self, message: usize, recipient: usize) {
        tracing::warn!(message, recipient, "a copy could not be decrypted");
        lock(&self.undecryptable).push((message, recipient));
    }

    pub(crate) fn undecryptable_count(&self) -> usize {
        lock(&self.undecryptable).len()
    }

    /// Messages acknowledged and copies delivered so far, for progress lines.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let acked = lock(&self.sends).iter().filter(|send| send.acked_at.is_some()).count();
        (acked, lock(&self.deliveries).len())
    }

    /// Every message acknowledged so far.
    pub(crate) fn acknowledged(&self) -> Vec<usize> {
        lock(&self.sends)
            .iter()
            .enumerate()
            .filter(|(_, send)| send.acked_at.is_some())
            .map(|(message, _)| message)
            .collect()
    }

    /// The recipient of every copy delivered so far.
    pub(crate) fn recipients(&self) -> Vec<usize> {
        lock(&self.deliveries)
            .iter()
            .map(|delivery| delivery.recipient)
            .collect()
    }

    pub(crate) fn sends(&self) -> Vec<SendRecord> {
        lock(&self.sends).clone()
    }

    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.deliveries).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
