//! Sending into a conversation another node hosts without waiting on that node. The message is
//! accepted here at once: kept durably, with the id it will keep, and queued in the same write for the
//! host (`Event::Submission` in the outbox, which delivers in order and retries until the host takes
//! it). The host orders it as it would a direct submission and relays it back like any message; that
//! ends its pending state here and tells the sender's devices (`message:sequenced`). A send waits a
//! moment for that round trip (`Lookups::timeout`), so with the host up it is answered in its place as
//! before; otherwise (at once when the last delivery to the host failed) it is answered `pending`.
//! Resending a `client_message_id` answers with the same message, pending or placed, and a host
//! refusing a queued message for good marks it `refused`.

use std::collections::HashMap;

use chrono::Utc;
use protocol::api::{Message, MessageState, SendMessageRequest, Timestamp};
use protocol::federation::{Event, Submission, SubmittedCopy};
use protocol::ws::ServerFrame;
use protocol::{ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::Messages;
use super::records::MessageRecord;
use super::write::{message_by_id, sent_with};
use crate::federation::Destination;
use crate::storage::{Store, TreeId, WriteSet, decode, encode, keys};
use crate::users::records::devices_of;
use crate::{Actor, Error, Result};

/// A message sent here into a conversation another node hosts, until that node ordered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingMessage {
    message_id: MessageId,
    conversation_id: ConversationId,
    sender_id: UserId,
    sender_device_id: DeviceId,
    client_message_id: ClientMessageId,
    message_type: MessageType,
    created_at: Timestamp,
    body: Option<String>,
    reply_to: Option<MessageId>,
    mentions: Vec<UserId>,
    forwarded_from: Option<MessageId>,
    /// Why the host refused it for good, once it did.
    refused: Option<String>,
}

impl PendingMessage {
    fn view(&self) -> Message {
        Message {
            id: self.message_id,
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            sender_device_id: self.sender_device_id,
            client_message_id: self.client_message_id.clone(),
            sequence_number: 0,
            message_type: self.message_type,
            is_deleted: false,
            is_edited: false,
            ciphertext: None,
            header: None,
            recipient_device_id: None,
            encrypted: self.body.is_none(),
            body: self.body.clone(),
            created_at: self.created_at,
            updated_at: None,
            reply_to: self.reply_to,
            mentions: self.mentions.clone(),
            forwarded_from: self.forwarded_from,
            reactions: Vec::new(),
            state: Some(match self.refused {
                Some(_) => MessageState::Refused,
                None => MessageState::Pending,
            }),
        }
    }
}

fn pending(store: &Store, id: MessageId) -> Result<Option<PendingMessage>> {
    store
        .trees
        .messageid_pending
        .get(id.as_bytes())?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// The host refused the queued message `id` for good (told by the outbox): it stays, marked refused.
pub(crate) fn refuse(store: &Store, id: MessageId, reason: &str) -> Result<()> {
    if let Some(mut message) = pending(store, id)? {
        tracing::warn!(message = %id, reason, "the host refused a queued message");
        message.refused = Some(reason.to_owned());
        store.trees.messageid_pending.insert(id.as_bytes(), encode(&message))?;
    }
    Ok(())
}

/// The message `id` as its sender sees it while it waits for its host, if it does.
pub(crate) fn pending_view(store: &Store, actor: &Actor, id: MessageId) -> Result<Option<Message>> {
    Ok(pending(store, id)?
        .filter(|message| message.sender_id == actor.user_id)
        .map(|message| message.view()))
}

impl Messages {
    /// Accepts a message for the conversation `host` orders (see the module's doc).
    pub(super) async fn submit(
        &self,
        actor: &Actor,
        host: &Destination,
        request: SendMessageRequest,
        forwarded_from: Option<MessageId>,
    ) -> Result<Message> {
        let conversation = request.conversation_id;
        let guard = self.locks.lock(conversation).await;
        let dedup = keys::idempotency(conversation, actor.user_id, &request.client_message_id);
        if let Some(known) = self.sent_before(actor, &dedup)? {
            drop(guard);
            self.store.commit().await?;
            return Ok(known);
        }
        let message = PendingMessage {
            message_id: MessageId::time_ordered(),
            conversation_id: conversation,
            sender_id: actor.user_id,
            sender_device_id: actor.device_id,
            client_message_id: request.client_message_id.clone(),
            message_type: request.message_type,
            created_at: Utc::now(),
            body: request.body.clone(),
            reply_to: request.reply_to,
            mentions: request.mentions.clone(),
            forwarded_from,
            refused: None,
        };
        let submission = Submission {
            conversation_id: conversation,
            sender_id: actor.user_id,
            sender_device_id: actor.device_id,
            client_message_id: request.client_message_id,
            message_type: request.message_type,
            copies: request.ciphertexts.into_iter().map(SubmittedCopy::from).collect(),
            body: request.body,
            reply_to: request.reply_to,
            mentions: request.mentions,
            forwarded_from,
            message_id: Some(message.message_id),
        };
        let envelope = self.outbox.seal(&Event::Submission(submission))?;
        let mut set = WriteSet::new(&self.store);
        set.insert(
            TreeId::messageid_pending,
            message.message_id.as_bytes(),
            encode(&message),
        );
        set.insert(TreeId::convsenderclient_pending, dedup, message.message_id.as_bytes());
        self.outbox.push_into(&mut set, host, envelope)?;
        set.apply()?;
        let placed = self.await_sequenced(message.message_id);
        drop(guard);
        self.store.commit().await?;
        self.outbox.wake(&host.node);
        match self.host_answers(host, placed).await? {
            true => self.get(actor, message.message_id),
            false => {
                self.forget_waiter(message.message_id);
                Ok(message.view())
            }
        }
    }

    /// Waits a moment for what was queued for `host` to come back from it (`answered`): with the host
    /// up the round trip is quick and the caller is answered with the result; a host the last delivery
    /// failed to reach is not waited for. True when it came back, its batch durable here too.
    pub(super) async fn host_answers(&self, host: &Destination, answered: oneshot::Receiver<()>) -> Result<bool> {
        let wait = match self.outbox.is_failing(&host.node) {
            true => std::time::Duration::ZERO,
            false => self.remote.lookups().timeout,
        };
        match tokio::time::timeout(wait, answered).await {
            Ok(Ok(())) => {
                // Written by a batch from the host that may not be on disk yet.
                self.store.commit().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The message already sent with this idempotency key: placed by the host, or still pending.
    fn sent_before(&self, actor: &Actor, dedup: &[u8]) -> Result<Option<Message>> {
        if let Some(id) = sent_with(&self.store, dedup)? {
            return Ok(Some(self.view(&message_by_id(&self.store, id)?, actor.device_id)?));
        }
        match self.store.trees.convsenderclient_pending.get(dedup)? {
            Some(id) => {
                let id = MessageId::from_slice(&id).ok_or_else(|| Error::Corrupt("pending index".into()))?;
                Ok(pending(&self.store, id)?.map(|message| message.view()))
            }
            None => Ok(None),
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<MessageId, oneshot::Sender<()>>> {
        self.sequenced_waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn await_sequenced(&self, id: MessageId) -> oneshot::Receiver<()> {
        let (placed, waiting) = oneshot::channel();
        self.waiters().insert(id, placed);
        waiting
    }

    fn forget_waiter(&self, id: MessageId) {
        self.waiters().remove(&id);
    }

    /// A message the host relayed was written here: if it was pending here, it no longer is, and the
    /// sender's devices hear where it went.
    pub(super) fn sequenced(&self, record: &MessageRecord) -> Result<Vec<(UserId, DeviceId, ServerFrame)>> {
        let t = &self.store.trees;
        let dedup = keys::idempotency(record.conversation_id, record.sender_id, &record.client_message_id);
        if t.convsenderclient_pending.remove(&dedup)?.is_none() {
            return Ok(Vec::new());
        }
        t.messageid_pending.remove(record.id.as_bytes())?;
        if let Some(waiter) = self.waiters().remove(&record.id) {
            let _ = waiter.send(());
        }
        let frame = ServerFrame::MessageSequenced {
            conversation_id: record.conversation_id,
            message_id: record.id,
            client_message_id: record.client_message_id.clone(),
            sequence_number: record.seq,
        };
        Ok(devices_of(&self.store, record.sender_id)?
            .into_iter()
            .filter(|device| device.active)
            .map(|device| (record.sender_id, device.id, frame.clone()))
            .collect())
    }
}
