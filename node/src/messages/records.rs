//! Stored forms of messages, and the one place a stored message is mapped to and from its wire forms.
//! Ciphertexts and queue entries use fixed binary layouts instead of MessagePack, because they are the
//! bulk of the data and MessagePack would spell bytes as integers.

use protocol::api::{Message, Reaction, Timestamp};
use protocol::federation::{RelayedCopy, RelayedMessage};
use protocol::ws::MessageEvent;
use protocol::{Base64Bytes, ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MessageRecord {
    pub(crate) id: MessageId,
    pub(crate) conversation_id: ConversationId,
    pub(crate) sender_id: UserId,
    pub(crate) sender_device_id: DeviceId,
    pub(crate) client_message_id: ClientMessageId,
    pub(crate) seq: u64,
    pub(crate) message_type: MessageType,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Option<Timestamp>,
    pub(crate) edited: bool,
    pub(crate) deleted: bool,
    /// The devices holding a copy, with their users, so edits and deletes find every copy.
    pub(crate) recipients: Vec<(UserId, DeviceId)>,
    #[serde(default)]
    pub(crate) reply_to: Option<MessageId>,
    #[serde(default)]
    pub(crate) mentions: Vec<UserId>,
    #[serde(default)]
    pub(crate) forwarded_from: Option<MessageId>,
    /// Sent in the clear: `body` is its content for every reader, and no device has a copy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) in_clear: bool,
    /// The content of a message in the clear, until it is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    /// Where the message waits in the undelivered queue of each of this node's devices it was
    /// written for (one position, in every such queue): a receipt, a deletion or an erasure finds the
    /// queue entries from the record it reads anyway, with no index of its own to write and remove
    /// per copy. Local to this node; never relayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) queue_position: Option<u64>,
}

impl MessageRecord {
    /// The record of a message another node hosts, holding the copies of this node's `recipients`.
    pub(crate) fn from_relayed(message: &RelayedMessage, recipients: Vec<(UserId, DeviceId)>) -> Self {
        Self {
            id: message.message_id,
            conversation_id: message.conversation_id,
            sender_id: message.sender_id,
            sender_device_id: message.sender_device_id,
            client_message_id: message.client_message_id.clone(),
            seq: message.seq,
            message_type: message.message_type,
            created_at: message.created_at,
            updated_at: None,
            edited: false,
            deleted: false,
            recipients,
            reply_to: message.reply_to,
            mentions: message.mentions.clone(),
            forwarded_from: message.forwarded_from,
            in_clear: message.body.is_some(),
            body: message.body.clone(),
            queue_position: None,
        }
    }

    /// What the host relays to one node: the message with the `copies` for that node's devices.
    pub(crate) fn to_relayed(&self, copies: Vec<RelayedCopy>) -> RelayedMessage {
        RelayedMessage {
            message_id: self.id,
            conversation_id: self.conversation_id,
            seq: self.seq,
            sender_id: self.sender_id,
            sender_device_id: self.sender_device_id,
            client_message_id: self.client_message_id.clone(),
            message_type: self.message_type,
            created_at: self.created_at,
            reply_to: self.reply_to,
            mentions: self.mentions.clone(),
            forwarded_from: self.forwarded_from,
            copies,
            body: self.body.clone(),
        }
    }

    /// The API view for `device`, carrying its copy (ciphertext and header) when one was addressed to it,
    /// or the body of a message in the clear.
    pub(crate) fn to_message(
        &self,
        device: DeviceId,
        copy: Option<(Base64Bytes, Option<Base64Bytes>)>,
        reactions: Vec<Reaction>,
    ) -> Message {
        let (ciphertext, header, recipient_device_id) = match copy {
            Some((ciphertext, header)) if !self.in_clear => (Some(ciphertext), header, Some(device)),
            _ => (None, None, None),
        };
        Message {
            id: self.id,
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            sender_device_id: self.sender_device_id,
            client_message_id: self.client_message_id.clone(),
            sequence_number: self.seq,
            message_type: self.message_type,
            is_deleted: self.deleted,
            is_edited: self.edited,
            ciphertext,
            header,
            recipient_device_id,
            encrypted: !self.in_clear,
            body: self.body.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            reply_to: self.reply_to,
            mentions: self.mentions.clone(),
            forwarded_from: self.forwarded_from,
            reactions,
            state: None,
        }
    }

    /// `message:new` or `message:updated` for the device whose copy is `content` and `header` (ignored
    /// for a message in the clear, whose event carries its body).
    pub(crate) fn to_event(&self, content: Base64Bytes, header: Option<Base64Bytes>) -> MessageEvent {
        let (content, header) = match self.in_clear {
            true => (Base64Bytes(Vec::new()), None),
            false => (content, header),
        };
        MessageEvent {
            timestamp: chrono::Utc::now(),
            user_id: self.sender_id,
            conversation_id: self.conversation_id,
            message_id: self.id,
            sender_id: self.sender_id,
            sender_device_id: self.sender_device_id,
            sequence_number: self.seq,
            message_type: self.message_type,
            client_message_id: self.client_message_id.clone(),
            content,
            header,
            encrypted: !self.in_clear,
            body: self.body.clone(),
            created_at: self.created_at,
            reply_to: self.reply_to,
            mentions: self.mentions.clone(),
            forwarded_from: self.forwarded_from,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ReceiptRecord {
    pub(crate) delivered_at: Option<Timestamp>,
    pub(crate) read_at: Option<Timestamp>,
}

/// One device's copy: `[header length: u16 BE][header][ciphertext]`.
pub(crate) fn encode_copy(ciphertext: &Base64Bytes, header: Option<&Base64Bytes>) -> Vec<u8> {
    let header = header.map(|h| h.0.as_slice()).unwrap_or_default();
    let len = u16::try_from(header.len()).expect("headers are limited far below 64 KiB");
    let mut bytes = Vec::with_capacity(2 + header.len() + ciphertext.len());
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&ciphertext.0);
    bytes
}

pub(crate) fn decode_copy(bytes: &[u8]) -> Result<(Base64Bytes, Option<Base64Bytes>)> {
    let corrupt = || Error::Corrupt("ciphertext record".into());
    let len = u16::from_be_bytes(bytes.get(..2).ok_or_else(corrupt)?.try_into().map_err(|_| corrupt())?) as usize;
    let header = bytes.get(2..2 + len).ok_or_else(corrupt)?;
    let ciphertext = bytes.get(2 + len..).ok_or_else(corrupt)?;
    let header = (!header.is_empty()).then(|| Base64Bytes(header.to_vec()));
    Ok((Base64Bytes(ciphertext.to_vec()), header))
}

/// An undelivered-queue entry: `[conversation id][sequence BE][message id]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueEntry {
    pub(crate) conversation_id: ConversationId,
    pub(crate) seq: u64,
    pub(crate) message_id: MessageId,
}

impl QueueEntry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        crate::storage::keys::join(&[
            self.conversation_id.as_bytes(),
            &self.seq.to_be_bytes(),
            self.message_id.as_bytes(),
        ])
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = || Error::Corrupt("queue entry".into());
        if bytes.len() != 40 {
            return Err(corrupt());
        }
        Ok(Self {
            conversation_id: ConversationId::from_slice(&bytes[..16]).ok_or_else(corrupt)?,
            seq: u64::from_be_bytes(bytes[16..24].try_into().map_err(|_| corrupt())?),
            message_id: MessageId::from_slice(&bytes[24..]).ok_or_else(corrupt)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_round_trip_with_and_without_header() {
        let ciphertext = Base64Bytes(vec![1, 2, 3]);
        let header = Base64Bytes(vec![9; 40]);
        let (c, h) = decode_copy(&encode_copy(&ciphertext, Some(&header))).unwrap();
        assert_eq!((c, h), (ciphertext.clone(), Some(header)));
        let (c, h) = decode_copy(&encode_copy(&ciphertext, None)).unwrap();
        assert_eq!((c, h), (ciphertext, None));
        assert!(decode_copy(&[0, 5, 1]).is_err());
    }

    /// The record as written while its type and idempotency key were plain strings.
    #[derive(Serialize)]
    struct StringlyRecord {
        id: MessageId,
        conversation_id: ConversationId,
        sender_id: UserId,
        sender_device_id: DeviceId,
        client_message_id: String,
        seq: u64,
        message_type: String,
        created_at: Timestamp,
        updated_at: Option<Timestamp>,
        edited: bool,
        deleted: bool,
        recipients: Vec<(UserId, DeviceId)>,
        reply_to: Option<MessageId>,
        mentions: Vec<UserId>,
        forwarded_from: Option<MessageId>,
    }

    #[test]
    fn records_are_stored_as_they_were_with_strings() {
        let old = StringlyRecord {
            id: MessageId::random(),
            conversation_id: ConversationId::random(),
            sender_id: UserId::random(),
            sender_device_id: DeviceId::random(),
            client_message_id: "c1:5f0c".into(),
            seq: 3,
            message_type: "image".into(),
            created_at: chrono::Utc::now(),
            updated_at: None,
            edited: false,
            deleted: false,
            recipients: vec![(UserId::random(), DeviceId::random())],
            reply_to: None,
            mentions: Vec::new(),
            forwarded_from: None,
        };
        let bytes = crate::storage::encode(&old);
        let record: MessageRecord = crate::storage::decode(&bytes).unwrap();
        assert_eq!(record.message_type, MessageType::Image);
        assert_eq!(record.client_message_id.as_str(), "c1:5f0c");
        assert_eq!(crate::storage::encode(&record), bytes);
    }

    #[test]
    fn queue_entries_round_trip() {
        let entry = QueueEntry {
            conversation_id: ConversationId::random(),
            seq: 77,
            message_id: MessageId::random(),
        };
        assert_eq!(QueueEntry::decode(&entry.encode()).unwrap(), entry);
    }
}
