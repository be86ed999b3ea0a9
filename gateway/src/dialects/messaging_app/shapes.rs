//! The document's bodies, and how node types map onto them.

use protocol::api::{DeliveryState, Message, Timestamp, UserProfile};
use protocol::{ConversationId, MessageId, MessageType, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/users/{user_id}` and the answer to `PATCH`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessagingAppUser)]
pub(super) struct Profile {
    id: UserId,
    username: String,
    display_name: String,
    /// `online` or `offline`.
    status: &'static str,
    last_seen: Option<Timestamp>,
    profile: ProfileDetails,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessagingAppProfileDetails)]
struct ProfileDetails {
    bio: Option<String>,
    avatar_url: Option<String>,
    location: Option<String>,
}

impl From<UserProfile> for Profile {
    fn from(user: UserProfile) -> Self {
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            status: if user.is_online { "online" } else { "offline" },
            last_seen: user.last_seen,
            profile: ProfileDetails {
                bio: user.bio,
                avatar_url: user.avatar_url,
                location: user.location,
            },
        }
    }
}

/// `reply_to` and `mentions`, as sent and as shown.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = MessagingAppMetadata)]
pub(super) struct Metadata {
    /// A message of the same conversation.
    #[serde(default)]
    pub(super) reply_to: Option<MessageId>,
    /// Participants mentioned.
    #[serde(default)]
    pub(super) mentions: Vec<UserId>,
}

/// A message as the document shows it, with `conversation_id` and `encrypted` beside its fields.
/// `content` is the text of a message sent in the clear; one a `/v1` client encrypted cannot be read
/// here, so its `content` is empty and `encrypted` true.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessagingAppMessage)]
pub(super) struct MessageOut {
    id: MessageId,
    sender_id: UserId,
    /// The other user of a one-to-one conversation, when the message was sent to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) receiver_id: Option<UserId>,
    conversation_id: ConversationId,
    content: String,
    #[serde(rename = "type")]
    kind: MessageType,
    /// `sent`, `delivered` or `read`.
    status: DeliveryState,
    encrypted: bool,
    created_at: Timestamp,
    metadata: Metadata,
}

impl MessageOut {
    pub(super) fn new(message: &Message, status: DeliveryState) -> Self {
        Self {
            id: message.id,
            sender_id: message.sender_id,
            receiver_id: None,
            conversation_id: message.conversation_id,
            content: message.body.clone().unwrap_or_default(),
            kind: message.message_type,
            status,
            encrypted: message.encrypted,
            created_at: message.created_at,
            metadata: Metadata {
                reply_to: message.reply_to,
                mentions: message.mentions.clone(),
            },
        }
    }
}
