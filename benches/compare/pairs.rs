//! The workload both servers run, written once so the only difference between them is the protocol:
//! U users in U/2 pairs; each pair's sender sends M messages keeping at most W in flight (sent but
//! not yet seen on the partner's connection), and the partner acknowledges each one it sees.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Sends messages to one partner.
pub(crate) trait Outbox: Send + 'static {
    /// Hands message `id` to the server. It returns once the message is on its way, not once it is
    /// answered, so a protocol with request/response sends keeps W requests going at once.
    fn send(&mut self, id: u64) -> impl Future<Output = Result<(), String>> + Send;
}

/// Receives messages on one user's connection.
pub(crate) trait Inbox: Send + 'static {
    /// What acknowledging a message needs (its server id, its sender).
    type Receipt: Send;

    /// The next message, skipping every other event.
    fn next(&mut self) -> impl Future<Output = Result<(u64, Self::Receipt), String>> + Send;

    /// Tells the server (and through it the sender) that the message arrived.
    fn acknowledge(&mut self, receipt: Self::Receipt) -> impl Future<Output = Result<(), String>> + Send;
}

/// One sender and its partner, connected.
pub(crate) struct Pair<O, S, I> {
    pub(crate) outbox: O,
    /// The sender's own connection, drained of the receipts that come back to it.
    pub(crate) sender_inbox: S,
    pub(crate) inbox: I,
}

/// How one run went.
pub(crate) struct Outcome {
    /// End-to-end latency of every message, milliseconds.
    pub(crate) latencies: Vec<f64>,
    /// From the first send to the last message seen.
    pub(crate) wall: Duration,
    /// The run's connections, still open: closing a sender's session while its partner's last
    /// receipts are on their way would turn them into offline messages (extra work for the server),
    /// so they close only once the caller has read the server's CPU time.
    pub(crate) connections: Vec<Box<dyn Send>>,
}

/// Message ids carry the run in their high half, so a message left over from an earlier run (a
/// replay on reconnect) is acknowledged but not counted.
fn message_id(run: u32, seq: u32) -> u64 {
    (u64::from(run) << 32) | u64::from(seq)
}

/// What a pair's task hands back.
enum Finished {
    Sender(Box<dyn Send>),
    Receiver(Vec<f64>, Box<dyn Send>),
}

/// Runs M messages per pair with window W over every pair at once, bounded by `timeout`.
pub(crate) async fn run<O, S, I>(
    pairs: Vec<Pair<O, S, I>>,
    run: u32,
    messages: u32,
    window: usize,
    timeout: Duration,
) -> Result<Outcome, String>
where
    O: Outbox,
    S: Inbox,
    I: Inbox,
{
    let started = Instant::now();
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    let mut drains = tokio::task::JoinSet::new();
    for (index, pair) in pairs.into_iter().enumerate() {
        let flight = Arc::new(Flight::new(window, messages, run, started));
        drains.spawn(drain(pair.sender_inbox, stop.clone()));
        tasks.spawn(send_all(pair.outbox, flight.clone()));
        tasks.spawn(receive_all(pair.inbox, index, flight));
    }
    let collected = tokio::time::timeout(timeout, async {
        let (mut latencies, mut connections) = (Vec::new(), Vec::new());
        while let Some(task) = tasks.join_next().await {
            match task.map_err(|err| format!("a pair's task failed: {err}"))?? {
                Finished::Sender(outbox) => connections.push(outbox),
                Finished::Receiver(samples, inbox) => {
                    latencies.extend(samples);
                    connections.push(inbox);
                }
            }
        }
        Ok::<_, String>((latencies, connections))
    })
    .await;
    let wall = started.elapsed();
    let Ok(collected) = collected else {
        drains.abort_all();
        return Err(format!("run {run} did not finish within {timeout:?}"));
    };
    let (latencies, mut connections) = collected?;
    stop.notify_waiters();
    while let Some(drained) = drains.join_next().await {
        connections.push(drained.map_err(|err| format!("a sender's reader failed: {err}"))?);
    }
    Ok(Outcome {
        latencies,
        wall,
        connections,
    })
}

/// What a sender and its readers share: the window's credit and when each message left. The group
/// row uses it too, with the last member to see a message as its arrival.
pub(crate) struct Flight {
    credit: Semaphore,
    /// Nanoseconds from `started` at which each message was sent.
    sent_at: Vec<AtomicU64>,
    pub(crate) started: Instant,
    run: u32,
}

impl Flight {
    /// `messages` messages of run `run`, at most `window` in flight, timed from `started`.
    pub(crate) fn new(window: usize, messages: u32, run: u32, started: Instant) -> Self {
        Self {
            credit: Semaphore::new(window),
            sent_at: (0..messages).map(|_| AtomicU64::new(0)).collect(),
            started,
            run,
        }
    }

    pub(crate) fn messages(&self) -> usize {
        self.sent_at.len()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Sends every message through `outbox`, each once the window has room, noting when it left.
    pub(crate) async fn send_all<O: Outbox>(&self, outbox: &mut O) -> Result<(), String> {
        for seq in 0..self.messages() as u32 {
            self.credit
                .acquire()
                .await
                .map_err(|err| format!("window closed: {err}"))?
                .forget();
            self.sent_at[seq as usize].store(self.now(), Ordering::Release);
            outbox.send(message_id(self.run, seq)).await?;
        }
        Ok(())
    }

    /// The message an id names, if it is one of this run's.
    pub(crate) fn seq_of(&self, id: u64) -> Option<usize> {
        let seq = (id & u64::from(u32::MAX)) as usize;
        (id >> 32 == u64::from(self.run) && seq < self.messages()).then_some(seq)
    }

    /// Message `seq` has arrived: milliseconds since it was sent, and room for one more in flight.
    pub(crate) fn arrived(&self, seq: usize) -> f64 {
        let sent = self.sent_at[seq].load(Ordering::Acquire);
        let ms = self.now().saturating_sub(sent) as f64 / 1e6;
        self.credit.add_permits(1);
        ms
    }
}

async fn send_all<O: Outbox>(mut outbox: O, flight: Arc<Flight>) -> Result<Finished, String> {
    flight.send_all(&mut outbox).await?;
    Ok(Finished::Sender(Box::new(outbox)))
}

async fn receive_all<I: Inbox>(mut inbox: I, pair: usize, flight: Arc<Flight>) -> Result<Finished, String> {
    let messages = flight.messages();
    let mut seen = vec![false; messages];
    let mut latencies = Vec::with_capacity(messages);
    while latencies.len() < messages {
        let (id, receipt) = inbox
            .next()
            .await
            .map_err(|err| format!("pair {pair}, after {} of {messages} messages: {err}", latencies.len()))?;
        if let Some(seq) = flight.seq_of(id).filter(|seq| !seen[*seq]) {
            seen[seq] = true;
            latencies.push(flight.arrived(seq));
        }
        inbox.acknowledge(receipt).await?;
    }
    Ok(Finished::Receiver(latencies, Box::new(inbox)))
}

/// Reads the sender's own connection so the server never blocks on it, until `stop`; reading is
/// cancel-safe for both protocols (a stream's `next`).
async fn drain<S: Inbox>(mut inbox: S, stop: Arc<tokio::sync::Notify>) -> Box<dyn Send> {
    let stopped = stop.notified();
    tokio::pin!(stopped);
    // Registered now, so a stop sent before this task first waits is not missed.
    stopped.as_mut().enable();
    loop {
        tokio::select! {
            () = &mut stopped => return Box::new(inbox),
            next = inbox.next() => match next {
                Ok((_, receipt)) => {
                    if inbox.acknowledge(receipt).await.is_err() {
                        return Box::new(inbox);
                    }
                }
                Err(_) => return Box::new(inbox),
            },
        }
    }
}
