use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{ConversationId, UserId};

/// The kinds of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum ConversationKind {
    /// Two users; at most one per pair.
    Dm,
    /// Many users with roles.
    Group,
    /// Owners and admins post; members read.
    Channel,
}

/// A participant's powers: owners manage everything, admins manage members, members talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversationRequest {
    /// `DM` or `GROUP`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// A group's name (required for groups, at most 100 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub subject: Option<String>,
    /// At most 500 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    /// The other users, by id or by handle `username@node-name`; the creator is always included. A DM
    /// names exactly one other user.
    #[serde(default)]
    pub participants: Vec<super::UserRef>,
    /// Group and channel settings.
    #[serde(default)]
    pub settings: Option<UpdateSettings>,
}

/// A group's or channel's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupSettings {
    /// Hidden from searches by non-members.
    pub is_private: bool,
    /// Whether an invite link may exist.
    pub allow_invites: bool,
    /// Messages older than this many days are erased (disappearing messages).
    #[cfg_attr(feature = "openapi", schema(maximum = 3650))]
    pub message_retention_days: Option<u32>,
    /// The same retention at a finer grain; when both are set, this wins.
    #[cfg_attr(feature = "openapi", schema(maximum = 315360000))]
    pub message_retention_seconds: Option<u64>,
}

/// `PUT /v1/conversations/{id}/settings` and `settings` at creation: only the fields present change;
/// a retention of 0 turns retention off.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateSettings {
    /// Hidden from searches by non-members.
    #[serde(default)]
    pub is_private: Option<bool>,
    /// Whether an invite link may exist.
    #[serde(default)]
    pub allow_invites: Option<bool>,
    /// Retention in days (at most 3650).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 3650))]
    pub message_retention_days: Option<u32>,
    /// Retention in seconds.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 315360000))]
    pub message_retention_seconds: Option<u64>,
}

/// A conversation as its participants see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Group and channel settings.
    pub settings: GroupSettings,
    /// The invite link, shown to owners and admins while invites are allowed.
    pub invite_link: Option<String>,
    /// The caller's role.
    pub role: Role,
    /// Notifications muted until then (far future when muted indefinitely).
    pub muted_until: Option<Timestamp>,
    /// Pinned to the top of the caller's list.
    pub is_pinned: bool,
    /// Archived by the caller.
    pub is_archived: bool,
    /// A favourite of the caller.
    pub is_favorite: bool,
    /// The node that hosts it (orders its messages, keeps its membership) when that is another node
    /// than the caller's; absent when the caller's node hosts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `GET /v1/conversations`: pinned first, then by latest activity.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ConversationListQuery {
    /// 1-based page number.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub page: Option<u32>,
    /// Items per page (at most 100).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
    /// Only archived (`true`) or only unarchived (`false`) conversations.
    #[serde(default)]
    pub archived: Option<bool>,
    /// Only pinned or only unpinned.
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Only favourites or only the others.
    #[serde(default)]
    pub favorite: Option<bool>,
}

/// `POST /v1/conversations/{id}/mute`; without `until` the mute lasts until unmuted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MuteRequest {
    /// When the mute ends.
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// An invite link and its code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteLink {
    /// `parley://invite/<code>`.
    pub invite_link: String,
    /// The code alone.
    pub invite_code: String,
}

/// `GET /v1/conversations/invite?link=` and `POST /v1/conversations/join`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct InviteRef {
    /// The link or its code.
    #[cfg_attr(feature = "openapi", schema(max_length = 200, format = "invite-link"))]
    #[cfg_attr(feature = "openapi", param(max_length = 200, format = "invite-link"))]
    pub link: String,
}

/// What an invite shows before joining.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitePreview {
    /// The conversation.
    pub id: ConversationId,
    /// `GROUP` or `CHANNEL`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// Its name.
    pub subject: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// How many members it has.
    pub participant_count: usize,
}

/// `DELETE /v1/conversations/{id}?for_all=`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DeleteConversationQuery {
    /// `true` (default): delete for everyone (owners and admins). `false`: clear and hide it for the
    /// caller only; it reappears when a new message arrives.
    #[serde(default)]
    pub for_all: Option<bool>,
}

/// `POST /v1/conversations/{id}/read`: marks every message up to one as read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadUpToRequest {
    /// The newest message read; without it, everything so far.
    #[serde(default)]
    pub message_id: Option<crate::MessageId>,
}

/// The answer to a read-up-to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadUpTo {
    /// Every message up to this sequence number is now read.
    pub read_through: u64,
    /// How many messages became read.
    pub marked: usize,
}

/// A page of the caller's conversations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationList {
    /// The matches.
    pub conversations: Vec<Conversation>,
}

/// `PUT /v1/conversations/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateConversationRequest {
    /// A group's new name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub subject: Option<String>,
    /// A new description; empty clears it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    /// A new picture URL; empty clears it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, format = "http-url"))]
    pub avatar_url: Option<String>,
}

/// `GET /v1/conversations/search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ConversationSearchQuery {
    /// Text to find in subjects (case-insensitive).
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 100))]
    pub query: String,
    /// At most 100; default 20.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

/// `GET /v1/conversations/direct`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DirectQuery {
    /// One side; must be the caller or the other side.
    pub user_id_1: UserId,
    /// The other side.
    pub user_id_2: UserId,
}

/// One member of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParticipantList {
    /// The members.
    pub participants: Vec<Participant>,
}

/// `POST /v1/conversations/{id}/participants`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddParticipantRequest {
    /// Who to add, by id or by handle `username@node-name`.
    pub user_id: super::UserRef,
    /// Defaults to `member`.
    #[serde(default)]
    pub role: Option<Role>,
}

/// `PUT /v1/conversations/{id}/participants/{user_id}/role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRoleRequest {
    /// The new role.
    pub role: Role,
}

/// `GET /v1/conversations/{id}/sequence`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SequenceInfo {
    /// The newest assigned sequence number (0 when empty).
    pub sequence: u64,
}
