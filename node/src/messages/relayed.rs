//! Messages another node hosts, arriving from that host: stored under the host's sequence number with
//! the copies of this node's devices, queued for those devices and pushed to them once durable. The
//! message id makes a second delivery of the same message a no-op.

use std::collections::HashSet;

use libp2p::PeerId;
use protocol::api::ConversationKind;
use protocol::federation::{Change, Envelope, MessageChange, RelayedCopy, RelayedMessage};
use protocol::ws::ServerFrame;

use super::records::{QueueEntry, encode_copy};
use super::{MAX_CIPHERTEXT_BYTES, MAX_HEADER_BYTES, MAX_MENTIONS, MAX_RECIPIENT_DEVICES, MESSAGE_TYPES};
use super::{MessageRecord, Messages, copy_key, event, idempotency_key, message_by_id, queue_index_key, remove_copies};
use crate::conversations::records::{self as conversations, Activity};
use crate::realtime::Push;
use crate::storage::{decode, encode, keys};
use crate::{Error, Result, contacts, users, validate};

impl Messages {
    /// Stores a message relayed by `peer`, which must host its conversation. Returns the frames to push
    /// once the batch is committed (none when the message was already here).
    pub(crate) fn apply_relayed(
        &self,
        peer: PeerId,
        message: &RelayedMessage,
        envelope: &Envelope,
    ) -> Result<Vec<Push>> {
        let conversation = message.conversation_id;
        let record = conversations::get(&self.store, conversation)?.ok_or(Error::NotFound("conversation"))?;
        match &record.host {
            Some(host) if host.peer == peer => {}
            _ => return Err(Error::forbidden("only the conversation's host relays its messages")),
        }
        let t = &self.store.trees;
        if t.messageid_convseq.contains_key(message.message_id.as_bytes())? {
            return Ok(Vec::new());
        }
        let members: HashSet<_> = conversations::member_ids(&self.store, conversation)?
            .into_iter()
            .collect();
        if !members.contains(&message.sender_id) {
            return Err(Error::forbidden("the sender is not a participant"));
        }
        check_relayed(message)?;
        // A block lives on the blocker's node, which the host cannot see: a DM from a user blocked here
        // is dropped here, as a local DM send from them would be refused.
        let blocked = |user| -> Result<bool> {
            Ok(record.kind == ConversationKind::Dm && contacts::has_blocked(&self.store, user, message.sender_id)?)
        };
        let mut copies = Vec::with_capacity(message.copies.len());
        for copy in &message.copies {
            if blocked(copy.user_id)? {
                continue;
            }
            match users::records::get_device(&self.store, copy.device_id)? {
                Some(device)
                    if device.active && device.user_id == copy.user_id && members.contains(&device.user_id) =>
                {
                    copies.push(copy);
                }
                _ => {
                    tracing::warn!(device = %copy.device_id, %peer, "dropped a relayed copy for a device not of a member here")
                }
            }
        }
        let stored = MessageRecord {
            id: message.message_id,
            conversation_id: conversation,
            sender_id: message.sender_id,
            sender_device_id: message.sender_device_id,
            client_message_id: message.client_message_id.clone(),
            seq: message.seq,
            message_type: message.message_type.clone(),
            created_at: message.created_at,
            updated_at: None,
            edited: false,
            deleted: false,
            recipients: copies.iter().map(|copy| (copy.user_id, copy.device_id)).collect(),
            reply_to: message.reply_to,
            mentions: message.mentions.clone(),
            forwarded_from: message.forwarded_from,
        };
        let location = keys::id_seq(conversation.as_bytes(), message.seq);
        let mut activity: Activity = match t.convid_activity.get(conversation.as_bytes())? {
            Some(bytes) => decode(&bytes)?,
            None => Activity::default(),
        };
        activity.last_seq = activity.last_seq.max(message.seq);
        activity.last_message_at = Some(
            activity
                .last_message_at
                .map_or(message.created_at, |at| at.max(message.created_at)),
        );
        let envelope_bytes = envelope.to_bytes().map_err(|err| Error::Internal(err.to_string()))?;
        t.convid_activity.insert(conversation.as_bytes(), encode(&activity))?;
        t.convseq_message.insert(location.clone(), encode(&stored))?;
        t.convsenderclient_messageid.insert(
            idempotency_key(conversation, stored.sender_id, &stored.client_message_id),
            stored.id.as_bytes(),
        )?;
        t.messageid_envelope.insert(stored.id.as_bytes(), envelope_bytes)?;
        let mut pushes = Vec::with_capacity(copies.len());
        for copy in copies {
            t.deviceconvseq_ciphertext.insert(
                copy_key(copy.device_id, conversation, message.seq),
                encode_copy(&copy.ciphertext, copy.header.as_ref()),
            )?;
            let position = self.store.next_id()?.to_be_bytes();
            let entry = QueueEntry {
                conversation_id: conversation,
                seq: message.seq,
                message_id: stored.id,
            };
            t.devicequeue_pending
                .insert(keys::join(&[copy.device_id.as_bytes(), &position]), entry.encode())?;
            t.devicemessage_queuepos
                .insert(queue_index_key(copy.device_id, stored.id), &position)?;
            let frame = ServerFrame::MessageNew(event(&stored, copy.ciphertext.clone(), copy.header.clone()));
            pushes.push(Push::Device(copy.user_id, copy.device_id, frame));
        }
        // Written last: a crash before this line leaves the message absent, so it is applied again.
        t.messageid_convseq.insert(stored.id.as_bytes(), location)?;
        Ok(pushes)
    }

    /// Applies an edit, deletion or erasure the conversation's host `peer` made to a message it relayed.
    pub(crate) async fn apply_relayed_change(&self, peer: PeerId, change: &MessageChange) -> Result<Vec<Push>> {
        let conversation = change.conversation_id;
        let record = conversations::get(&self.store, conversation)?.ok_or(Error::NotFound("conversation"))?;
        match &record.host {
            Some(host) if host.peer == peer => {}
            _ => return Err(Error::forbidden("only the conversation's host changes its messages")),
        }
        let _guard = self.locks.lock(conversation).await;
        let mut message = match message_by_id(&self.store, change.message_id) {
            Ok(message) if message.conversation_id == conversation => message,
            Ok(_) => return Err(Error::invalid("message_id", "is not a message of this conversation")),
            // Already erased here (or expired): nothing left to change.
            Err(Error::NotFound(_)) => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let deleted = || {
            let frame = ServerFrame::MessageDeleted {
                timestamp: change.at,
                user_id: change.by,
                conversation_id: conversation,
                message_id: change.message_id,
                sequence_number: message.seq,
            };
            conversations::participants(&self.store, conversation).map(|members| {
                members
                    .into_iter()
                    .map(|(user, _)| Push::User(user, frame.clone()))
                    .collect()
            })
        };
        match &change.change {
            Change::Edited { copies } => {
                check_copies(copies)?;
                if message.deleted {
                    return Ok(Vec::new());
                }
                let t = &self.store.trees;
                for (_, device) in &message.recipients {
                    t.deviceconvseq_ciphertext
                        .remove(copy_key(*device, conversation, message.seq))?;
                }
                let mut pushes = Vec::new();
                let mut recipients = Vec::new();
                for copy in copies {
                    let ours = users::records::get_device(&self.store, copy.device_id)?
                        .is_some_and(|device| device.user_id == copy.user_id && device.active);
                    if !ours {
                        continue;
                    }
                    t.deviceconvseq_ciphertext.insert(
                        copy_key(copy.device_id, conversation, message.seq),
                        encode_copy(&copy.ciphertext, copy.header.as_ref()),
                    )?;
                    recipients.push((copy.user_id, copy.device_id));
                }
                message.recipients = recipients;
                message.edited = true;
                message.updated_at = Some(change.at);
                self.write_record(&message)?;
                for copy in copies
                    .iter()
                    .filter(|c| message.recipients.contains(&(c.user_id, c.device_id)))
                {
                    let frame =
                        ServerFrame::MessageUpdated(event(&message, copy.ciphertext.clone(), copy.header.clone()));
                    pushes.push(Push::Device(copy.user_id, copy.device_id, frame));
                }
                Ok(pushes)
            }
            Change::Deleted => {
                if message.deleted {
                    return Ok(Vec::new());
                }
                remove_copies(&self.store, &message)?;
                message.deleted = true;
                message.updated_at = Some(change.at);
                self.write_record(&message)?;
                deleted()
            }
            Change::Reaction { emoji, added } => {
                self.apply_relayed_reaction(change.by, conversation, message.id, emoji, *added)
            }
            Change::Erased => {
                let pushes = deleted()?;
                self.erase_record(&message)?;
                self.store.trees.messageid_envelope.remove(message.id.as_bytes())?;
                Ok(pushes)
            }
        }
    }
}

/// The limits a local send must meet hold for a relayed one too: the host is trusted with its
/// conversation's order, not with this node's resources.
fn check_relayed(message: &RelayedMessage) -> Result<()> {
    if message.seq == 0 {
        return Err(Error::invalid("seq", "must be at least 1"));
    }
    validate::text("client_message_id", &message.client_message_id, 1, 128)?;
    if !MESSAGE_TYPES.contains(&message.message_type.as_str()) {
        return Err(Error::invalid("message_type", "is not a known type"));
    }
    if message.mentions.len() > MAX_MENTIONS {
        return Err(Error::invalid("mentions", format!("at most {MAX_MENTIONS}")));
    }
    check_copies(&message.copies)
}

/// Relayed copies are limited like submitted ones.
pub(super) fn check_copies(copies: &[RelayedCopy]) -> Result<()> {
    if copies.len() > MAX_RECIPIENT_DEVICES {
        return Err(Error::invalid("copies", format!("at most {MAX_RECIPIENT_DEVICES}")));
    }
    for copy in copies {
        if copy.ciphertext.is_empty() || copy.ciphertext.len() > MAX_CIPHERTEXT_BYTES {
            return Err(Error::invalid("copies", "a ciphertext is empty or too large"));
        }
        if copy
            .header
            .as_ref()
            .is_some_and(|header| header.len() > MAX_HEADER_BYTES)
        {
            return Err(Error::invalid("copies", "a header is too large"));
        }
    }
    Ok(())
}
