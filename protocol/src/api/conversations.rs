use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{ConversationId, UserId};

/// The kinds of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConversationKind {
    /// Two users; at most one per pair.
    Dm,
    /// Many users with roles.
    Group,
}

/// A participant's powers: owners manage everything, admins manage members, members talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Talks.
    Member,
    /// Also adds and removes members and edits the conversation.
    Admin,
    /// Also manages admins, roles and deletion.
    Owner,
}

/// `POST /v1/conversations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateConversationRequest {
    /// `DM` or `GROUP`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// A group's name (required for groups, at most 100 characters).
    #[serde(default)]
    pub subject: Option<String>,
    /// At most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The other users; the creator is always included. A DM names exactly one other user.
    #[serde(default)]
    pub participants: Vec<UserId>,
}

/// A conversation as its participants see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conversation {
    /// The conversation.
    pub id: ConversationId,
    /// `DM` or `GROUP`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// A group's name.
    pub subject: Option<String>,
    /// A group's description.
    pub description: Option<String>,
    /// A picture.
    pub avatar_url: Option<String>,
    /// Who created it.
    pub creator_id: UserId,
    /// How many participants it has.
    pub participant_count: usize,
    /// The newest message's sequence number (0 when empty).
    pub last_sequence: u64,
    /// When the newest message arrived.
    pub last_message_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its details last changed.
    pub updated_at: Timestamp,
}

/// `GET /v1/conversations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationPage {
    /// This page, newest activity first.
    pub conversations: Vec<Conversation>,
    /// All of the caller's conversations.
    pub total: usize,
    /// The page returned.
    pub page: u32,
    /// The page size used.
    pub limit: u32,
}

/// `GET /v1/conversations/search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationList {
    /// The matches.
    pub conversations: Vec<Conversation>,
}

/// `PUT /v1/conversations/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateConversationRequest {
    /// A group's new name.
    #[serde(default)]
    pub subject: Option<String>,
    /// A new description; empty clears it.
    #[serde(default)]
    pub description: Option<String>,
    /// A new picture URL; empty clears it.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// `GET /v1/conversations/search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationSearchQuery {
    /// Text to find in subjects (case-insensitive).
    pub query: String,
    /// At most 100; default 20.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /v1/conversations/direct`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectQuery {
    /// One side; must be the caller or the other side.
    pub user_id_1: UserId,
    /// The other side.
    pub user_id_2: UserId,
}

/// One member of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participant {
    /// The member.
    pub user_id: UserId,
    /// Their username.
    pub username: Option<String>,
    /// Their display name.
    pub display_name: Option<String>,
    /// Their powers.
    pub role: Role,
    /// When they joined.
    pub joined_at: Timestamp,
}

/// `GET /v1/conversations/{id}/participants`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParticipantList {
    /// The members.
    pub participants: Vec<Participant>,
}

/// `POST /v1/conversations/{id}/participants`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddParticipantRequest {
    /// Who to add.
    pub user_id: UserId,
    /// Defaults to `member`.
    #[serde(default)]
    pub role: Option<Role>,
}

/// `PUT /v1/conversations/{id}/participants/{user_id}/role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRoleRequest {
    /// The new role.
    pub role: Role,
}

/// `GET /v1/conversations/{id}/sequence`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceInfo {
    /// The newest assigned sequence number (0 when empty).
    pub sequence: u64,
}
