//! Webhooks: a user registers a URL for events about themselves and their conversations. Deliveries
//! carry metadata only (never ciphertext), are signed with the hook's secret, retried with capped
//! exponential backoff and jitter, and their outcomes are kept for the owner to inspect. Deliveries in
//! flight are not resumed after a restart; their records say how far they got.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::Utc;
use protocol::api::{
    CreateWebhookRequest, DeliveryStatus, Timestamp, Webhook, WebhookDelivery, WebhookDeliveryList, WebhookList,
};
use protocol::webhooks::{SIGNATURE_HEADER, WebhookEvent, WebhookPayload, sign};
use protocol::{UserId, WebhookId};
use regex::Regex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};

use crate::storage::{Store, decode, encode, keys};
use crate::tasks::Tasks;
use crate::{Actor, Config, Error, Result, validate};

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(protocol::api::WEBHOOK_URL_PATTERN).expect("the pattern compiles"));

/// Most hooks one user may register.
pub(crate) const MAX_HOOKS_PER_USER: usize = 10;
/// Attempts per delivery before it is marked failed.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// Deliveries waiting for a sender; beyond it new events are recorded as failed rather than queued.
const QUEUE: usize = 10_000;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 32;
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HookRecord {
    id: WebhookId,
    owner_id: UserId,
    url: String,
    events: Vec<WebhookEvent>,
    secret: String,
    created_at: Timestamp,
}

impl HookRecord {
    fn api(&self) -> Webhook {
        Webhook {
            id: self.id,
            owner_id: self.owner_id,
            url: self.url.clone(),
            events: self.events.clone(),
            created_at: self.created_at,
        }
    }
}

struct Job {
    hook: HookRecord,
    record_key: Vec<u8>,
    delivery: WebhookDelivery,
    body: Vec<u8>,
}

/// The webhooks service.
pub struct Webhooks {
    store: Store,
    config: Arc<Config>,
    queue: mpsc::Sender<Job>,
    pending: Mutex<Option<mpsc::Receiver<Job>>>,
    http: reqwest::Client,
    tasks: Tasks,
    /// Whether any hook may exist: false only while the store held none when the node started and
    /// none was registered since. An event on a node without hooks then reads nothing (sled's
    /// `is_empty` starts a scan, 0.8 % of a messaging node's time).
    may_have_hooks: AtomicBool,
}

impl Webhooks {
    pub(crate) fn new(store: Store, config: Arc<Config>, tasks: Tasks) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default();
        let may_have_hooks = AtomicBool::new(!store.trees.userwebhook_webhook.is_empty());
        Self {
            may_have_hooks,
            store,
            config,
            queue,
            pending: Mutex::new(Some(pending)),
            http,
            tasks,
        }
    }

    fn hooks_of(&self, owner: UserId) -> Result<Vec<HookRecord>> {
        let mut hooks = Vec::new();
        for entry in self.store.trees.userwebhook_webhook.scan_prefix(owner.as_bytes()) {
            let (key, _) = entry?;
            let Some(id) = keys::id_at(&key, 16) else { continue };
            if let Some(bytes) = self.store.trees.webhookid_webhook.get(id)? {
                hooks.push(decode(&bytes)?);
            }
        }
        Ok(hooks)
    }

    fn own(&self, actor: &Actor, id: WebhookId) -> Result<HookRecord> {
        let hook: Option<HookRecord> = self
            .store
            .trees
            .webhookid_webhook
            .get(id.as_bytes())?
            .map(|b| decode(&b))
            .transpose()?;
        hook.filter(|hook| hook.owner_id == actor.user_id)
            .ok_or(Error::NotFound("webhook"))
    }

    /// Registers a hook.
    pub async fn create(&self, actor: &Actor, request: CreateWebhookRequest) -> Result<Webhook> {
        let url = validate::text("url", &request.url, 1, 2048)?;
        // The pattern keeps to what parses, but for one thing a pattern cannot see: punycode (`xn--`).
        if !URL.is_match(&url) || reqwest::Url::parse(&url).is_err() {
            return Err(Error::invalid(
                "url",
                "must be an http(s) URL to a host name or IPv4 address, in printable ASCII",
            ));
        }
        if request.events.is_empty() {
            return Err(Error::invalid("events", "must name at least one event"));
        }
        let secret = request.secret;
        if !(16..=256).contains(&secret.chars().count()) {
            return Err(Error::invalid("secret", "must be 16 to 256 characters"));
        }
        if self.hooks_of(actor.user_id)?.len() >= MAX_HOOKS_PER_USER {
            return Err(Error::Conflict(format!(
                "at most {MAX_HOOKS_PER_USER} webhooks per user"
            )));
        }
        let mut events = request.events;
        events.dedup();
        let hook = HookRecord {
            id: WebhookId::random(),
            owner_id: actor.user_id,
            url,
            events,
            secret,
            created_at: Utc::now(),
        };
        // Before the hook is stored: an event that finds the flag unset came before the registration.
        self.may_have_hooks.store(true, Ordering::SeqCst);
        self.store
            .trees
            .webhookid_webhook
            .insert(hook.id.as_bytes(), encode(&hook))?;
        self.store
            .trees
            .userwebhook_webhook
            .insert(keys::join(&[actor.user_id.as_bytes(), hook.id.as_bytes()]), &[])?;
        self.store.commit().await?;
        Ok(hook.api())
    }

    /// The caller's hooks.
    pub fn list(&self, actor: &Actor) -> Result<WebhookList> {
        Ok(WebhookList {
            webhooks: self.hooks_of(actor.user_id)?.iter().map(HookRecord::api).collect(),
        })
    }

    /// Removes a hook and its delivery records.
    pub async fn delete(&self, actor: &Actor, id: WebhookId) -> Result<()> {
        let hook = self.own(actor, id)?;
        let t = &self.store.trees;
        t.webhookid_webhook.remove(id.as_bytes())?;
        t.userwebhook_webhook
            .remove(keys::join(&[hook.owner_id.as_bytes(), id.as_bytes()]))?;
        for entry in t.webhookpos_delivery.scan_prefix(id.as_bytes()) {
            t.webhookpos_delivery.remove(entry?.0)?;
        }
        self.store.commit().await
    }

    /// A hook's last 100 deliveries, newest first.
    pub fn deliveries(&self, actor: &Actor, id: WebhookId) -> Result<WebhookDeliveryList> {
        self.own(actor, id)?;
        let deliveries = self
            .store
            .trees
            .webhookpos_delivery
            .scan_prefix(id.as_bytes())
            .rev()
            .take(100)
            .map(|entry| decode(&entry?.1))
            .collect::<Result<_>>()?;
        Ok(WebhookDeliveryList { deliveries })
    }

    /// Queues an event for every hook of these users that subscribed to it. Never blocks the caller:
    /// when the queue is full the delivery is recorded as failed. The event's data is built only
    /// once a hook wants it: every message announces itself here, and most users have no hooks.
    pub(crate) fn emit(
        &self,
        owners: impl IntoIterator<Item = UserId>,
        event: WebhookEvent,
        data: impl FnOnce() -> serde_json::Value,
    ) {
        if let Err(err) = self.try_emit(owners, event, data) {
            tracing::warn!(error = %err, "recording a webhook delivery failed");
        }
    }

    fn try_emit(
        &self,
        owners: impl IntoIterator<Item = UserId>,
        event: WebhookEvent,
        data: impl FnOnce() -> serde_json::Value,
    ) -> Result<()> {
        if !self.may_have_hooks.load(Ordering::SeqCst) || self.store.trees.userwebhook_webhook.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let data = std::cell::LazyCell::new(data);
        for owner in owners {
            for hook in self
                .hooks_of(owner)?
                .into_iter()
                .filter(|hook| hook.events.contains(&event))
            {
                let delivery_id = uuid::Uuid::new_v4().to_string();
                let payload = WebhookPayload {
                    delivery_id: delivery_id.clone(),
                    event,
                    timestamp: now,
                    data: serde_json::Value::clone(&data),
                };
                let body = serde_json::to_vec(&payload).map_err(|err| Error::Internal(err.to_string()))?;
                let record_key = keys::join(&[hook.id.as_bytes(), &self.store.next_id()?.to_be_bytes()]);
                let mut delivery = WebhookDelivery {
                    id: delivery_id,
                    event,
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    last_status_code: None,
                    last_error: None,
                    created_at: now,
                    updated_at: now,
                };
                self.store
                    .trees
                    .webhookpos_delivery
                    .insert(&record_key, encode(&delivery))?;
                let job = Job {
                    hook,
                    record_key,
                    delivery: delivery.clone(),
                    body,
                };
                if let Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) =
                    self.queue.try_send(job)
                {
                    delivery.status = DeliveryStatus::Failed;
                    delivery.last_error = Some("delivery queue full".into());
                    self.store
                        .trees
                        .webhookpos_delivery
                        .insert(&job.record_key, encode(&delivery))?;
                }
            }
        }
        Ok(())
    }

    /// Sends queued deliveries until the node stops. Runs once per node; later calls return at once.
    pub(crate) async fn run(self: Arc<Self>) {
        let Some(mut pending) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        while let Some(job) = pending.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let hooks = self.clone();
            self.tasks.spawn(async move {
                hooks.deliver(job).await;
                drop(slot);
            });
        }
    }

    async fn deliver(&self, mut job: Job) {
        let signature = sign(job.hook.secret.as_bytes(), &job.body);
        for attempt in 1..=MAX_ATTEMPTS {
            let result = self
                .http
                .post(&job.hook.url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .header(
                    "x-parley-event",
                    serde_json::to_value(job.delivery.event)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                )
                .header("x-parley-delivery", &job.delivery.id)
                .body(job.body.clone())
                .send()
                .await;
            let delivery = &mut job.delivery;
            delivery.attempts = attempt;
            delivery.updated_at = Utc::now();
            match result {
                Ok(response) if response.status().is_success() => {
                    delivery.status = DeliveryStatus::Delivered;
                    delivery.last_status_code = Some(response.status().as_u16());
                    delivery.last_error = None;
                }
                Ok(response) => {
                    delivery.last_status_code = Some(response.status().as_u16());
                    delivery.last_error = Some(format!("receiver answered {}", response.status()));
                }
                Err(err) => delivery.last_error = Some(err.to_string()),
            }
            let done = delivery.status == DeliveryStatus::Delivered;
            if !done && attempt == MAX_ATTEMPTS {
                delivery.status = DeliveryStatus::Failed;
            }
            if let Err(err) = self
                .store
                .trees
                .webhookpos_delivery
                .insert(&job.record_key, encode(&*delivery))
            {
                tracing::warn!(error = %err, "recording a webhook attempt failed");
            }
            if done || attempt == MAX_ATTEMPTS {
                return;
            }
            // The first retry waits twice the base, as it always has.
            let wait = crate::backoff::delay(self.config.webhook_retry_base, MAX_BACKOFF, attempt + 1);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_urls_are_http_to_a_host_or_ipv4_address_and_parse() {
        for good in [
            "http://127.0.0.1:9/x",
            " https://hooks.example.org/a?b=c#d ",
            "http://localhost:65535",
            "http://a-1.b2.c",
        ] {
            assert!(URL.is_match(good), "{good:?}");
            assert!(reqwest::Url::parse(good.trim()).is_ok(), "{good:?}");
        }
        for bad in [
            "ftp://x",
            "http://",
            "http://1.2.3.4.5",
            "http://256.1.1.1",
            "http://a:65536",
            "http://a b",
            "http://[::1]/",
            "http://é.fr",
        ] {
            assert!(!URL.is_match(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_node_that_starts_with_hooks_in_its_store_looks_them_up() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(Config::new(dir.path()));
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        let none = Webhooks::new(store.clone(), config.clone(), Tasks::default());
        assert!(!none.may_have_hooks.load(Ordering::SeqCst));
        let owner = UserId::random();
        store
            .trees
            .userwebhook_webhook
            .insert(keys::join(&[owner.as_bytes(), WebhookId::random().as_bytes()]), &[])
            .unwrap();
        let some = Webhooks::new(store, config, Tasks::default());
        assert!(some.may_have_hooks.load(Ordering::SeqCst));
    }
}
