//! Parley only: the cost of fan-out. One sender posts into a GROUP whose every other member is
//! connected and acknowledges each message; at most W messages are in flight, a message counting as
//! arrived once the last member's socket has yielded it. The figure to hold against the DM rows is
//! server CPU per delivered copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::api::Registered;
use crate::measure::{cpu_seconds, quantile};
use crate::pairs::{Flight, Inbox};
use crate::parley::ParleyNode;

/// What one group run measured.
pub(crate) struct GroupSample {
    pub(crate) members: usize,
    pub(crate) messages: usize,
    pub(crate) per_second: f64,
    /// Server CPU milliseconds per copy delivered to a member.
    pub(crate) cpu_ms_per_copy: f64,
    /// Until the last member has the message.
    pub(crate) p99_ms: f64,
}

/// Shared by the sender and every member's reader.
struct Fanout {
    flight: Flight,
    /// Members that have seen each message.
    seen_by: Vec<AtomicUsize>,
    /// Milliseconds from send to the last member, per message, once complete.
    done_ms: std::sync::Mutex<Vec<f64>>,
    recipients: usize,
}

/// Runs `messages` sends from `accounts[0]` into a new group of `accounts[..members]`.
pub(crate) async fn run(
    node: &ParleyNode,
    accounts: &[Registered],
    members: usize,
    messages: u32,
    window: usize,
    timeout: Duration,
) -> Result<GroupSample, String> {
    let (sender, others) = accounts[..members].split_first().ok_or("a group needs members")?;
    let body = node.conversation("GROUP", sender, others).await?;
    let mut readers = Vec::with_capacity(others.len());
    for member in others {
        readers.push(node.inbox(member).await?);
    }
    // The sender hears every member's receipt; read so the node never drops its socket as too slow.
    let mut drain = node.inbox(sender).await?;
    let draining = tokio::spawn(async move { while drain.next().await.is_ok() {} });
    let mut outbox = node.outbox(sender, &body, window);
    // Run 0: a group row runs once on a fresh group, so no earlier run's message can turn up.
    let fanout = Arc::new(Fanout {
        flight: Flight::new(window, messages, 0, Instant::now()),
        seen_by: (0..messages).map(|_| AtomicUsize::new(0)).collect(),
        done_ms: std::sync::Mutex::new(Vec::with_capacity(messages as usize)),
        recipients: others.len(),
    });
    let cpu_before = cpu_seconds(node.pid())?;
    let mut tasks = tokio::task::JoinSet::new();
    for reader in readers {
        tasks.spawn(read_all(reader, fanout.clone()));
    }
    let sending = fanout.flight.send_all(&mut outbox);
    let receiving = async {
        while let Some(reader) = tasks.join_next().await {
            reader.map_err(|err| format!("a member's reader failed: {err}"))??;
        }
        Ok::<_, String>(())
    };
    tokio::time::timeout(timeout, async { tokio::try_join!(sending, receiving) })
        .await
        .map_err(|_| format!("the group run did not finish within {timeout:?}"))??;
    let wall = fanout.flight.started.elapsed();
    tokio::time::sleep(crate::measure::SETTLE).await;
    let cpu = cpu_seconds(node.pid())? - cpu_before;
    draining.abort();
    drop(outbox);
    let mut done = std::mem::take(&mut *fanout.done_ms.lock().map_err(|_| "a reader panicked")?);
    done.sort_by(f64::total_cmp);
    let copies = (messages as usize * others.len()) as f64;
    Ok(GroupSample {
        members,
        messages: messages as usize,
        per_second: f64::from(messages) / wall.as_secs_f64(),
        cpu_ms_per_copy: cpu * 1000.0 / copies,
        p99_ms: quantile(&done, 0.99),
    })
}

/// One member's socket: counts each message once and acknowledges it.
async fn read_all<I: Inbox>(mut inbox: I, fanout: Arc<Fanout>) -> Result<(), String> {
    let messages = fanout.flight.messages();
    let mut seen = vec![false; messages];
    let mut count = 0;
    while count < messages {
        let (id, receipt) = inbox.next().await?;
        if let Some(seq) = fanout.flight.seq_of(id).filter(|seq| !seen[*seq]) {
            seen[seq] = true;
            count += 1;
            if fanout.seen_by[seq].fetch_add(1, Ordering::AcqRel) + 1 == fanout.recipients {
                let ms = fanout.flight.arrived(seq);
                fanout.done_ms.lock().map_err(|_| "a reader panicked")?.push(ms);
            }
        }
        inbox.acknowledge(receipt).await?;
    }
    Ok(())
}
