//! WebSocket frames on `/v1/ws`: JSON objects tagged by `type`, as in the reference API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::{Call, CallEndReason, Role, SendMessageRequest, Timestamp};
use crate::{Base64Bytes, CallId, ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};

/// What a client may send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Authenticates a socket opened without `?token=`; must be the first frame.
    #[serde(rename = "auth")]
    Auth {
        /// The access token, with or without a `Bearer ` prefix.
        token: String,
        /// Resume from these sequence numbers instead of replaying the undelivered queue.
        #[serde(default)]
        since: Option<BTreeMap<ConversationId, u64>>,
    },
    /// Posts a message without an HTTP request; answered by `message:ack` or `error`.
    #[serde(rename = "message:send")]
    SendMessage(SendMessageRequest),
    /// Acknowledges that this device stored a message; it leaves the device's queue.
    #[serde(rename = "message:delivered")]
    Delivered {
        /// The message.
        message_id: MessageId,
    },
    /// Marks a message read by the user.
    #[serde(rename = "message:read")]
    Read {
        /// The message.
        message_id: MessageId,
    },
    /// The user started typing in a conversation.
    #[serde(rename = "typing:started")]
    TypingStarted {
        /// Where.
        conversation_id: ConversationId,
    },
    /// The user stopped typing.
    #[serde(rename = "typing:stopped")]
    TypingStopped {
        /// Where.
        conversation_id: ConversationId,
    },
    /// The user is (or is again) online, with an optional status.
    #[serde(rename = "presence:online")]
    PresenceOnline {
        /// A short status such as `online` or `away`.
        #[serde(default)]
        status: Option<String>,
    },
    /// The user appears offline while still connected.
    #[serde(rename = "presence:offline")]
    PresenceOffline,
    /// Application-level keepalive; answered by `pong`.
    #[serde(rename = "ping")]
    Ping,
    /// A WebRTC SDP offer for another participant of a call.
    #[serde(rename = "call:offer")]
    CallOffer(CallSignalRequest),
    /// A WebRTC SDP answer.
    #[serde(rename = "call:answer")]
    CallAnswer(CallSignalRequest),
    /// A WebRTC ICE candidate.
    #[serde(rename = "call:ice")]
    CallIce(CallSignalRequest),
}

/// A signaling message for one participant of a call; the node relays `data` untouched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallSignalRequest {
    /// The call.
    pub call_id: CallId,
    /// The participant it is for.
    pub to_id: UserId,
    /// One of their devices; all their connected devices when absent.
    #[serde(default)]
    pub to_device_id: Option<DeviceId>,
    /// The SDP or candidate (at most 64 KiB).
    pub data: String,
}

/// The kinds of WebRTC signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// An ICE candidate.
    Ice,
}

/// `call:offer`, `call:answer` and `call:ice` as delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallSignal {
    /// When relayed.
    pub timestamp: Timestamp,
    /// The sender.
    pub user_id: UserId,
    /// The call.
    pub call_id: CallId,
    /// The sender.
    pub from_id: UserId,
    /// The sending device, to answer to.
    pub from_device_id: DeviceId,
    /// The recipient.
    pub to_id: UserId,
    /// `offer`, `answer` or `ice`.
    pub signal_type: SignalKind,
    /// The SDP or candidate.
    pub data: String,
}

/// What the node sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum ServerFrame {
    /// Authentication succeeded; replay follows, closed by `sync:complete`.
    #[serde(rename = "ready")]
    Ready {
        /// The authenticated user.
        user_id: UserId,
        /// The authenticated device.
        device_id: DeviceId,
    },
    /// Every missed message has been sent; what follows is live.
    #[serde(rename = "sync:complete")]
    SyncComplete {
        /// How many messages the replay carried.
        replayed: usize,
    },
    /// A message for this device.
    #[serde(rename = "message:new")]
    MessageNew(MessageEvent),
    /// A message this user sent into a conversation another node hosts, accepted here as `pending`,
    /// was ordered by the host: it now has its place in the conversation.
    #[serde(rename = "message:sequenced")]
    MessageSequenced {
        /// Where.
        conversation_id: ConversationId,
        /// Which.
        message_id: MessageId,
        /// The sender's idempotency key.
        client_message_id: ClientMessageId,
        /// Its place.
        sequence_number: u64,
    },
    /// A message's content was replaced.
    #[serde(rename = "message:updated")]
    MessageUpdated(MessageEvent),
    /// A message was deleted.
    #[serde(rename = "message:deleted")]
    MessageDeleted {
        /// When.
        timestamp: Timestamp,
        /// Who deleted it.
        user_id: UserId,
        /// Where.
        conversation_id: ConversationId,
        /// Which.
        message_id: MessageId,
        /// Its slot.
        sequence_number: u64,
    },
    /// A reaction changed on a message.
    #[serde(rename = "message:reaction")]
    MessageReaction(ReactionEvent),
    /// A recipient read one of this user's messages.
    #[serde(rename = "message:read")]
    MessageRead(ReceiptEvent),
    /// One of this user's messages reached a recipient's device.
    #[serde(rename = "message:delivered")]
    MessageDelivered(ReceiptEvent),
    /// Someone started typing.
    #[serde(rename = "typing:started")]
    TypingStarted(TypingEvent),
    /// Someone stopped typing.
    #[serde(rename = "typing:stopped")]
    TypingStopped(TypingEvent),
    /// Someone came online.
    #[serde(rename = "presence:online")]
    PresenceOnline(PresenceEvent),
    /// Someone went offline.
    #[serde(rename = "presence:offline")]
    PresenceOffline(PresenceEvent),
    /// A user joined a conversation of the recipient's (added, or through an invite).
    #[serde(rename = "participant:added")]
    ParticipantAdded(MembershipEvent),
    /// A user left or was removed; the removed user hears it too.
    #[serde(rename = "participant:removed")]
    ParticipantRemoved(MembershipEvent),
    /// A participant's role changed.
    #[serde(rename = "participant:role")]
    ParticipantRole(MembershipEvent),
    /// A `message:send` frame was stored durably.
    #[serde(rename = "message:ack")]
    MessageAck {
        /// Echoed from the send.
        client_message_id: ClientMessageId,
        /// The stored message.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// Its place.
        sequence_number: u64,
        /// When it was stored.
        created_at: Timestamp,
    },
    /// A frame was refused; the socket stays open unless the error is fatal.
    #[serde(rename = "error")]
    Error {
        /// A machine-readable code, as in REST errors.
        code: String,
        /// A human-readable reason.
        error: String,
        /// The send this answers, when it answers one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_message_id: Option<ClientMessageId>,
    },
    /// The answer to `ping`.
    #[serde(rename = "pong")]
    Pong,
    /// A call rings for this user.
    #[serde(rename = "call:incoming")]
    CallIncoming {
        /// When.
        timestamp: Timestamp,
        /// The caller.
        user_id: UserId,
        /// The call.
        call: Call,
    },
    /// A call's state or participants changed.
    #[serde(rename = "call:updated")]
    CallUpdated {
        /// When.
        timestamp: Timestamp,
        /// Who changed it.
        user_id: UserId,
        /// The call.
        call: Call,
    },
    /// An SDP offer from a call participant.
    #[serde(rename = "call:offer")]
    CallOffer(CallSignal),
    /// An SDP answer from a call participant.
    #[serde(rename = "call:answer")]
    CallAnswer(CallSignal),
    /// An ICE candidate from a call participant.
    #[serde(rename = "call:ice")]
    CallIce(CallSignal),
    /// A call ended.
    #[serde(rename = "call:ended")]
    CallEnded {
        /// When.
        timestamp: Timestamp,
        /// Who ended it.
        user_id: UserId,
        /// The call.
        call_id: CallId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// Who ended it.
        ended_by: UserId,
        /// Why.
        reason: CallEndReason,
        /// Connected seconds.
        duration_seconds: u64,
    },
}

/// `message:new` and `message:updated`: one device's copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageEvent {
    /// When the event was produced.
    pub timestamp: Timestamp,
    /// The sender (the user the event is about, as in the reference).
    pub user_id: UserId,
    /// Where.
    pub conversation_id: ConversationId,
    /// Which message.
    pub message_id: MessageId,
    /// The sender.
    pub sender_id: UserId,
    /// The sending device.
    pub sender_device_id: DeviceId,
    /// Its place in the conversation.
    pub sequence_number: u64,
    /// The kind of content.
    pub message_type: MessageType,
    /// The sender's idempotency key.
    pub client_message_id: ClientMessageId,
    /// The ciphertext for this device; empty for a message sent in the clear (see `body`).
    pub content: Base64Bytes,
    /// False for a message sent in the clear, which the node can read.
    #[serde(default = "crate::api::yes")]
    pub encrypted: bool,
    /// The content of a message sent in the clear, the same for every device.
    #[serde(default)]
    pub body: Option<String>,
    /// Its ratchet header.
    pub header: Option<Base64Bytes>,
    /// When the node stored the message.
    pub created_at: Timestamp,
    /// The message this one answers.
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// Participants mentioned.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// The message this one forwards.
    #[serde(default)]
    pub forwarded_from: Option<MessageId>,
}

/// `message:reaction`: a reaction was added or removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionEvent {
    /// When.
    pub timestamp: Timestamp,
    /// Who reacted.
    pub user_id: UserId,
    /// Where.
    pub conversation_id: ConversationId,
    /// Which message.
    pub message_id: MessageId,
    /// The emoji.
    pub emoji: String,
    /// Added (`true`) or removed.
    pub added: bool,
}

/// `message:read` and `message:delivered`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptEvent {
    /// When.
    pub timestamp: Timestamp,
    /// The reader or recipient.
    pub user_id: UserId,
    /// Where.
    pub conversation_id: ConversationId,
    /// Which message.
    pub message_id: MessageId,
    /// The reader (read receipts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_id: Option<UserId>,
    /// The recipient (delivery receipts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<UserId>,
}

/// `participant:added`, `participant:removed` and `participant:role`: who takes part in a conversation
/// changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipEvent {
    /// When the change was applied here.
    pub timestamp: Timestamp,
    /// Where.
    pub conversation_id: ConversationId,
    /// Who joined, left or changed role.
    pub user_id: UserId,
    /// Their role (none once removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Who made the change, when known here (a change relayed by another node names no one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
}

/// `typing:started` and `typing:stopped`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypingEvent {
    /// When.
    pub timestamp: Timestamp,
    /// Who is typing.
    pub user_id: UserId,
    /// Where.
    pub conversation_id: ConversationId,
    /// Their display name.
    pub display_name: String,
    /// Whether they are typing now.
    pub is_typing: bool,
}

/// `presence:online` and `presence:offline`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceEvent {
    /// When.
    pub timestamp: Timestamp,
    /// Whose presence changed.
    pub user_id: UserId,
    /// Whether they are online.
    pub is_online: bool,
    /// `online`, `offline` or a custom status.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_from_reference_shapes() {
        let conversation = ConversationId::random();
        let typing: ClientFrame = serde_json::from_str(&format!(
            r#"{{"type":"typing:started","conversation_id":"{conversation}"}}"#
        ))
        .unwrap();
        assert!(matches!(typing, ClientFrame::TypingStarted { conversation_id } if conversation_id == conversation));
        let presence: ClientFrame = serde_json::from_str(r#"{"type":"presence:online","status":"online"}"#).unwrap();
        assert!(matches!(presence, ClientFrame::PresenceOnline { status: Some(s) } if s == "online"));
    }

    #[test]
    fn a_send_frame_carries_the_rest_body_inline() {
        let conversation = ConversationId::random();
        let device = DeviceId::random();
        let frame: ClientFrame = serde_json::from_str(&format!(
            r#"{{"type":"message:send","conversation_id":"{conversation}","client_message_id":"c1",
                "ciphertexts":[{{"recipient_device_id":"{device}","ciphertext":"AAEC"}}]}}"#
        ))
        .unwrap();
        let ClientFrame::SendMessage(send) = frame else {
            panic!("not a send")
        };
        assert_eq!(send.message_type, MessageType::Text);
        assert_eq!(send.ciphertexts[0].ciphertext.0, vec![0, 1, 2]);
    }

    #[test]
    fn server_frames_are_tagged_by_type() {
        let json = serde_json::to_value(ServerFrame::SyncComplete { replayed: 3 }).unwrap();
        assert_eq!(json["type"], "sync:complete");
        assert_eq!(json["replayed"], 3);
    }
}
