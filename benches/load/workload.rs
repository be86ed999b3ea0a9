//! The workload: the modes, who receives what, and the [`Tracker`] that stamps every message as it
//! is sent, answered and received.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use protocol::ClientMessageId;
use tokio::sync::Notify;

use crate::nodes::NODE_B;

/// Recipient users (one device each) of the local GROUP, all connected over the WebSocket.
pub(crate) const RECIPIENTS: usize = 2;
/// The recipient socket slot of bob on node B (federated mode); slots below it are the GROUP's.
pub(crate) const FEDERATED_SLOT: usize = RECIPIENTS;
/// Recipient sockets over all modes.
pub(crate) const SLOTS: usize = RECIPIENTS + 1;
/// Modes measured.
const MODES: usize = 3;
/// Concurrent REST senders, each with its own `client_message_id` sequence.
pub(crate) const REST_CONCURRENCY: usize = 4;
/// Most `message:send` frames in flight without an answer.
pub(crate) const WS_WINDOW: usize = 16;
/// Raw ciphertext bytes per recipient device.
pub(crate) const CIPHERTEXT_BYTES: usize = 200;
/// Progress goes to stderr every this many messages.
const PROGRESS_EVERY: usize = 500;
/// Errors printed in full per kind before they are only counted.
pub(crate) const ERRORS_SHOWN: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Rest,
    Ws,
    Federated,
}

impl Mode {
    pub(crate) const ALL: [Mode; MODES] = [Mode::Rest, Mode::Ws, Mode::Federated];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Mode::Rest => "REST -> WS",
            Mode::Ws => "WS -> WS",
            Mode::Federated => "REST -> federation -> WS",
        }
    }

    pub(crate) fn tag(self) -> &'static str {
        match self {
            Mode::Rest => "rest",
            Mode::Ws => "ws",
            Mode::Federated => "fed",
        }
    }

    /// The recipient socket slots that must receive this mode's messages.
    pub(crate) fn recipients(self) -> std::ops::Range<usize> {
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
pub(crate) fn slot_name(slot: usize) -> String {
    if slot == FEDERATED_SLOT {
        format!("bob@{NODE_B}")
    } else {
        format!("recipient {slot}")
    }
}

/// Timestamps of every message of every mode, written lock-free by senders and recipients.
/// A stamp is nanoseconds since `epoch` plus one; zero means "not yet".
pub(crate) struct Tracker {
    epoch: Instant,
    pub(crate) per_mode: usize,
    pub(crate) client_ids: Vec<ClientMessageId>,
    pub(crate) index: HashMap<ClientMessageId, usize>,
    pub(crate) sent: Vec<AtomicU64>,
    pub(crate) answered: Vec<AtomicU64>,
    pub(crate) received: [Vec<AtomicU64>; SLOTS],
    pub(crate) delivered: [[AtomicUsize; MODES]; SLOTS],
    pub(crate) send_failures: [AtomicUsize; MODES],
    pub(crate) duplicates: AtomicUsize,
    pub(crate) unexpected: AtomicUsize,
    pub(crate) socket_errors: AtomicUsize,
    pub(crate) progress: Notify,
}

impl Tracker {
    pub(crate) fn new(per_mode: usize) -> Self {
        let total = per_mode * Mode::ALL.len();
        let client_ids: Vec<ClientMessageId> = (0..total)
            .map(|global| {
                let (mode, i) = (Mode::ALL[global / per_mode], global % per_mode);
                let id = match mode {
                    // Worker w sends i = w, w + C, w + 2C, ...: its own sequence 0, 1, 2, ...
                    Mode::Rest | Mode::Federated => {
                        format!("{}-w{}-{}", mode.tag(), i % REST_CONCURRENCY, i / REST_CONCURRENCY)
                    }
                    Mode::Ws => format!("ws-{i}"),
                };
                ClientMessageId::new(id).expect("short printable ids are valid")
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

    pub(crate) fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    pub(crate) fn global(&self, mode: Mode, i: usize) -> usize {
        mode.index() * self.per_mode + i
    }

    pub(crate) fn delivered_to_all(&self, mode: Mode) -> usize {
        mode.recipients()
            .map(|r| self.delivered[r][mode.index()].load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    /// Messages of `mode` sent and answered without an error, so expected at the recipients.
    pub(crate) fn expected(&self, mode: Mode) -> usize {
        self.per_mode - self.send_failures[mode.index()].load(Ordering::Acquire)
    }
}

/// Counts an unexpected error or frame, printing the first few.
pub(crate) fn count_error(tracker: &Tracker, report: &str) {
    if tracker.socket_errors.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
        eprintln!("{report}");
    }
}

/// Waits until every expected message of `mode` reached every recipient, or the deadline passes.
pub(crate) async fn wait_delivered(tracker: &Tracker, mode: Mode, deadline: tokio::time::Instant) -> bool {
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
pub(crate) fn progress(tracker: &Tracker, mode: Mode, sent: usize) {
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
