//! Messages another node hosts, arriving from that host: stored under the host's sequence number with
//! the copies of this node's devices, queued for those devices and pushed to them as the delivery is
//! made durable (the host redelivers what a crash loses; see `inbound`). A
//! delivery's messages in a row share one transaction (a local send has its own). The message id makes
//! a second delivery of the same message a no-op.

use std::collections::HashSet;

use libp2p::PeerId;
use protocol::Base64Bytes;
use protocol::api::ConversationKind;
use protocol::federation::{Change, Envelope, MessageChange, RelayedCopy, RelayedMessage};
use protocol::ws::ServerFrame;

use super::Messages;
use super::plan::{check_body, check_copies, check_relayed};
use super::records::{MessageRecord, encode_copy};
use super::write::{DeviceCopy, NewMessage, Sequence, erase, message_by_id, put_record, soft_delete, write_relayed};
use crate::conversations::records as conversations;
use crate::realtime::{DeviceFrame, Push};
use crate::remote::homes;
use crate::storage::{TreeId, WriteSet, keys};
use crate::users::records::{devices_of, get_device};
use crate::{Error, Result, contacts};

/// A relayed message that passed every check, with the copies of this node's devices (for a message in
/// the clear, none: its record's `recipients` are the devices it is queued for).
struct Checked<'a> {
    record: MessageRecord,
    copies: Vec<&'a RelayedCopy>,
    origin: Vec<u8>,
}

impl Checked<'_> {
    fn new_message(&self) -> NewMessage<'_> {
        let copies = match self.record.in_clear {
            true => self
                .record
                .recipients
                .iter()
                .map(|(_, device)| DeviceCopy {
                    device: *device,
                    ciphertext: None,
                    header: None,
                })
                .collect(),
            false => self
                .copies
                .iter()
                .map(|copy| DeviceCopy {
                    device: copy.device_id,
                    ciphertext: Some(&copy.ciphertext),
                    header: copy.header.as_ref(),
                })
                .collect(),
        };
        NewMessage {
            record: &self.record,
            sequence: Sequence::Given(self.record.seq),
            copies,
            origin: Some(self.origin.clone()),
        }
    }

    fn frames(&self) -> Vec<DeviceFrame> {
        if self.record.in_clear {
            let event = self.record.to_event(Base64Bytes::default(), None);
            return self
                .record
                .recipients
                .iter()
                .map(|(user, device)| (*user, *device, ServerFrame::MessageNew(event.clone())))
                .collect();
        }
        self.copies
            .iter()
            .map(|copy| {
                let event = self.record.to_event(copy.ciphertext.clone(), copy.header.clone());
                (copy.user_id, copy.device_id, ServerFrame::MessageNew(event))
            })
            .collect()
    }
}

impl Messages {
    /// Stores messages relayed by `peer`, which must host their conversations, in order and in one
    /// transaction. Says of each message what to push once the batch is committed (nothing when it was
    /// already here) or why it was refused; a storage failure fails them all, so the host retries.
    pub(crate) fn apply_relayed(
        &self,
        peer: PeerId,
        messages: &[(RelayedMessage, Envelope)],
    ) -> Result<Vec<Result<Vec<Push>>>> {
        let mut seen = HashSet::new();
        let mut checked = Vec::new();
        let mut outcomes = Vec::with_capacity(messages.len());
        for (message, envelope) in messages {
            // A host may send a message twice in one batch; only the first is written.
            if seen.contains(&message.message_id) {
                outcomes.push(Ok(None));
                continue;
            }
            match self.check_relayed(peer, message, envelope) {
                Ok(Some(ready)) => {
                    seen.insert(message.message_id);
                    outcomes.push(Ok(Some(checked.len())));
                    checked.push(ready);
                }
                Ok(None) => outcomes.push(Ok(None)),
                Err(err) if err.is_local_failure() => return Err(err),
                Err(err) => outcomes.push(Err(err)),
            }
        }
        let writes: Vec<NewMessage<'_>> = checked.iter().map(Checked::new_message).collect();
        let written = write_relayed(&self.store, &writes)?;
        let mut pushes = Vec::with_capacity(checked.len());
        for (ready, written) in checked.iter().zip(written) {
            if !written {
                pushes.push(None);
                continue;
            }
            let mut frames = ready.frames();
            frames.extend(self.sequenced(&ready.record)?);
            pushes.push(Some(self.park(&ready.record, frames)));
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| match outcome? {
                Some(index) => match pushes[index].take() {
                    Some(push) => Ok(vec![push]),
                    None => Err(Error::NotFound("conversation")),
                },
                None => Ok(Vec::new()),
            })
            .collect())
    }

    /// Checks a relayed message against the conversation as this node knows it; `None` when it is
    /// already stored.
    fn check_relayed<'a>(
        &self,
        peer: PeerId,
        message: &'a RelayedMessage,
        envelope: &Envelope,
    ) -> Result<Option<Checked<'a>>> {
        let conversation = message.conversation_id;
        let record = conversations::get(&self.store, conversation)?.ok_or(Error::NotFound("conversation"))?;
        match &record.host {
            Some(host) if host.peer == peer => {}
            _ => return Err(Error::forbidden("only the conversation's host relays its messages")),
        }
        if self
            .store
            .trees
            .messageid_convseq
            .contains_key(message.message_id.as_bytes())?
        {
            return Ok(None);
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
        let recipients = match message.body {
            Some(_) => {
                let mut recipients = Vec::new();
                for user in &members {
                    if homes::get(&self.store, *user)?.is_some() || blocked(*user)? {
                        continue;
                    }
                    for device in devices_of(&self.store, *user)? {
                        if device.active {
                            recipients.push((*user, device.id));
                        }
                    }
                }
                recipients
            }
            None => copies.iter().map(|copy| (copy.user_id, copy.device_id)).collect(),
        };
        Ok(Some(Checked {
            record: MessageRecord::from_relayed(message, recipients),
            copies,
            origin: envelope.to_bytes().map_err(|err| Error::Internal(err.to_string()))?,
        }))
    }

    /// Applies an edit, deletion or erasure the conversation's host `peer` made to a message it relayed.
    pub(crate) async fn apply_relayed_change(&self, peer: PeerId, change: &MessageChange) -> Result<Vec<Push>> {
        let pushes = self.apply_change(peer, change).await?;
        self.change_arrived(change.message_id, change.by);
        Ok(pushes)
    }

    async fn apply_change(&self, peer: PeerId, change: &MessageChange) -> Result<Vec<Push>> {
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
        let seq = message.seq;
        let deleted = || {
            let frame = ServerFrame::MessageDeleted {
                timestamp: change.at,
                user_id: change.by,
                conversation_id: conversation,
                message_id: change.message_id,
                sequence_number: seq,
            };
            conversations::participants(&self.store, conversation).map(|members| {
                members
                    .into_iter()
                    .map(|(user, _)| Push::User(user, frame.clone()))
                    .collect()
            })
        };
        match &change.change {
            Change::Edited { copies, body } => {
                check_copies(copies)?;
                if message.deleted {
                    return Ok(Vec::new());
                }
                if message.in_clear {
                    let body = body
                        .clone()
                        .ok_or_else(|| Error::invalid("body", "a message in the clear is edited with a body"))?;
                    check_body(&body)?;
                    message.body = Some(body);
                    message.edited = true;
                    message.updated_at = Some(change.at);
                    let mut set = WriteSet::new(&self.store);
                    put_record(&mut set, &message);
                    set.apply()?;
                    let event = message.to_event(Base64Bytes::default(), None);
                    return Ok(message
                        .recipients
                        .iter()
                        .map(|(user, device)| Push::Device(*user, *device, ServerFrame::MessageUpdated(event.clone())))
                        .collect());
                }
                let mut set = WriteSet::new(&self.store);
                for (_, device) in &message.recipients {
                    set.remove(
                        TreeId::deviceconvseq_ciphertext,
                        keys::copy(*device, conversation, message.seq),
                    );
                }
                let mut pushes = Vec::new();
                let mut recipients = Vec::new();
                for copy in copies {
                    let ours = get_device(&self.store, copy.device_id)?
                        .is_some_and(|device| device.user_id == copy.user_id && device.active);
                    if !ours {
                        continue;
                    }
                    set.insert(
                        TreeId::deviceconvseq_ciphertext,
                        keys::copy(copy.device_id, conversation, message.seq),
                        encode_copy(&copy.ciphertext, copy.header.as_ref()),
                    );
                    recipients.push((copy.user_id, copy.device_id));
                }
                message.recipients = recipients;
                message.edited = true;
                message.updated_at = Some(change.at);
                put_record(&mut set, &message);
                set.apply()?;
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
                let mut set = WriteSet::new(&self.store);
                soft_delete(&mut set, &mut message, change.at);
                set.apply()?;
                deleted()
            }
            Change::Reaction { emoji, added } => {
                self.apply_relayed_reaction(change.by, conversation, message.id, emoji, *added)
            }
            Change::Erased => {
                let pushes = deleted()?;
                let mut set = WriteSet::new(&self.store);
                erase(&mut set, &message)?;
                set.remove(TreeId::messageid_envelope, message.id.as_bytes());
                set.apply()?;
                Ok(pushes)
            }
        }
    }
}
