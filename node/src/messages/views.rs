//! What clients see of a stored message: the API view with the caller's copy, the WebSocket event, and
//! the relayed form other nodes receive (with the copies of their devices only).

use chrono::Utc;
use protocol::api::{DeviceCiphertext, Message};
use protocol::federation::{Event, RelayedCopy, RelayedMessage};
use protocol::ws::MessageEvent;
use protocol::{Base64Bytes, DeviceId, UserId};

use super::Messages;
use super::records::{MessageRecord, decode_copy};
use crate::Result;
use crate::storage::keys;

impl Messages {
    pub(super) fn copy_for(
        &self,
        record: &MessageRecord,
        device: DeviceId,
    ) -> Result<Option<(Base64Bytes, Option<Base64Bytes>)>> {
        self.store
            .trees
            .deviceconvseq_ciphertext
            .get(keys::copy(device, record.conversation_id, record.seq))?
            .map(|bytes| decode_copy(&bytes))
            .transpose()
    }

    pub(super) fn view(&self, record: &MessageRecord, device: DeviceId) -> Result<Message> {
        let copy = self.copy_for(record, device)?;
        self.view_with(record, device, copy)
    }

    pub(super) fn view_with(
        &self,
        record: &MessageRecord,
        device: DeviceId,
        copy: Option<(Base64Bytes, Option<Base64Bytes>)>,
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
            message_type: record.message_type,
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
}

/// The relayed form of a stored message for one home node: the copies of its users' devices.
pub(super) fn relayed_message(record: &MessageRecord, copies: &[DeviceCiphertext], users: &[UserId]) -> Event {
    Event::Message(RelayedMessage {
        message_id: record.id,
        conversation_id: record.conversation_id,
        seq: record.seq,
        sender_id: record.sender_id,
        sender_device_id: record.sender_device_id,
        client_message_id: record.client_message_id.clone(),
        message_type: record.message_type,
        created_at: record.created_at,
        reply_to: record.reply_to,
        mentions: record.mentions.clone(),
        forwarded_from: record.forwarded_from,
        copies: relayed_copies(record, copies, users),
    })
}

/// The copies of a message for the devices of `users` (the users of one node).
pub(super) fn relayed_copies(
    record: &MessageRecord,
    copies: &[DeviceCiphertext],
    users: &[UserId],
) -> Vec<RelayedCopy> {
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

pub(super) fn event(record: &MessageRecord, content: Base64Bytes, header: Option<Base64Bytes>) -> MessageEvent {
    MessageEvent {
        timestamp: Utc::now(),
        user_id: record.sender_id,
        conversation_id: record.conversation_id,
        message_id: record.id,
        sender_id: record.sender_id,
        sender_device_id: record.sender_device_id,
        sequence_number: record.seq,
        message_type: record.message_type,
        client_message_id: record.client_message_id.clone(),
        content,
        header,
        created_at: record.created_at,
        reply_to: record.reply_to,
        mentions: record.mentions.clone(),
        forwarded_from: record.forwarded_from,
    }
}
