use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{Base64Bytes, ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};

/// One recipient device's copy of a message, encrypted for it alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCiphertext {
    /// The device that can decrypt it.
    pub recipient_device_id: DeviceId,
    /// The encrypted payload (at most 64 KiB).
    pub ciphertext: Base64Bytes,
    /// The ratchet header, opaque to the node (at most 1 KiB).
    #[serde(default)]
    pub header: Option<Base64Bytes>,
}

/// `POST /v1/messages` and the WebSocket `message:send` frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessageRequest {
    /// Where to post.
    pub conversation_id: ConversationId,
    /// One entry per recipient device; the sending device needs none. Empty when `body` is given.
    #[serde(default)]
    pub ciphertexts: Vec<DeviceCiphertext>,
    /// Content in the clear, one copy for the whole conversation instead of a ciphertext per device:
    /// for clients that do not encrypt (the other API dialects). The node can read it; the message is
    /// marked `encrypted: false` wherever it is shown. Refused by nodes run with
    /// `--allow-unencrypted false`. At most 64 KiB of UTF-8.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536, format = "opaque"))]
    pub body: Option<String>,
    /// `text` when absent.
    #[serde(default)]
    pub message_type: MessageType,
    /// Chosen by the client; resending it returns the original message instead of a duplicate.
    pub client_message_id: ClientMessageId,
    /// The message this one answers (same conversation).
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// Participants mentioned (at most 50); metadata the node can see, for notifications.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub mentions: Vec<UserId>,
}

/// `POST /v1/messages/{id}/forward`: the client re-encrypts the content for the target conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForwardMessageRequest {
    /// Where to forward to.
    pub conversation_id: ConversationId,
    /// One entry per recipient device of the target conversation; empty when `body` is given, or to
    /// forward a message sent in the clear as it is.
    #[serde(default)]
    pub ciphertexts: Vec<DeviceCiphertext>,
    /// The forwarded content in the clear (see `SendMessageRequest::body`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536, format = "opaque"))]
    pub body: Option<String>,
    /// Defaults to the original message's type.
    #[serde(default)]
    pub message_type: Option<MessageType>,
    /// The idempotency key of the forwarded copy.
    pub client_message_id: ClientMessageId,
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// How many users reacted with it.
    pub count: usize,
    /// Who.
    pub user_ids: Vec<UserId>,
}

/// `POST /v1/messages/{id}/reactions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactRequest {
    /// One emoji (at most 16 characters, no spaces).
    #[cfg_attr(feature = "openapi", schema(format = "emoji"))]
    pub emoji: String,
}

/// A message's reactions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionList {
    /// Per emoji, most used first.
    pub reactions: Vec<Reaction>,
    /// `pending` when the change is queued for the conversation's host, which another node is and
    /// which did not answer in time: the list is as this node knows it, and the change follows as a
    /// `reaction:*` event once the host applied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MessageState>,
}

/// A message as one device sees it: its metadata plus the ciphertext addressed to that device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The message.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Who sent it.
    pub sender_id: UserId,
    /// From which device.
    pub sender_device_id: DeviceId,
    /// The sender's idempotency key.
    pub client_message_id: ClientMessageId,
    /// Gap-free order within the conversation, from 1.
    pub sequence_number: u64,
    /// The kind of content.
    pub message_type: MessageType,
    /// Soft-deleted: the content is gone, the slot remains.
    pub is_deleted: bool,
    /// Whether the sender replaced the content.
    pub is_edited: bool,
    /// The copy for the requesting device, if one was addressed to it.
    pub ciphertext: Option<Base64Bytes>,
    /// Its ratchet header.
    pub header: Option<Base64Bytes>,
    /// The requesting device when a ciphertext is included.
    pub recipient_device_id: Option<DeviceId>,
    /// False for a message sent in the clear (`body`), which the node can read.
    #[serde(default = "super::yes")]
    pub encrypted: bool,
    /// The content of a message sent in the clear, the same for every reader; `None` when encrypted or
    /// deleted.
    #[serde(default)]
    pub body: Option<String>,
    /// When the node stored it.
    pub created_at: Timestamp,
    /// When it was last edited or deleted.
    pub updated_at: Option<Timestamp>,
    /// The message this one answers.
    pub reply_to: Option<MessageId>,
    /// Participants mentioned.
    pub mentions: Vec<UserId>,
    /// The message this one forwards.
    pub forwarded_from: Option<MessageId>,
    /// Reactions, per emoji.
    pub reactions: Vec<Reaction>,
    /// Present only while the message is not yet in its conversation: sent into a conversation another
    /// node hosts, it waits (`pending`, with `sequence_number` 0) in this node's queue for the host,
    /// or the host refused it for good (`refused`). A `message:sequenced` event follows when the host
    /// has ordered it. Also `pending` in the answer to an edit or deletion queued for a host that did
    /// not answer in time: the message is shown as it was, and the change follows as an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MessageState>,
}

/// Where a message sent into a conversation another node hosts stands before that node ordered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    /// Kept durably here and submitted to the host as soon as it is reachable, in the order sent.
    Pending,
    /// The host refused it for good (the sender left the conversation meanwhile, say).
    Refused,
}

/// How far a message has got, as its reader sees it: for the sender's own message, the furthest any
/// other participant has taken it; for a message from someone else, the reader's own mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Stored by the node; no recipient has it yet.
    Sent,
    /// A recipient's device has it.
    Delivered,
    /// A recipient has read it.
    Read,
}

/// `GET /v1/messages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct MessageQuery {
    /// The conversation to read.
    pub conversation_id: ConversationId,
    /// Only messages with a smaller sequence number (the newest of them).
    #[serde(default)]
    pub before_seq: Option<u64>,
    /// Only messages with a larger sequence number (the oldest of them).
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// At most 100; default 50.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
    /// Only messages of this type.
    #[serde(default, rename = "type")]
    pub message_type: Option<MessageType>,
    /// Only messages stored at or after this time.
    #[serde(default)]
    pub from: Option<Timestamp>,
    /// Only messages stored at or before this time.
    #[serde(default)]
    pub to: Option<Timestamp>,
    /// A `next_cursor` from a previous page; continues in the same direction and overrides the bounds.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(pattern = "^[ab][0-9]{1,19}$"))]
    pub cursor: Option<String>,
}

/// A page of messages in ascending sequence order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePage {
    /// The messages.
    pub messages: Vec<Message>,
    /// Whether more messages lie beyond this page in the direction asked.
    pub has_more: bool,
    /// Pass as `cursor` for the next page when `has_more`.
    pub next_cursor: Option<String>,
}

/// `PUT /v1/messages/{id}`: new per-device ciphertexts replace the old ones, or a new `body` the old
/// one for a message sent in the clear (a message keeps the form it was sent in).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditMessageRequest {
    /// One entry per recipient device, as when sending.
    #[serde(default)]
    pub ciphertexts: Vec<DeviceCiphertext>,
    /// The new content of a message sent in the clear.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536, format = "opaque"))]
    pub body: Option<String>,
}

/// A delivered or read mark.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// The message.
    pub message_id: MessageId,
    /// Who marked it.
    pub user_id: UserId,
    /// When it reached one of their devices.
    pub delivered_at: Option<Timestamp>,
    /// When they read it.
    pub read_at: Option<Timestamp>,
}
