//! Messages: per-device ciphertexts stored under gap-free per-conversation sequence numbers, each
//! device's undelivered queue, receipts and the live fan-out. A send is acknowledged only after it is
//! flushed to disk; live events go out after that, in sequence order.
//!
//! By job: `sending` and `changes` are the way in for every client and for other nodes (a conversation
//! hosted elsewhere is asked of its host); `plan` checks a message, `write` stores it in one
//! transaction, `publish` tells live connections once it is durable, `views` shapes what is shown;
//! `hosted` and `relayed` are the two sides of a conversation across nodes (its host, its replicas).

mod change_queue;
mod changes;
mod hosted;
mod listing;
mod pending;
mod plan;
mod publish;
mod reactions;
mod receipts;
mod records;
mod relayed;
mod replay;
mod retention;
mod sending;
mod taken_over;
mod totals;
mod upgrade;
mod views;
mod write;

use std::sync::Arc;

use protocol::MessageId;
use protocol::api::Message;

pub use self::change_queue::Taken;
pub(crate) use self::pending::refuse as refuse_submission;
use self::records::MessageRecord;
pub(crate) use self::totals::load as load_totals;
pub(crate) use self::upgrade::retire_queue_index;
use self::write::message_by_id;
pub(crate) use self::write::{forget_device, purge_conversation};
use crate::conversations::records::{self as conversations, ConversationRecord};
use crate::locks::ConversationLocks;
use crate::outbox::Outbox;
use crate::realtime::Hub;
use crate::remote::Remote;
use crate::storage::Store;
use crate::webhooks::Webhooks;
use crate::{Actor, Error, Result};

/// Largest ciphertext for one device.
pub(crate) const MAX_CIPHERTEXT_BYTES: usize = 64 * 1024;
/// Largest body of a message sent in the clear, in characters: the unit a schema's `maxLength` counts,
/// so the document can state the limit exactly (at most four times as many bytes of UTF-8).
pub(crate) const MAX_BODY_CHARS: usize = 64 * 1024;
/// Largest ratchet header.
pub(crate) const MAX_HEADER_BYTES: usize = 1024;
/// Most recipient devices per message.
pub(crate) const MAX_RECIPIENT_DEVICES: usize = 1024;
/// Most users one message may mention.
pub(crate) const MAX_MENTIONS: usize = 50;
/// Most messages one replay carries; a client past it resumes again from the last it received.
pub(crate) const MAX_REPLAY: usize = 10_000;
/// Most ciphertext bytes one replay carries, so a long-offline device cannot make the node hold
/// gigabytes for one connection; the client resumes again for the rest.
pub(crate) const MAX_REPLAY_BYTES: usize = 32 * 1024 * 1024;

/// The messages service.
pub struct Messages {
    store: Store,
    /// Whether messages in the clear are taken from this node's users and into its conversations.
    allow_unencrypted: bool,
    locks: Arc<ConversationLocks>,
    hub: Arc<Hub>,
    webhooks: Arc<Webhooks>,
    outbox: Arc<Outbox>,
    remote: Arc<Remote>,
    /// Copies acknowledged by their device (see `metrics`).
    pub(crate) delivered: prometheus_client::metrics::counter::Counter,
    /// Sends waiting a moment for their host to place them (see `pending`).
    sequenced_waiters: std::sync::Mutex<std::collections::HashMap<MessageId, tokio::sync::oneshot::Sender<()>>>,
    /// Changes waiting a moment for their host to apply them (see `change_queue`).
    change_waiters: change_queue::ChangeWaiters,
}

impl Messages {
    pub(crate) fn new(
        store: Store,
        allow_unencrypted: bool,
        locks: Arc<ConversationLocks>,
        hub: Arc<Hub>,
        webhooks: Arc<Webhooks>,
        outbox: Arc<Outbox>,
        remote: Arc<Remote>,
    ) -> Self {
        Self {
            store,
            allow_unencrypted,
            locks,
            hub,
            webhooks,
            outbox,
            remote,
            delivered: Default::default(),
            sequenced_waiters: Default::default(),
            change_waiters: Default::default(),
        }
    }

    pub(crate) fn readable(&self, actor: &Actor, id: MessageId) -> Result<MessageRecord> {
        self.readable_in(actor, id).map(|(record, _)| record)
    }

    /// [`Self::readable`], with the message's conversation as the check read it.
    fn readable_in(&self, actor: &Actor, id: MessageId) -> Result<(MessageRecord, ConversationRecord)> {
        let record = message_by_id(&self.store, id)?;
        let (conversation, _) = conversations::require_participant(&self.store, record.conversation_id, actor.user_id)?;
        Ok((record, conversation))
    }

    /// A message the caller may change (edit, delete, react to): readable, and of a conversation this
    /// node hosts. Changes to another node's conversation are forwarded to its host before they get
    /// here (`Messages::edit` and its siblings).
    fn changeable(&self, actor: &Actor, id: MessageId) -> Result<MessageRecord> {
        let (record, conversation) = self.readable_in(actor, id)?;
        if let Some(host) = conversation.host {
            return Err(Error::Conflict(format!(
                "this conversation is hosted by node {}; change its messages there",
                host.node
            )));
        }
        Ok(record)
    }

    /// One message with the caller's device copy; a message of the caller's still waiting for its
    /// host (see `pending`) as it stands.
    pub fn get(&self, actor: &Actor, id: MessageId) -> Result<Message> {
        match self.readable(actor, id) {
            Ok(record) => self.view(&record, actor.device_id),
            Err(Error::NotFound(_)) => pending::pending_view(&self.store, actor, id)?.ok_or(Error::NotFound("message")),
            Err(err) => Err(err),
        }
    }
}
