//! The driver's users as real clients: the client SDK registers them (publishing their keys), creates
//! their conversations by handle, sends each planned message (encrypted per recipient device) and, in
//! each user's WebSocket listener, decrypts what arrives.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use client::{Client, Event, Registration, StoredMessage};
use futures_util::{StreamExt, TryStreamExt, stream};
use protocol::{ConversationId, MessageType};

use super::Shared;
use crate::Error;
use crate::engine::{client_message_id, is_plaintext_of, message_index, plaintext};
use crate::plan::{ConversationKind, Plan, PlannedConversation, PlannedUser};
use crate::progress::{Say, tenths};

/// The password every simulated user registers with.
const PASSWORD: &str = "simulated-user-password";
/// How long set-up keeps retrying one user or conversation: nodes find each other's names in the DHT a
/// little after they start, and a node with rate limits on answers 429 for a while.
const SETUP_PATIENCE: Duration = Duration::from_secs(60);
/// Users registered, or conversations created, at once (the nodes hash passwords; this machine may
/// run them all).
const SETUP_CONCURRENCY: usize = 8;
/// A client waits this long before trying again what its node refused or could not take.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// The longest one attempt (one SDK call, which makes several requests) may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Registers every planned user on its node, each with a profile directory under `profiles`.
pub(super) async fn register(
    plan: &Plan,
    urls: &[String],
    profiles: &Path,
    say: Say<'_>,
) -> Result<Vec<Client>, Error> {
    stream::iter(&plan.users)
        .map(|user| register_one(user, &urls[user.node], profiles))
        .buffered(SETUP_CONCURRENCY)
        .inspect_ok(tenths("registered", plan.users.len(), say))
        .try_collect()
        .await
}

async fn register_one(user: &PlannedUser, url: &str, profiles: &Path) -> Result<Client, Error> {
    let mut registration = Registration::new(
        user.username.as_str(),
        format!("{}@simulation.invalid", user.username),
        PASSWORD,
    );
    registration.device_name = Some("simulated device".to_owned());
    let profile = profiles.join(&user.username);
    let attempt = || Client::register(&profile, url, registration.clone());
    patiently(&format!("registering {} on {url}", user.username), attempt, |err| {
        err.is_transient()
    })
    .await
}

/// Creates every planned conversation, each by its first member, naming the others by handle.
pub(super) async fn create_conversations(
    plan: &Plan,
    names: &[String],
    clients: &[Client],
    say: Say<'_>,
) -> Result<Vec<ConversationId>, Error> {
    stream::iter(&plan.conversations)
        .map(|conversation| create_one(plan, names, clients, conversation))
        .buffered(SETUP_CONCURRENCY)
        .inspect_ok(tenths("created", plan.conversations.len(), say))
        .try_collect()
        .await
}

async fn create_one(
    plan: &Plan,
    names: &[String],
    clients: &[Client],
    planned: &PlannedConversation,
) -> Result<ConversationId, Error> {
    let creator = &clients[planned.host];
    let handles: Vec<String> = planned.members[1..]
        .iter()
        .map(|member| {
            let user = &plan.users[*member];
            format!("{}@{}", user.username, names[user.node])
        })
        .collect();
    let subject = format!("group {}", planned.index);
    let attempt = || async {
        match planned.kind {
            ConversationKind::Dm => creator.open_dm(handles[0].as_str()).await,
            ConversationKind::Group => creator.create_group(&subject, handles.iter().map(String::as_str)).await,
        }
    };
    // Remote members resolve only once their node's name is in the DHT: retry whatever went wrong.
    let created = patiently(&format!("conversation {}", planned.index), attempt, |_| true).await?;
    Ok(created.id)
}

/// Calls `attempt` until it succeeds, it fails in a way `retry` does not forgive, or set-up's patience
/// runs out; each attempt is bounded.
async fn patiently<T, F, Fut>(what: &str, attempt: F, retry: impl Fn(&client::Error) -> bool) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = client::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + SETUP_PATIENCE;
    loop {
        let error = match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt()).await {
            Ok(Ok(done)) => return Ok(done),
            Ok(Err(err)) if !retry(&err) => return Err(Error::Engine(format!("{what}: {err}"))),
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!("no answer in {ATTEMPT_TIMEOUT:?}"),
        };
        if tokio::time::Instant::now() + RETRY_AFTER >= deadline {
            return Err(Error::Engine(format!("{what}: {error}")));
        }
        tracing::debug!(what, error, "not done yet; retrying");
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Sends planned message `index` as its sender's client, with `client_message_id = sim-<index>` so a
/// retry is never stored twice, trying again after every failure until acknowledged or `until`.
pub(super) async fn send(shared: &Shared, index: usize, until: tokio::time::Instant) {
    let Shared {
        plan,
        clients,
        conversations,
        recorder,
        acknowledged,
        ..
    } = shared;
    let planned = plan.messages[index];
    let Some(id) = client_message_id(index) else {
        recorder.refused(index, "the driver built an invalid client_message_id".to_owned());
        return;
    };
    let body = plaintext(index, planned.size);
    let sender = &clients[planned.sender];
    let conversation = conversations[planned.conversation];
    loop {
        recorder.attempt(index);
        let attempt = sender.send_message(conversation, MessageType::Text, id.clone(), &body);
        match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await {
            Ok(Ok(sent)) => {
                // Every other member has one device: fewer copies means someone will never get this one.
                let others = plan.copies_owed(index);
                if sent.recipients.len() < others {
                    tracing::warn!(
                        planned = index,
                        copies = sent.recipients.len(),
                        others,
                        skipped = ?sent.skipped,
                        "the node listed fewer devices than the conversation has other members"
                    );
                }
                acknowledged
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(sent.message.message_id, index);
                recorder.acked(index);
                return;
            }
            Ok(Err(err)) => recorder.refused(index, err.to_string()),
            Err(_) => recorder.refused(index, format!("no answer in {ATTEMPT_TIMEOUT:?}")),
        }
        if tokio::time::Instant::now() + RETRY_AFTER >= until {
            return;
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// User `user`'s WebSocket listener until the run aborts it: every copy the SDK decrypted is recorded
/// as delivered when its plaintext is the one sent, as undecryptable otherwise. The SDK reconnects by
/// itself after a node restarts, and the node replays what was missed.
pub(super) async fn listen(shared: Arc<Shared>, user: usize) {
    let mut listener = shared.clients[user].listen();
    while let Some(event) = listener.next().await {
        match event {
            Event::Message(message) if !message.outgoing => take(&shared, user, &message),
            Event::Rejected { message_id, error, .. } => {
                tracing::warn!(user, %message_id, %error, "a copy could not be decrypted");
                shared
                    .rejected
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((message_id, user));
            }
            Event::Stopped { error } => {
                tracing::error!(user, %error, "a listener stopped for good");
                return;
            }
            _ => {}
        }
    }
}

fn take(shared: &Shared, user: usize, message: &StoredMessage) {
    // The planned message is named by the id the driver sent it with; its plaintext must say the same.
    let Some(index) = message_index(&message.client_message_id).filter(|index| *index < shared.plan.messages.len())
    else {
        return;
    };
    if is_plaintext_of(index, &message.plaintext.0) {
        shared.recorder.delivered(index, user, message.sequence_number);
    } else {
        shared.recorder.undecryptable(index, user);
    }
}
