//! The document's bodies, and how node types map onto them.

use protocol::api::{Conversation, Me, Message, ParticipantList, Timestamp};
use protocol::ws::MessageEvent;
use protocol::{ConversationId, MessageId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An account as the document shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatUser)]
pub(super) struct User {
    pub(super) id: UserId,
    pub(super) username: String,
    pub(super) email: String,
    pub(super) created_at: Timestamp,
}

impl From<Me> for User {
    fn from(me: Me) -> Self {
        Self {
            id: me.id,
            username: me.username,
            email: me.email,
            created_at: me.created_at,
        }
    }
}

/// `POST /api/auth/register`, `POST /api/auth/login`: the account and a token pair. `expires_in` and
/// `token_type` are messaging-app's, which shares these paths; simple-chat clients ignore them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatAuth)]
pub(super) struct Auth {
    pub(super) user: User,
    pub(super) access_token: String,
    /// Carries its session; spent by its first use at `/api/auth/refresh`, which answers with the next.
    pub(super) refresh_token: String,
    /// Seconds until the access token expires.
    pub(super) expires_in: i64,
    /// Always `Bearer`.
    pub(super) token_type: &'static str,
}

/// A one-to-one conversation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatConversation)]
pub(super) struct Dm {
    pub(super) id: ConversationId,
    /// Both users, the caller first.
    pub(super) participants: Vec<UserId>,
    pub(super) created_at: Timestamp,
    pub(super) updated_at: Timestamp,
}

impl Dm {
    pub(super) fn new(conversation: &Conversation, members: &ParticipantList, caller: UserId) -> Self {
        Self {
            id: conversation.id,
            participants: ids_caller_first(members, caller),
            created_at: conversation.created_at,
            updated_at: conversation.updated_at,
        }
    }
}

/// A group.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatGroup)]
pub(super) struct Group {
    pub(super) id: ConversationId,
    pub(super) name: String,
    pub(super) created_by: UserId,
    pub(super) members: Vec<UserId>,
    pub(super) created_at: Timestamp,
}

impl Group {
    pub(super) fn new(conversation: &Conversation, members: &ParticipantList, caller: UserId) -> Self {
        Self {
            id: conversation.id,
            name: conversation.subject.clone().unwrap_or_default(),
            created_by: conversation.creator_id,
            members: ids_caller_first(members, caller),
            created_at: conversation.created_at,
        }
    }
}

fn ids_caller_first(members: &ParticipantList, caller: UserId) -> Vec<UserId> {
    let mut ids: Vec<UserId> = members.participants.iter().map(|p| p.user_id).collect();
    ids.sort_by_key(|id| *id != caller);
    ids
}

/// A message. `content` is the text of a message sent in the clear; one sent end-to-end encrypted by a
/// `/v1` client cannot be read here, so its `content` is empty and `encrypted` true.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatMessage)]
pub(super) struct ChatMessage {
    pub(super) id: MessageId,
    pub(super) sender_id: UserId,
    /// The one-to-one conversation (absent for group messages over REST; `null` on the WebSocket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) conversation_id: Option<ConversationId>,
    /// The group (absent for one-to-one messages over REST; `null` on the WebSocket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) group_id: Option<ConversationId>,
    pub(super) content: String,
    /// False for every message this dialect sends.
    pub(super) encrypted: bool,
    pub(super) created_at: Timestamp,
}

/// A message as the WebSocket carries it: `conversation_id` and `group_id` both present, one `null`
/// (simple-chat), and its `type` (messaging-app, which shares the socket).
#[derive(Debug, Serialize)]
pub(super) struct SocketMessage {
    id: MessageId,
    sender_id: UserId,
    conversation_id: Option<ConversationId>,
    group_id: Option<ConversationId>,
    content: String,
    #[serde(rename = "type")]
    kind: protocol::MessageType,
    encrypted: bool,
    created_at: Timestamp,
}

impl SocketMessage {
    pub(super) fn new(event: &MessageEvent, group: bool) -> Self {
        Self {
            id: event.message_id,
            sender_id: event.sender_id,
            conversation_id: (!group).then_some(event.conversation_id),
            group_id: group.then_some(event.conversation_id),
            content: event.body.clone().unwrap_or_default(),
            kind: event.message_type,
            encrypted: event.encrypted,
            created_at: event.created_at,
        }
    }
}

impl ChatMessage {
    pub(super) fn for_socket(self) -> SocketMessage {
        SocketMessage {
            id: self.id,
            sender_id: self.sender_id,
            conversation_id: self.conversation_id,
            group_id: self.group_id,
            content: self.content,
            kind: protocol::MessageType::Text,
            encrypted: self.encrypted,
            created_at: self.created_at,
        }
    }

    pub(super) fn new(message: &Message, group: bool) -> Self {
        Self {
            id: message.id,
            sender_id: message.sender_id,
            conversation_id: (!group).then_some(message.conversation_id),
            group_id: group.then_some(message.conversation_id),
            content: message.body.clone().unwrap_or_default(),
            encrypted: message.encrypted,
            created_at: message.created_at,
        }
    }
}

/// `POST /api/conversations`, `POST /api/groups/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimpleChatUserRef)]
pub(super) struct UserRefBody {
    /// A user id, or a handle `username@node` for a user of another node.
    pub(super) user_id: protocol::api::UserRef,
}

/// `POST /api/groups`: simple-chat sends a `name`; messaging-app, on the same path, may add a
/// `description`, the first `members` and `settings`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimpleChatNewGroup)]
pub(super) struct NewGroup {
    #[schema(min_length = 1, max_length = 100)]
    pub(super) name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub(super) description: Option<String>,
    /// User ids or handles `username@node`.
    #[serde(default)]
    pub(super) members: Option<Vec<protocol::api::UserRef>>,
    #[serde(default)]
    pub(super) settings: Option<protocol::api::UpdateSettings>,
}

impl NewGroup {
    /// Whether the body is messaging-app's (anything beyond simple-chat's `name`).
    pub(super) fn is_messaging_apps(&self) -> bool {
        self.description.is_some() || self.members.is_some() || self.settings.is_some()
    }
}

/// A member as messaging-app shows one.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessagingAppMember)]
pub(super) struct Member {
    pub(super) user_id: UserId,
    /// `owner`, `admin` or `member`.
    pub(super) role: protocol::api::Role,
    pub(super) joined_at: Timestamp,
}

/// The answer to `POST /api/groups`, one body for both documents that create groups there:
/// messaging-app's group at the top level, simple-chat's under `group`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatCreatedGroup)]
pub(super) struct CreatedGroup {
    pub(super) id: ConversationId,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) owner_id: UserId,
    pub(super) created_at: Timestamp,
    pub(super) members: Vec<Member>,
    pub(super) settings: protocol::api::GroupSettings,
    pub(super) group: Group,
}

impl CreatedGroup {
    pub(super) fn new(conversation: &Conversation, members: &ParticipantList, caller: UserId) -> Self {
        Self {
            id: conversation.id,
            name: conversation.subject.clone().unwrap_or_default(),
            description: conversation.description.clone(),
            owner_id: conversation.creator_id,
            created_at: conversation.created_at,
            members: members
                .participants
                .iter()
                .map(|p| Member {
                    user_id: p.user_id,
                    role: p.role,
                    joined_at: p.joined_at,
                })
                .collect(),
            settings: conversation.settings.clone(),
            group: Group::new(conversation, members, caller),
        }
    }
}

/// `POST .../messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimpleChatNewMessage)]
pub(super) struct NewMessage {
    /// The text (at most 64 KiB), stored in the clear.
    #[schema(min_length = 1, max_length = 65536, format = "opaque")]
    pub(super) content: String,
}

/// A page of messages, oldest first; `next_cursor` is the timestamp to pass as `cursor` for the page
/// before it, `null` at the beginning of the conversation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatMessagePage)]
pub(super) struct MessagePage {
    pub(super) messages: Vec<ChatMessage>,
    pub(super) next_cursor: Option<Timestamp>,
}

/// `{"message": "…"}` for actions with nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatNotice)]
pub(super) struct Notice {
    pub(super) message: &'static str,
}
