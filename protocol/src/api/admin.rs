//! The operator API under `/v1/admin`: what `parley admin` prints, whether it talks to a running node
//! or opens a stopped node's data directory itself.

use serde::{Deserialize, Serialize};

use super::{Device, Timestamp};
use crate::UserId;

/// What an account may do on its node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    /// An ordinary account.
    #[default]
    User,
    /// May use the operator API.
    Operator,
}

/// `POST /v1/admin/users`: an account the operator makes, with no device yet (the user's first login
/// registers one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUserRequest {
    /// Unique on the node; lower-case letters, digits, `_`, `.` and `-`.
    #[cfg_attr(feature = "openapi", schema(max_length = 32, format = "username"))]
    pub username: String,
    /// Unique on the node.
    #[cfg_attr(feature = "openapi", schema(max_length = 254, format = "email"))]
    pub email: String,
    /// At least 8 characters. Without one, the answer carries a password-reset token the user sets
    /// their password with.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128, format = Password))]
    pub password: Option<String>,
    /// Shown to others; defaults to the username.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub display_name: Option<String>,
    /// `user` unless given.
    #[serde(default)]
    pub role: AccountRole,
}

/// An account as its operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    /// The account.
    pub id: UserId,
    /// Its username.
    pub username: String,
    /// Its email address.
    pub email: String,
    /// Its display name.
    pub display_name: String,
    /// Its role.
    pub role: AccountRole,
    /// When an operator suspended it; absent while it is in good standing.
    pub suspended_at: Option<Timestamp>,
    /// The latest use of any of its sessions, or when its last connection closed.
    pub last_active: Option<Timestamp>,
    /// Its devices.
    pub devices: Vec<Device>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// `POST /v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedUser {
    /// The new account.
    pub user: AdminUser,
    /// When the request had no password: the token that sets one (`POST /v1/auth/password/reset`).
    pub reset_token: Option<String>,
}

/// `GET /v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AdminUserQuery {
    /// A prefix of the username (case-insensitive); all accounts when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 64))]
    pub query: Option<String>,
    /// At most 100; default 50.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 64))]
    pub cursor: Option<String>,
}

/// A page of accounts, in username order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserList {
    /// The accounts on this page.
    pub users: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// `POST /v1/admin/users/{user}/role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRoleRequest {
    /// The account's new role.
    pub role: AccountRole,
}

/// `POST /v1/admin/users/{user}/password-reset`: hand the token to the user, who sets a new password
/// with `POST /v1/auth/password/reset`. Every session of the account has ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetToken {
    /// Single use.
    pub reset_token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// `POST /v1/admin/registration-tokens`, after Synapse's registration tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRegistrationTokenRequest {
    /// The token itself (letters, digits, `.`, `_`, `~` and `-`); a random one when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub token: Option<String>,
    /// How many accounts it may register; unlimited when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub uses_allowed: Option<u32>,
    /// When it stops working; never when absent.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// A registration token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistrationToken {
    /// What a registering client sends as `registration_token`.
    pub token: String,
    /// Accounts it may register; unlimited when absent.
    pub uses_allowed: Option<u32>,
    /// Accounts it has registered.
    pub completed: u32,
    /// When it stops working; never when absent.
    pub expires_at: Option<Timestamp>,
    /// When it was made.
    pub created_at: Timestamp,
    /// Whether a registration may use it now.
    pub valid: bool,
}

/// `GET /v1/admin/registration-tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistrationTokenList {
    /// Every token, newest first.
    pub tokens: Vec<RegistrationToken>,
}

/// Events waiting for one other node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxDepth {
    /// The node's name.
    pub node: String,
    /// Events queued for it.
    pub depth: u64,
}

/// `GET /v1/admin/stats`: what the node holds and is doing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeStats {
    /// Accounts.
    pub users: u64,
    /// Accounts suspended by an operator.
    pub suspended_users: u64,
    /// Registered devices.
    pub devices: u64,
    /// Conversations this node takes part in.
    pub conversations: u64,
    /// Messages stored.
    pub messages: u64,
    /// Files stored, and their bytes.
    pub files: u64,
    /// Bytes of stored files.
    pub file_bytes: u64,
    /// Outboxes that are not empty, deepest first.
    pub outbox: Vec<OutboxDepth>,
    /// Open WebSocket connections.
    pub connected_sockets: u64,
}

/// `GET /v1/admin/federation/denied`, and the answer to denying or allowing a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeniedNodeList {
    /// PeerIds (base58) whose traffic is refused, sorted.
    pub peer_ids: Vec<String>,
}

/// One operator action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// When it was done.
    pub at: Timestamp,
    /// Who did it: `local` (the CLI on the node's machine) or `user:<username>`.
    pub operator: String,
    /// What was done, e.g. `suspend`.
    pub action: String,
    /// What it was done to, e.g. `user:alice`.
    pub target: String,
}

/// `GET /v1/admin/audit`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// At most 200; default 50.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 32))]
    pub cursor: Option<String>,
}

/// Operator actions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditLog {
    /// The entries on this page.
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for older entries; absent on the last page.
    pub next_cursor: Option<String>,
}
