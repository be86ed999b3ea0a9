//! The durable per-destination outbox: every event for another node is written to sled in the same
//! transaction as the change it reports, and a worker per destination delivers it in order, in batches,
//! until that node acknowledges it. Failures back off exponentially (capped, with jitter) and the queue
//! survives restarts; receivers deduplicate, so sending an event twice after a crash is harmless. A
//! worker whose queue stays empty retires, so a node that has talked to thousands of others keeps tasks
//! only for those it has something for.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use libp2p::PeerId;
use protocol::federation::{Envelope, Event, NodeName, Request, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::federation::{Client, Destination};
use crate::metrics::{Histograms, PeerLabel};
use crate::storage::{Store, TreeId, WriteSet, decode, encode, keys};
use crate::tasks::Tasks;
use crate::{Error, Result};

/// Most events one delivery request carries.
const MAX_BATCH_EVENTS: usize = 64;
/// A batch stops growing past this many bytes (one event may exceed it alone).
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// The first retry waits about this long; each failure doubles it up to the configured cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// A worker with nothing to send retires after this long without a wake-up (having looked at its queue
/// once more, in case a wake-up was missed).
const IDLE_RETIREMENT: Duration = Duration::from_secs(30);

/// The oldest events queued for one node, with their keys (removed once delivered).
struct Batch {
    peer: PeerId,
    keys: Vec<sled::IVec>,
    envelopes: Vec<Envelope>,
    queued_at_ms: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct OutboxEntry {
    peer_id: Vec<u8>,
    envelope: Envelope,
    /// When it was queued (Unix milliseconds), for the delivery latency; 0 in entries queued before
    /// it was kept.
    #[serde(default)]
    queued_at_ms: u64,
}

/// The outbox and its delivery workers.
pub(crate) struct Outbox {
    store: Store,
    key: SigningKey,
    max_backoff: Duration,
    client: OnceLock<Client>,
    workers: Mutex<HashMap<NodeName, Arc<Notify>>>,
    /// Destinations whose last delivery failed: a send for one does not wait for it (`is_failing`).
    failing: Mutex<HashSet<NodeName>>,
    tasks: Tasks,
    /// From queueing to the destination accepting, per destination (see `metrics`).
    pub(crate) delivery_seconds: Histograms<PeerLabel>,
}

impl Outbox {
    pub(crate) fn new(store: Store, key: SigningKey, max_backoff: Duration, tasks: Tasks) -> Self {
        Self {
            store,
            key,
            max_backoff: max_backoff.max(FIRST_BACKOFF),
            client: OnceLock::new(),
            workers: Mutex::new(HashMap::new()),
            failing: Mutex::new(HashSet::new()),
            tasks,
            delivery_seconds: Histograms::new_with_constructor(crate::metrics::delivery),
        }
    }

    /// Signs an event with the node key.
    pub(crate) fn seal(&self, event: &Event) -> Result<Envelope> {
        Envelope::seal(event, &self.key).map_err(|err| Error::Internal(format!("sealing an event: {err}")))
    }

    /// Queues an event as part of a write set; call [`Outbox::wake`] after the commit.
    pub(crate) fn push_into(&self, set: &mut WriteSet<'_>, to: &Destination, envelope: Envelope) -> Result<()> {
        let position = set.next_id()?;
        let entry = OutboxEntry {
            peer_id: to.peer.to_bytes(),
            envelope,
            queued_at_ms: now_ms(),
        };
        set.insert(
            TreeId::nodepos_outbox,
            keys::outbox_entry(&to.node, position),
            encode(&entry),
        );
        Ok(())
    }

    /// Queues an event on its own and wakes its worker; the caller commits before acknowledging.
    /// Returns the event's place in `to`'s queue (see [`Outbox::is_queued`]).
    pub(crate) fn push(self: &Arc<Self>, to: &Destination, event: &Event) -> Result<u64> {
        let entry = OutboxEntry {
            peer_id: to.peer.to_bytes(),
            envelope: self.seal(event)?,
            queued_at_ms: now_ms(),
        };
        let position = self.store.next_id()?;
        self.store
            .trees
            .nodepos_outbox
            .insert(keys::outbox_entry(&to.node, position), encode(&entry))?;
        self.wake(&to.node);
        Ok(position)
    }

    /// Whether the event queued for `node` at `position` still waits (it leaves once `node` took it).
    pub(crate) fn is_queued(store: &Store, node: &NodeName, position: u64) -> Result<bool> {
        Ok(store
            .trees
            .nodepos_outbox
            .contains_key(keys::outbox_entry(node, position))?)
    }

    /// Whether the last delivery to `node` failed (it is down or unreachable, as far as this node
    /// knows): a send into a conversation it hosts is then answered `pending` without waiting for it.
    pub(crate) fn is_failing(&self, node: &NodeName) -> bool {
        self.failing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(node)
    }

    fn set_failing(&self, node: &NodeName, failing: bool) {
        let mut nodes = self.failing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match failing {
            true => nodes.insert(node.clone()),
            false => nodes.remove(node),
        };
    }

    /// Takes the events `matches` picks out of `node`'s queue, in order, removing them in `set`: work
    /// queued for a conversation's host that another node hosts now.
    pub(crate) fn take_queued(
        &self,
        set: &mut WriteSet<'_>,
        node: &NodeName,
        matches: impl Fn(&Event) -> bool,
    ) -> Result<Vec<(Envelope, Event)>> {
        let own = self.key.verifying_key().to_bytes();
        let mut taken = Vec::new();
        for item in self.store.trees.nodepos_outbox.scan_prefix(keys::outbox_prefix(node)) {
            let (key, value) = item?;
            let entry: OutboxEntry = decode(&value)?;
            // Every queued event was sealed here; one that does not open is left for its worker.
            let Ok(event) = entry.envelope.open(&own) else {
                continue;
            };
            if matches(&event) {
                set.remove(TreeId::nodepos_outbox, key.to_vec());
                taken.push((entry.envelope, event));
            }
        }
        Ok(taken)
    }

    /// Events waiting for a node.
    pub(crate) fn depth(&self, node: &NodeName) -> u64 {
        self.store
            .trees
            .nodepos_outbox
            .scan_prefix(keys::outbox_prefix(node))
            .count() as u64
    }

    /// Events waiting, per destination that has any: one pass over the queue.
    pub(crate) fn depths(&self) -> Result<Vec<(String, u64)>> {
        let mut depths: Vec<(String, u64)> = Vec::new();
        for item in self.store.trees.nodepos_outbox.iter().keys() {
            let key = item?;
            let name = keys::outbox_destination(&key).ok_or_else(|| Error::Corrupt("outbox key".into()))?;
            match depths.last_mut() {
                Some((last, depth)) if last.as_str() == name => *depth += 1,
                _ => depths.push((name.to_owned(), 1)),
            }
        }
        Ok(depths)
    }

    /// Events waiting for all nodes.
    pub(crate) fn total_depth(&self) -> u64 {
        self.store.trees.nodepos_outbox.len() as u64
    }

    /// Tells a destination's worker there is work (or that its node is back); starts the worker if
    /// federation runs and it has none yet.
    pub(crate) fn wake(self: &Arc<Self>, node: &NodeName) {
        let Some(client) = self.client.get() else {
            return;
        };
        let mut workers = self.workers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(notify) = workers.get(node) {
            notify.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(node.clone(), notify.clone());
        self.tasks
            .spawn(self.clone().work(client.clone(), node.clone(), notify));
    }

    /// Removes an idle worker unless its queue has events. Under the workers' lock, which `wake` takes
    /// before it looks for a worker: an event queued after this look finds no worker and starts one.
    fn retire(&self, node: &NodeName) -> bool {
        let mut workers = self.workers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match self.next_batch(node) {
            Ok(None) => {
                workers.remove(node);
                true
            }
            Ok(Some(_)) | Err(_) => false,
        }
    }

    /// Destinations with a worker now.
    #[cfg(test)]
    fn workers(&self) -> usize {
        self.workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Starts delivering: one worker for every destination with queued events.
    pub(crate) fn start(self: &Arc<Self>, client: Client) {
        if self.client.set(client).is_err() {
            return;
        }
        let mut destinations = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let next = self.store.trees.nodepos_outbox.range(from.clone()..).next();
            let Some(Ok((key, _))) = next else { break };
            let Some(node) = keys::outbox_node(&key) else {
                tracing::error!("an outbox key names no node; skipped");
                let _ = self.store.trees.nodepos_outbox.remove(&key);
                continue;
            };
            from = keys::outbox_prefix(&node);
            from.extend_from_slice(&[0xff; 9]);
            destinations.push(node);
        }
        for node in destinations {
            tracing::info!(%node, depth = self.depth(&node), "resuming deliveries");
            self.wake(&node);
        }
    }

    /// The oldest queued events of a node, up to the batch limits, with their keys.
    fn next_batch(&self, node: &NodeName) -> Result<Option<Batch>> {
        let mut keys = Vec::new();
        let mut envelopes = Vec::new();
        let mut queued_at_ms = Vec::new();
        let mut bytes = 0;
        let mut peer = None;
        for item in self.store.trees.nodepos_outbox.scan_prefix(keys::outbox_prefix(node)) {
            let (key, value) = item?;
            let entry: OutboxEntry = decode(&value)?;
            let entry_peer =
                PeerId::from_bytes(&entry.peer_id).map_err(|_| Error::Corrupt("outbox entry peer id".into()))?;
            // A node's PeerId changes only if it was reinstalled; send to the newest one in a later batch.
            if *peer.get_or_insert(entry_peer) != entry_peer {
                break;
            }
            bytes += entry.envelope.body.len();
            keys.push(key);
            envelopes.push(entry.envelope);
            queued_at_ms.push(entry.queued_at_ms);
            if envelopes.len() >= MAX_BATCH_EVENTS || bytes >= MAX_BATCH_BYTES {
                break;
            }
        }
        Ok(peer.map(|peer| Batch {
            peer,
            keys,
            envelopes,
            queued_at_ms,
        }))
    }

    async fn work(self: Arc<Self>, client: Client, node: NodeName, notify: Arc<Notify>) {
        let mut failures = 0;
        loop {
            let Batch {
                peer,
                keys,
                envelopes,
                queued_at_ms,
            } = match self.next_batch(&node) {
                Ok(Some(batch)) => batch,
                Ok(None) => {
                    let woken = tokio::time::timeout(IDLE_RETIREMENT, notify.notified()).await;
                    if woken.is_err() && self.retire(&node) {
                        return;
                    }
                    continue;
                }
                Err(err) => {
                    tracing::error!(%node, error = %err, "reading the outbox failed");
                    tokio::time::sleep(self.max_backoff).await;
                    continue;
                }
            };
            let count = envelopes.len();
            let outcome = client.request(peer, Request::Deliver { envelopes }).await;
            match outcome {
                Ok(Response::Accepted {
                    applied,
                    rejected,
                    refused_submissions,
                }) => {
                    for reason in &rejected {
                        tracing::warn!(%node, reason, "the node refused an event for good; dropped");
                    }
                    for (message, reason) in &refused_submissions {
                        if let Err(err) = crate::messages::refuse_submission(&self.store, *message, reason) {
                            tracing::error!(%node, error = %err, "marking a refused message failed");
                        }
                    }
                    tracing::debug!(%node, applied, count, "events delivered");
                    let latency = self.delivery_seconds.get_or_create(&PeerLabel {
                        peer: node.as_str().to_owned(),
                    });
                    let now = now_ms();
                    for queued in queued_at_ms.into_iter().filter(|queued| *queued > 0) {
                        latency.observe(now.saturating_sub(queued) as f64 / 1000.0);
                    }
                    for key in keys {
                        if let Err(err) = self.store.trees.nodepos_outbox.remove(key) {
                            tracing::error!(%node, error = %err, "removing a delivered event failed");
                        }
                    }
                    failures = 0;
                    self.set_failing(&node, false);
                }
                failure => {
                    failures += 1;
                    self.set_failing(&node, true);
                    let backoff = crate::backoff::delay(FIRST_BACKOFF, self.max_backoff, failures);
                    match failure {
                        Ok(answer) => tracing::info!(%node, ?answer, "delivery refused; retrying later"),
                        Err(err) => {
                            tracing::info!(%node, error = %err, retry_in = ?backoff, "delivery failed; retrying later");
                            // The node may have moved or restarted: look its record up again.
                            let _ = client.resolve(node.clone()).await;
                        }
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }
}

/// Wall-clock time as Unix milliseconds: queue times survive restarts, unlike an `Instant`.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::federation::{Change, MessageChange};
    use protocol::{ConversationId, MessageId, UserId};

    fn deleted() -> Event {
        Event::Changed(MessageChange {
            conversation_id: ConversationId::random(),
            message_id: MessageId::random(),
            by: UserId::random(),
            at: chrono::Utc::now(),
            change: Change::Deleted,
        })
    }

    /// Waits (in paused time) until the outbox has delivered everything.
    async fn drained(outbox: &Outbox) {
        while outbox.total_depth() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_worker_retires_and_a_later_event_starts_another() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        let outbox = Arc::new(Outbox::new(store, key, Duration::from_secs(1), Tasks::default()));
        let (client, requests) = Client::accepting_every_delivery();
        outbox.start(client);
        let to = Destination {
            node: NodeName::new("node-b").unwrap(),
            peer: PeerId::random(),
        };

        outbox.push(&to, &deleted()).unwrap();
        drained(&outbox).await;
        assert_eq!(outbox.workers(), 1, "the worker waits a while for more");
        tokio::time::sleep(IDLE_RETIREMENT + Duration::from_secs(1)).await;
        assert_eq!(outbox.workers(), 0, "an idle worker retired");

        outbox.push(&to, &deleted()).unwrap();
        drained(&outbox).await;
        assert_eq!(
            requests.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "both events were delivered"
        );
    }
}
