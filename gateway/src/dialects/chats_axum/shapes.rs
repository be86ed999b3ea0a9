//! The bodies this dialect answers with. `chats-axum.md` lists routes and request bodies only, so
//! these follow its names (`login`, `nickname`, `kind`, `title`, `user_ids`, `chat_id`) and carry what
//! its routes imply.

use protocol::api::{Conversation, ConversationKind, KeyBackup, Me, Message, Participant, Role, Timestamp};
use protocol::{ConversationId, DeviceId, MessageId, MessageType, SessionId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An account. `login` is the address the account logs in with.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumUser)]
pub(super) struct User {
    id: UserId,
    login: String,
    username: String,
    nickname: String,
    avatar_url: Option<String>,
    created_at: Timestamp,
}

impl From<Me> for User {
    fn from(me: Me) -> Self {
        Self {
            id: me.id,
            login: me.email,
            username: me.username,
            nickname: me.display_name,
            avatar_url: me.avatar_url,
            created_at: me.created_at,
        }
    }
}

/// The key backup as the document names its parts (`pkebymk`: the private key encrypted by the master
/// key, `pkebyrk`: by the recovery key, `pubk`, `salt`): opaque to the node, returned to its owner.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ChatsAxumKeys)]
pub(super) struct Keys {
    pub(super) pkebymk: String,
    pub(super) pkebyrk: String,
    pub(super) pubk: String,
    pub(super) salt: String,
}

impl From<Keys> for KeyBackup {
    fn from(keys: Keys) -> Self {
        Self {
            private_key_by_master_key: keys.pkebymk,
            private_key_by_recovery_key: keys.pkebyrk,
            public_key: keys.pubk,
            salt: keys.salt,
        }
    }
}

impl From<KeyBackup> for Keys {
    fn from(backup: KeyBackup) -> Self {
        Self {
            pkebymk: backup.private_key_by_master_key,
            pkebyrk: backup.private_key_by_recovery_key,
            pubk: backup.public_key,
            salt: backup.salt,
        }
    }
}

/// The answer to register and login.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumAuth)]
pub(super) struct Auth {
    pub(super) user: User,
    /// A JWT for `Authorization: Bearer`.
    pub(super) access_token: String,
    /// Carries its session; spent by its first use at `/auth/refresh`, which answers with the next.
    pub(super) refresh_token: String,
    pub(super) token_type: &'static str,
    /// Seconds until the access token expires.
    pub(super) expires_in: i64,
    /// The key backup stored at registration, for its owner.
    pub(super) keys: Option<Keys>,
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumSession)]
pub(super) struct Session {
    pub(super) id: SessionId,
    pub(super) device_id: DeviceId,
    pub(super) device_name: String,
    pub(super) ip: Option<String>,
    pub(super) created_at: Timestamp,
    pub(super) last_active: Timestamp,
    pub(super) current: bool,
}

/// `private`, `group` or `channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ChatsAxumKind)]
#[serde(rename_all = "lowercase")]
pub(super) enum Kind {
    Private,
    Group,
    Channel,
}

impl From<Kind> for ConversationKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Private => ConversationKind::Dm,
            Kind::Group => ConversationKind::Group,
            Kind::Channel => ConversationKind::Channel,
        }
    }
}

impl From<ConversationKind> for Kind {
    fn from(kind: ConversationKind) -> Self {
        match kind {
            ConversationKind::Dm => Kind::Private,
            ConversationKind::Group => Kind::Group,
            ConversationKind::Channel => Kind::Channel,
        }
    }
}

/// A chat as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumChat)]
pub(super) struct Chat {
    id: ConversationId,
    kind: Kind,
    title: Option<String>,
    avatar_url: Option<String>,
    created_by: UserId,
    members_count: usize,
    /// The caller's role.
    role: Role,
    favorite: bool,
    last_message_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Conversation> for Chat {
    fn from(conversation: Conversation) -> Self {
        Self {
            id: conversation.id,
            kind: conversation.kind.into(),
            title: conversation.subject,
            avatar_url: conversation.avatar_url,
            created_by: conversation.creator_id,
            members_count: conversation.participant_count,
            role: conversation.role,
            favorite: conversation.is_favorite,
            last_message_at: conversation.last_message_at,
            created_at: conversation.created_at,
            updated_at: conversation.updated_at,
        }
    }
}

/// A member of a chat.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumMember)]
pub(super) struct Member {
    user_id: UserId,
    username: Option<String>,
    nickname: Option<String>,
    role: Role,
    joined_at: Timestamp,
}

impl From<Participant> for Member {
    fn from(participant: Participant) -> Self {
        Self {
            user_id: participant.user_id,
            username: participant.username,
            nickname: participant.display_name,
            role: participant.role,
            joined_at: participant.joined_at,
        }
    }
}

/// One recipient device's encrypted copy of a message (an "envelope").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ChatsAxumEnvelope)]
pub(super) struct Envelope {
    pub(super) device_id: DeviceId,
    /// Base64.
    #[schema(value_type = String)]
    pub(super) ciphertext: protocol::Base64Bytes,
    /// Base64, when the scheme has one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub(super) header: Option<protocol::Base64Bytes>,
}

/// A message. `payload` is the text of a message in the clear; an end-to-end encrypted one carries the
/// reader's own `envelope` instead.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumMessage)]
pub(super) struct ChatMessage {
    id: MessageId,
    chat_id: ConversationId,
    sender_id: UserId,
    /// The message's place in its chat, from 1.
    seq: u64,
    #[serde(rename = "type")]
    kind: MessageType,
    payload: Option<String>,
    encrypted: bool,
    envelope: Option<Envelope>,
    client_message_id: String,
    reply_to: Option<MessageId>,
    forwarded_from: Option<MessageId>,
    edited: bool,
    deleted: bool,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
}

impl From<&Message> for ChatMessage {
    fn from(message: &Message) -> Self {
        let envelope = match (&message.ciphertext, message.recipient_device_id) {
            (Some(ciphertext), Some(device_id)) => Some(Envelope {
                device_id,
                ciphertext: ciphertext.clone(),
                header: message.header.clone(),
            }),
            _ => None,
        };
        Self {
            id: message.id,
            chat_id: message.conversation_id,
            sender_id: message.sender_id,
            seq: message.sequence_number,
            kind: message.message_type,
            payload: message.body.clone(),
            encrypted: message.encrypted,
            envelope,
            client_message_id: message.client_message_id.as_str().to_owned(),
            reply_to: message.reply_to,
            forwarded_from: message.forwarded_from,
            edited: message.is_edited,
            deleted: message.is_deleted,
            created_at: message.created_at,
            updated_at: message.updated_at,
        }
    }
}

/// A page of messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumMessagePage)]
pub(super) struct MessagePage {
    pub(super) messages: Vec<ChatMessage>,
    /// Whether older messages (or, reading forwards with `after_id`, newer ones) remain.
    pub(super) has_more: bool,
}

/// `{"ok": true}` for actions with nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumOk)]
pub(super) struct Done {
    pub(super) ok: bool,
}

pub(super) const DONE: Done = Done { ok: true };
