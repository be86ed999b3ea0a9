//! Messages: per-device ciphertexts stored under gap-free per-conversation sequence numbers, each
//! device's undelivered queue, receipts and the live fan-out. A send is acknowledged only after it is
//! flushed to disk; live events go out after that, in sequence order, under the conversation lock.

mod changes;
mod listing;
mod reactions;
mod receipts;
mod records;
mod relayed;
mod replay;
mod retention;
mod sending;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    ConversationKind, DeviceCiphertext, EditMessageRequest, ForwardMessageRequest, Message, Role, SendMessageRequest,
};
use protocol::webhooks::WebhookEvent;
use protocol::ws::{MessageEvent, ServerFrame};
use protocol::{ConversationId, DeviceId, MessageId, UserId};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

pub(crate) use self::records::MessageRecord;
use self::records::{QueueEntry, decode_copy, encode_copy};
use crate::conversations::records::{self as conversations, Activity};
use crate::outbox::Outbox;
use crate::remote::Remote;
use crate::locks::ConversationLocks;
use crate::realtime::Hub;
use crate::storage::{Store, decode, encode, keys};
use crate::webhooks::Webhooks;
use crate::{Actor, Error, Result, contacts, users, validate};
use protocol::federation::{Change, Event, MessageChange, RelayedCopy, RelayedMessage};

/// Largest ciphertext for one device.
pub const MAX_CIPHERTEXT_BYTES: usize = 64 * 1024;
/// Largest ratchet header.
pub const MAX_HEADER_BYTES: usize = 1024;
/// Most recipient devices per message.
pub const MAX_RECIPIENT_DEVICES: usize = 1024;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;
/// Most messages one replay carries; a client past it resumes again from the last it received.
pub const MAX_REPLAY: usize = 10_000;
/// Most ciphertext bytes one replay carries, so a long-offline device cannot make the node hold
/// gigabytes for one connection; the client resumes again for the rest.
pub const MAX_REPLAY_BYTES: usize = 32 * 1024 * 1024;
const MESSAGE_TYPES: [&str; 8] = ["text", "image", "video", "audio", "file", "location", "contact", "poll"];

/// Frames of one conversation's stored messages waiting for their flush, by sequence number.
type Awaiting = BTreeMap<u64, Vec<(UserId, DeviceId, ServerFrame)>>;

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn idempotency_key(conversation: ConversationId, sender: UserId, client_id: &str) -> Vec<u8> {
    keys::join(&[conversation.as_bytes(), sender.as_bytes(), client_id.as_bytes()])
}

fn copy_key(device: DeviceId, conversation: ConversationId, seq: u64) -> Vec<u8> {
    keys::id_id_seq(device.as_bytes(), conversation.as_bytes(), seq)
}

fn queue_index_key(device: DeviceId, message: MessageId) -> Vec<u8> {
    keys::join(&[device.as_bytes(), message.as_bytes()])
}

fn receipt_key(message: MessageId, user: UserId) -> Vec<u8> {
    keys::join(&[message.as_bytes(), user.as_bytes()])
}

fn message_at(store: &Store, conversation: ConversationId, seq: u64) -> Result<Option<MessageRecord>> {
    store
        .trees
        .convseq_message
        .get(keys::id_seq(conversation.as_bytes(), seq))?
        .map(|b| decode(&b))
        .transpose()
}

fn message_by_id(store: &Store, id: MessageId) -> Result<MessageRecord> {
    let location = store
        .trees
        .messageid_convseq
        .get(id.as_bytes())?
        .ok_or(Error::NotFound("message"))?;
    let conversation = keys::id_at(&location, 0).map(ConversationId::from_bytes);
    let seq = keys::trailing_u64(&location);
    match (conversation, seq) {
        (Some(conversation), Some(seq)) => message_at(store, conversation, seq)?.ok_or(Error::NotFound("message")),
        _ => Err(Error::Corrupt("message index".into())),
    }
}

/// Removes one queue entry of a device, if present.
fn dequeue(store: &Store, device: DeviceId, message: MessageId) -> Result<()> {
    if let Some(position) = store
        .trees
        .devicemessage_queuepos
        .remove(queue_index_key(device, message))?
    {
        store
            .trees
            .devicequeue_pending
            .remove(keys::join(&[device.as_bytes(), &position]))?;
    }
    Ok(())
}

/// Removes every stored trace of a message but its record.
fn remove_copies(store: &Store, record: &MessageRecord) -> Result<()> {
    for (_, device) in &record.recipients {
        store
            .trees
            .deviceconvseq_ciphertext
            .remove(copy_key(*device, record.conversation_id, record.seq))?;
        dequeue(store, *device, record.id)?;
    }
    Ok(())
}

/// Deletes every message of a conversation that no longer exists.
pub(crate) fn purge_conversation(
    store: &Store,
    conversation: ConversationId,
    members: impl Iterator<Item = UserId>,
) -> Result<()> {
    let members: Vec<UserId> = members.collect();
    let t = &store.trees;
    for entry in t.convseq_message.scan_prefix(conversation.as_bytes()) {
        let (key, value) = entry?;
        let record: MessageRecord = decode(&value)?;
        remove_copies(store, &record)?;
        t.messageid_convseq.remove(record.id.as_bytes())?;
        t.convsenderclient_messageid.remove(idempotency_key(
            conversation,
            record.sender_id,
            &record.client_message_id,
        ))?;
        for user in &members {
            t.messageuser_receipt.remove(receipt_key(record.id, *user))?;
        }
        for entry in t.messageuseremoji_reaction.scan_prefix(record.id.as_bytes()) {
            t.messageuseremoji_reaction.remove(entry?.0)?;
        }
        t.convseq_message.remove(key)?;
    }
    Ok(())
}

/// The messages service.
pub struct Messages {
    store: Store,
    locks: Arc<ConversationLocks>,
    hub: Arc<Hub>,
    webhooks: Arc<Webhooks>,
    outbox: Arc<Outbox>,
    remote: Arc<Remote>,
    /// Live frames of stored messages waiting for their flush, per conversation and sequence, so they
    /// leave in sequence order and never before the message is durable.
    awaiting: std::sync::Mutex<HashMap<ConversationId, Awaiting>>,
}

impl Messages {
    pub(crate) fn new(
        store: Store,
        locks: Arc<ConversationLocks>,
        hub: Arc<Hub>,
        webhooks: Arc<Webhooks>,
        outbox: Arc<Outbox>,
        remote: Arc<Remote>,
    ) -> Self {
        Self {
            store,
            locks,
            hub,
            webhooks,
            outbox,
            remote,
            awaiting: Default::default(),
        }
    }

    fn awaiting_lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Awaiting>> {
        self.awaiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes every waiting frame of a conversation up to `seq`, in order. A flush that covers `seq`
    /// also covers every lower sequence, since those were written first.
    fn publish_through(&self, conversation: ConversationId, seq: u64) {
        let mut awaiting = self.awaiting_lock();
        let Some(waiting) = awaiting.get_mut(&conversation) else {
            return;
        };
        let later = waiting.split_off(&(seq + 1));
        let ready = std::mem::replace(waiting, later);
        if waiting.is_empty() {
            awaiting.remove(&conversation);
        }
        for (user, device, frame) in ready.into_values().flatten() {
            self.hub.send_to_device(user, device, &frame);
        }
    }

    /// Checks a message's copies: each names an active device of one of the conversation's `members`,
    /// once, within limits. Devices of other nodes' users are looked up in `remote` (device -> owner).
    fn recipients(
        &self,
        members: &[UserId],
        copies: &[DeviceCiphertext],
        remote: &HashMap<DeviceId, UserId>,
    ) -> Result<Vec<(UserId, DeviceId)>> {
        if copies.len() > MAX_RECIPIENT_DEVICES {
            return Err(Error::invalid(
                "ciphertexts",
                format!("at most {MAX_RECIPIENT_DEVICES} recipient devices"),
            ));
        }
        let members: HashSet<UserId> = members.iter().copied().collect();
        let mut seen = HashSet::new();
        let mut recipients = Vec::with_capacity(copies.len());
        for (index, copy) in copies.iter().enumerate() {
            let field = |name: &str| format!("ciphertexts[{index}].{name}");
            if copy.ciphertext.is_empty() {
                return Err(Error::invalid(field("ciphertext"), "must not be empty"));
            }
            if copy.ciphertext.len() > MAX_CIPHERTEXT_BYTES {
                return Err(Error::invalid(
                    field("ciphertext"),
                    format!("must be at most {MAX_CIPHERTEXT_BYTES} bytes"),
                ));
            }
            if copy.header.as_ref().is_some_and(|h| h.len() > MAX_HEADER_BYTES) {
                return Err(Error::invalid(
                    field("header"),
                    format!("must be at most {MAX_HEADER_BYTES} bytes"),
                ));
            }
            if !seen.insert(copy.recipient_device_id) {
                return Err(Error::invalid(field("recipient_device_id"), "names a device twice"));
            }
            let device = copy.recipient_device_id;
            match users::records::get_device(&self.store, device)? {
                Some(local) if local.active && members.contains(&local.user_id) => {
                    recipients.push((local.user_id, local.id));
                }
                None if remote.get(&device).is_some_and(|owner| members.contains(owner)) => {
                    recipients.push((remote[&device], device));
                }
                _ => {
                    return Err(Error::invalid(
                        field("recipient_device_id"),
                        "is not an active device of a participant",
                    ));
                }
            }
        }
        Ok(recipients)
    }

    /// Checks what a message refers to: a reply names a message of the same conversation, mentions
    /// name participants.
    fn references(
        &self,
        conversation: ConversationId,
        request: &SendMessageRequest,
    ) -> Result<(Option<MessageId>, Vec<UserId>)> {
        if let Some(reply_to) = request.reply_to {
            match message_by_id(&self.store, reply_to) {
                Ok(original) if original.conversation_id == conversation => {}
                Ok(_) | Err(Error::NotFound(_)) => {
                    return Err(Error::invalid("reply_to", "is not a message of this conversation"));
                }
                Err(err) => return Err(err),
            }
        }
        if request.mentions.len() > MAX_MENTIONS {
            return Err(Error::invalid("mentions", format!("at most {MAX_MENTIONS} users")));
        }
        let mut mentions = Vec::with_capacity(request.mentions.len());
        for user in &request.mentions {
            if conversations::participant(&self.store, conversation, *user)?.is_none() {
                return Err(Error::invalid("mentions", format!("user {user} is not a participant")));
            }
            if !mentions.contains(user) {
                mentions.push(*user);
            }
        }
        Ok((request.reply_to, mentions))
    }

    /// Builds the send of a forward: the caller must be able to read the original.
    pub(super) fn forwarding(
        &self,
        actor: &Actor,
        source: MessageId,
        request: ForwardMessageRequest,
    ) -> Result<SendMessageRequest> {
        let original = self.readable(actor, source)?;
        if original.deleted {
            return Err(Error::Conflict("a deleted message cannot be forwarded".into()));
        }
        Ok(SendMessageRequest {
            conversation_id: request.conversation_id,
            ciphertexts: request.ciphertexts,
            message_type: request.message_type.unwrap_or(original.message_type),
            client_message_id: request.client_message_id,
            reply_to: None,
            mentions: Vec::new(),
        })
    }

    /// Stores a message of a conversation this node hosts and fans it out: to local devices over
    /// WebSocket, and through the outbox to the home node of every remote participant (with the copies
    /// of that node's devices, whose owners `remote` names).
    pub(crate) async fn store_message(
        &self,
        actor: &Actor,
        request: SendMessageRequest,
        forwarded_from: Option<MessageId>,
        remote: &HashMap<DeviceId, UserId>,
    ) -> Result<Message> {
        let client_message_id = validate::text("client_message_id", &request.client_message_id, 1, 128)?;
        let message_type = request.message_type.trim().to_lowercase();
        if !MESSAGE_TYPES.contains(&message_type.as_str()) {
            return Err(Error::invalid(
                "message_type",
                format!("must be one of {}", MESSAGE_TYPES.join(", ")),
            ));
        }
        let conversation = request.conversation_id;
        conversations::require_participant(&self.store, conversation, actor.user_id)?;

        let guard = self.locks.lock(conversation).await;
        let t = &self.store.trees;
        let dedup = idempotency_key(conversation, actor.user_id, &client_message_id);
        if let Some(existing) = t.convsenderclient_messageid.get(&dedup)? {
            drop(guard);
            let id = MessageId::from_slice(&existing).ok_or_else(|| Error::Corrupt("idempotency index".into()))?;
            // The original may still be on its way to disk: answer only once it is durable.
            self.store.commit().await?;
            return self.view(&message_by_id(&self.store, id)?, actor.device_id);
        }
        // Membership is checked again under the lock, where no removal can slip in before the write.
        let (record, me) = conversations::require_participant(&self.store, conversation, actor.user_id)?;
        if record.kind == ConversationKind::Channel && me.role < Role::Admin {
            return Err(Error::forbidden("only owners and admins post in a channel"));
        }
        let members = conversations::member_ids(&self.store, conversation)?;
        if record.kind == ConversationKind::Dm {
            for other in &members {
                if *other != actor.user_id {
                    contacts::ensure_not_blocked_by(&self.store, *other, actor.user_id)?;
                }
            }
        }
        let recipients = self.recipients(&members, &request.ciphertexts, remote)?;
        let (reply_to, mentions) = self.references(conversation, &request)?;
        let homes = crate::remote::homes::of_members(&self.store, &members)?;
        let now = Utc::now();
        let mut record = MessageRecord {
            id: MessageId::random(),
            conversation_id: conversation,
            sender_id: actor.user_id,
            sender_device_id: actor.device_id,
            client_message_id,
            seq: 0,
            message_type,
            created_at: now,
            updated_at: None,
            edited: false,
            deleted: false,
            recipients,
            reply_to,
            mentions,
            forwarded_from,
        };
        let seq = (
            &t.convid_conversation,
            &t.convid_activity,
            &t.convseq_message,
            &t.messageid_convseq,
            &t.convsenderclient_messageid,
            &t.deviceconvseq_ciphertext,
            &t.devicequeue_pending,
            &t.devicemessage_queuepos,
            &t.nodepos_outbox,
        )
            .transaction(
                |(conversations, activities, messages, ids, dedups, copies, queue, queue_index, outbox)| {
                    if conversations.get(conversation.as_bytes())?.is_none() {
                        return Err(Error::NotFound("conversation").into());
                    }
                    let mut activity: Activity = match activities.get(conversation.as_bytes())? {
                        Some(bytes) => decode(&bytes)?,
                        None => Activity::default(),
                    };
                    activity.last_seq += 1;
                    activity.last_message_at = Some(now);
                    let seq = activity.last_seq;
                    let mut record = record.clone();
                    record.seq = seq;
                    let location = keys::id_seq(conversation.as_bytes(), seq);
                    activities.insert(conversation.as_bytes(), encode(&activity))?;
                    messages.insert(location.clone(), encode(&record))?;
                    ids.insert(record.id.as_bytes(), location)?;
                    dedups.insert(dedup.clone(), record.id.as_bytes())?;
                    for (destination, users) in homes.values() {
                        let relayed = relayed_message(&record, &request.ciphertexts, users);
                        let envelope = self
                            .outbox
                            .seal(&relayed)
                            .map_err(ConflictableTransactionError::Abort)?;
                        self.outbox.push_in(outbox, destination, envelope)?;
                    }
                    for (copy, (user, device)) in request.ciphertexts.iter().zip(&record.recipients) {
                        if homes.values().any(|(_, users)| users.contains(user)) {
                            continue;
                        }
                        copies.insert(
                            copy_key(*device, conversation, seq),
                            encode_copy(&copy.ciphertext, copy.header.as_ref()),
                        )?;
                        let position = queue.generate_id()?.to_be_bytes();
                        let entry = QueueEntry {
                            conversation_id: conversation,
                            seq,
                            message_id: record.id,
                        };
                        queue.insert(keys::join(&[device.as_bytes(), &position]), entry.encode())?;
                        queue_index.insert(queue_index_key(*device, record.id), &position)?;
                    }
                    TxResult::Ok(seq)
                },
            )?;
        record.seq = seq;
        let frames = request
            .ciphertexts
            .iter()
            .zip(&record.recipients)
            .map(|(copy, (user, device))| {
                let event = event(&record, copy.ciphertext.clone(), copy.header.clone());
                (*user, *device, ServerFrame::MessageNew(event))
            })
            .collect();
        self.awaiting_lock()
            .entry(conversation)
            .or_default()
            .insert(seq, frames);
        // Group commit: the lock only orders the writes. Concurrent sends flush together, and each send
        // answers once a flush covering it returns.
        drop(guard);
        self.store.commit().await?;
        self.publish_through(conversation, seq);
        for (destination, _) in homes.values() {
            self.outbox.wake(&destination.node);
        }
        let data = serde_json::json!({
            "message_id": record.id,
            "conversation_id": record.conversation_id,
            "sender_id": record.sender_id,
            "sender_device_id": record.sender_device_id,
            "sequence_number": record.seq,
            "message_type": record.message_type,
            "created_at": record.created_at,
        });
        self.webhooks.emit(members, WebhookEvent::MessageCreated, data);
        self.view_with(&record, actor.device_id, None)
    }

    fn copy_for(
        &self,
        record: &MessageRecord,
        device: DeviceId,
    ) -> Result<Option<(protocol::Base64Bytes, Option<protocol::Base64Bytes>)>> {
        self.store
            .trees
            .deviceconvseq_ciphertext
            .get(copy_key(device, record.conversation_id, record.seq))?
            .map(|bytes| decode_copy(&bytes))
            .transpose()
    }

    fn view(&self, record: &MessageRecord, device: DeviceId) -> Result<Message> {
        let copy = self.copy_for(record, device)?;
        self.view_with(record, device, copy)
    }

    fn view_with(
        &self,
        record: &MessageRecord,
        device: DeviceId,
        copy: Option<(protocol::Base64Bytes, Option<protocol::Base64Bytes>)>,
    ) -> Result<Message> {
        let (ciphertext, header, recipient_device_id) = match copy {
            Some((ciphertext, header)) => (Some(ciphertext), header, Some(device)),
            None => (None, None, None),
        };
        Ok(Message {
            id: record.id,
            conversation_id: record.conversation_id,
            sender_id: record.sender_id,
            sender_device_id: record.sender_device_id,
            client_message_id: record.client_message_id.clone(),
            sequence_number: record.seq,
            message_type: record.message_type.clone(),
            is_deleted: record.deleted,
            is_edited: record.edited,
            ciphertext,
            header,
            recipient_device_id,
            created_at: record.created_at,
            updated_at: record.updated_at,
            reply_to: record.reply_to,
            mentions: record.mentions.clone(),
            forwarded_from: record.forwarded_from,
            reactions: self.reactions_of(record.id)?,
        })
    }

    /// Tells the home node of every remote participant of a hosted conversation that a message changed;
    /// `change` builds the event for the users of one node. The caller commits.
    fn relay_change(&self, record: &MessageRecord, by: UserId, change: impl Fn(&[UserId]) -> Change) -> Result<()> {
        let members = conversations::member_ids(&self.store, record.conversation_id)?;
        for (destination, users) in crate::remote::homes::of_members(&self.store, &members)?.values() {
            let event = Event::Changed(MessageChange {
                conversation_id: record.conversation_id,
                message_id: record.id,
                by,
                at: Utc::now(),
                change: change(users),
            });
            self.outbox.push(destination, &event)?;
        }
        Ok(())
    }

    pub(crate) fn readable(&self, actor: &Actor, id: MessageId) -> Result<MessageRecord> {
        let record = message_by_id(&self.store, id)?;
        conversations::require_participant(&self.store, record.conversation_id, actor.user_id)?;
        Ok(record)
    }

    /// A message the caller may change (edit, delete, react to): readable, and of a conversation this
    /// node hosts. Changes to another node's conversation are forwarded to its host before they get
    /// here (`Services::edit_message` and its siblings).
    fn changeable(&self, actor: &Actor, id: MessageId) -> Result<MessageRecord> {
        let record = self.readable(actor, id)?;
        if let Some(conversation) = conversations::get(&self.store, record.conversation_id)?
            && let Some(host) = conversation.host
        {
            return Err(Error::Conflict(format!(
                "this conversation is hosted by node {}; change its messages there",
                host.node
            )));
        }
        Ok(record)
    }

    /// One message with the caller's device copy.
    pub fn get(&self, actor: &Actor, id: MessageId) -> Result<Message> {
        let record = self.readable(actor, id)?;
        self.view(&record, actor.device_id)
    }

    fn write_record(&self, record: &MessageRecord) -> Result<()> {
        self.store.trees.convseq_message.insert(
            keys::id_seq(record.conversation_id.as_bytes(), record.seq),
            encode(record),
        )?;
        Ok(())
    }

    /// Replaces a message's copies (sender only) and tells each recipient device, here directly and on
    /// other nodes through the outbox (`remote` names the owners of other nodes' devices).
    pub(super) async fn edit_here(
        &self,
        actor: &Actor,
        id: MessageId,
        request: EditMessageRequest,
        remote: &HashMap<DeviceId, UserId>,
    ) -> Result<Message> {
        let record = self.changeable(actor, id)?;
        if record.sender_id != actor.user_id {
            return Err(Error::forbidden("only the sender can edit a message"));
        }
        let _guard = self.locks.lock(record.conversation_id).await;
        // Read again under the lock: a delete may have won the race.
        let mut record = message_by_id(&self.store, id)?;
        if record.deleted {
            return Err(Error::Conflict("a deleted message cannot be edited".into()));
        }
        let members = conversations::member_ids(&self.store, record.conversation_id)?;
        let recipients = self.recipients(&members, &request.ciphertexts, remote)?;
        let copies = &self.store.trees.deviceconvseq_ciphertext;
        for (_, device) in &record.recipients {
            copies.remove(copy_key(*device, record.conversation_id, record.seq))?;
        }
        for (copy, (_, device)) in request.ciphertexts.iter().zip(&recipients) {
            if remote.contains_key(device) {
                continue;
            }
            copies.insert(
                copy_key(*device, record.conversation_id, record.seq),
                encode_copy(&copy.ciphertext, copy.header.as_ref()),
            )?;
        }
        record.recipients = recipients;
        record.edited = true;
        record.updated_at = Some(Utc::now());
        self.write_record(&record)?;
        self.relay_change(&record, actor.user_id, |users| Change::Edited {
            copies: relayed_copies(&record, &request.ciphertexts, users),
        })?;
        self.store.commit().await?;
        for (copy, (user, device)) in request.ciphertexts.iter().zip(&record.recipients) {
            let event = event(&record, copy.ciphertext.clone(), copy.header.clone());
            self.hub
                .send_to_device(*user, *device, &ServerFrame::MessageUpdated(event));
        }
        self.view(&record, actor.device_id)
    }

    fn announce_deletion(&self, actor: &Actor, record: &MessageRecord) -> Result<()> {
        let frame = ServerFrame::MessageDeleted {
            timestamp: Utc::now(),
            user_id: actor.user_id,
            conversation_id: record.conversation_id,
            message_id: record.id,
            sequence_number: record.seq,
        };
        self.to_participants(record.conversation_id, &frame)
    }

    /// Queues a frame for every live connection of every participant of a conversation.
    fn to_participants(&self, conversation: ConversationId, frame: &ServerFrame) -> Result<()> {
        for (user, _) in conversations::participants(&self.store, conversation)? {
            self.hub.send_to_user(user, frame);
        }
        Ok(())
    }

    /// Soft-deletes a message (sender only): its content is erased, its slot stays.
    pub(super) async fn delete_here(&self, actor: &Actor, id: MessageId) -> Result<Message> {
        let record = self.changeable(actor, id)?;
        if record.sender_id != actor.user_id {
            return Err(Error::forbidden("only the sender can delete a message"));
        }
        let _guard = self.locks.lock(record.conversation_id).await;
        let mut record = message_by_id(&self.store, id)?;
        if !record.deleted {
            remove_copies(&self.store, &record)?;
            record.deleted = true;
            record.updated_at = Some(Utc::now());
            self.write_record(&record)?;
            self.relay_change(&record, actor.user_id, |_| Change::Deleted)?;
            self.store.commit().await?;
            self.announce_deletion(actor, &record)?;
        }
        self.view_with(&record, actor.device_id, None)
    }

    /// Erases a message entirely (its sender, or an owner or admin of the conversation).
    pub(super) async fn erase_here(&self, actor: &Actor, id: MessageId) -> Result<()> {
        let record = self.changeable(actor, id)?;
        let (_, me) = conversations::require_participant(&self.store, record.conversation_id, actor.user_id)?;
        if record.sender_id != actor.user_id && me.role < Role::Admin {
            return Err(Error::forbidden(
                "only the sender, owners and admins can erase a message",
            ));
        }
        let _guard = self.locks.lock(record.conversation_id).await;
        let record = message_by_id(&self.store, id)?;
        self.erase_record(&record)?;
        self.relay_change(&record, actor.user_id, |_| Change::Erased)?;
        self.store.commit().await?;
        self.announce_deletion(actor, &record)
    }

    /// Removes a message and every trace of it; the caller holds the conversation lock.
    fn erase_record(&self, record: &MessageRecord) -> Result<()> {
        remove_copies(&self.store, record)?;
        self.drop_reactions(record.id)?;
        let t = &self.store.trees;
        for entry in t.messageuser_receipt.scan_prefix(record.id.as_bytes()) {
            t.messageuser_receipt.remove(entry?.0)?;
        }
        t.messageid_convseq.remove(record.id.as_bytes())?;
        t.convsenderclient_messageid.remove(idempotency_key(
            record.conversation_id,
            record.sender_id,
            &record.client_message_id,
        ))?;
        t.convseq_message
            .remove(keys::id_seq(record.conversation_id.as_bytes(), record.seq))?;
        Ok(())
    }
}

/// The relayed form of a stored message for one home node: the copies of its users' devices.
fn relayed_message(record: &MessageRecord, copies: &[DeviceCiphertext], users: &[UserId]) -> Event {
    Event::Message(RelayedMessage {
        message_id: record.id,
        conversation_id: record.conversation_id,
        seq: record.seq,
        sender_id: record.sender_id,
        sender_device_id: record.sender_device_id,
        client_message_id: record.client_message_id.clone(),
        message_type: record.message_type.clone(),
        created_at: record.created_at,
        reply_to: record.reply_to,
        mentions: record.mentions.clone(),
        forwarded_from: record.forwarded_from,
        copies: relayed_copies(record, copies, users),
    })
}

/// The copies of a message for the devices of `users` (the users of one node).
fn relayed_copies(record: &MessageRecord, copies: &[DeviceCiphertext], users: &[UserId]) -> Vec<RelayedCopy> {
    copies
        .iter()
        .zip(&record.recipients)
        .filter(|(_, (user, _))| users.contains(user))
        .map(|(copy, (user, device))| RelayedCopy {
            user_id: *user,
            device_id: *device,
            ciphertext: copy.ciphertext.clone(),
            header: copy.header.clone(),
        })
        .collect()
}

fn event(
    record: &MessageRecord,
    content: protocol::Base64Bytes,
    header: Option<protocol::Base64Bytes>,
) -> MessageEvent {
    MessageEvent {
        timestamp: Utc::now(),
        user_id: record.sender_id,
        conversation_id: record.conversation_id,
        message_id: record.id,
        sender_id: record.sender_id,
        sender_device_id: record.sender_device_id,
        sequence_number: record.seq,
        message_type: record.message_type.clone(),
        client_message_id: record.client_message_id.clone(),
        content,
        header,
        created_at: record.created_at,
        reply_to: record.reply_to,
        mentions: record.mentions.clone(),
        forwarded_from: record.forwarded_from,
    }
}
