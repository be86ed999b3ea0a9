//! Messages another node hosts, arriving from that host: stored under the host's sequence number with
//! the copies of this node's devices, in one transaction like a local send, queued for those devices
//! and pushed to them once durable. The message id makes a second delivery of the same message a no-op.

use std::collections::HashSet;

use libp2p::PeerId;
use protocol::api::ConversationKind;
use protocol::federation::{Change, Envelope, MessageChange, RelayedMessage};
use protocol::ws::ServerFrame;

use super::Messages;
use super::plan::{check_copies, check_relayed};
use super::records::{MessageRecord, encode_copy};
use super::write::{DeviceCopy, NewMessage, Sequence, message_by_id, remove_copies, write_message};
use crate::conversations::records as conversations;
use crate::realtime::Push;
use crate::storage::keys;
use crate::users::records::get_device;
use crate::{Error, Result, contacts};

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
            match get_device(&self.store, copy.device_id)? {
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
        let recipients = copies.iter().map(|copy| (copy.user_id, copy.device_id)).collect();
        let stored = MessageRecord::from_relayed(message, recipients);
        let write = NewMessage {
            record: &stored,
            sequence: Sequence::Given(message.seq),
            copies: copies
                .iter()
                .map(|copy| DeviceCopy {
                    device: copy.device_id,
                    ciphertext: &copy.ciphertext,
                    header: copy.header.as_ref(),
                })
                .collect(),
            origin: Some(envelope.to_bytes().map_err(|err| Error::Internal(err.to_string()))?),
        };
        write_message(&self.store, &self.outbox, &write, |_| Ok(Vec::new()))?;
        let frames = copies
            .iter()
            .map(|copy| {
                let frame = ServerFrame::MessageNew(stored.to_event(copy.ciphertext.clone(), copy.header.clone()));
                (copy.user_id, copy.device_id, frame)
            })
            .collect();
        Ok(vec![self.park(&stored, frames)])
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
                        .remove(keys::copy(*device, conversation, message.seq))?;
                }
                let mut pushes = Vec::new();
                let mut recipients = Vec::new();
                for copy in copies {
                    let ours = get_device(&self.store, copy.device_id)?
                        .is_some_and(|device| device.user_id == copy.user_id && device.active);
                    if !ours {
                        continue;
                    }
                    t.deviceconvseq_ciphertext.insert(
                        keys::copy(copy.device_id, conversation, message.seq),
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
                        ServerFrame::MessageUpdated(message.to_event(copy.ciphertext.clone(), copy.header.clone()));
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
