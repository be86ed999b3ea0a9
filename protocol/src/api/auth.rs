use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{DeviceId, SessionId, UserId};

/// `POST /v1/auth/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// Unique on the node.
    #[cfg_attr(feature = "openapi", schema(max_length = 254, format = "email"))]
    pub email: String,
    /// Unique on the node; lower-case letters, digits, `_`, `.` and `-`.
    #[cfg_attr(feature = "openapi", schema(max_length = 32, format = "username"))]
    pub username: String,
    /// At least 8 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128, format = Password))]
    pub password: String,
    /// The client-generated UUID of the device registering.
    pub device_id: DeviceId,
    /// Optional, unique, in E.164 form.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "phone"))]
    pub phone_number: Option<String>,
    /// Shown to others; defaults to the username.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub display_name: Option<String>,
    /// A label for the device.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub device_name: Option<String>,
    /// `mobile`, `desktop`, `web`, `tablet` or `other`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "device-type"))]
    pub device_type: Option<String>,
    /// The account's key backup, kept by the node for its owner only.
    #[serde(default)]
    pub key_backup: Option<KeyBackup>,
    /// Needed when the node registers accounts by invitation only: a token its operator handed out.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub registration_token: Option<String>,
}

/// A backup of the account's keys, encrypted by the client before it leaves the device (a master key
/// and a recovery key only the user holds), so the node keeps it without being able to read it; the
/// owner fetches it on a new device, as a Matrix key backup. Each field is an opaque string of at most
/// 16 KiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyBackup {
    /// The private key, encrypted with the user's master key.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384, format = "opaque"))]
    pub private_key_by_master_key: String,
    /// The private key, encrypted with the user's recovery key.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384, format = "opaque"))]
    pub private_key_by_recovery_key: String,
    /// The matching public key.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384, format = "opaque"))]
    pub public_key: String,
    /// The salt the master key is derived with.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384, format = "opaque"))]
    pub salt: String,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// Email, username or phone number.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 254))]
    pub identity: String,
    /// The account password.
    pub password: String,
    /// The device logging in; a new one is registered to the account.
    pub device_id: DeviceId,
    /// A label for the device.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub device_name: Option<String>,
    /// `mobile`, `desktop`, `web`, `tablet` or `other`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "device-type"))]
    pub device_type: Option<String>,
}

/// The answer to register and login: a new session for the device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthResponse {
    /// The account.
    pub user_id: UserId,
    /// The device the session belongs to.
    pub device_id: DeviceId,
    /// The new session.
    pub session_id: SessionId,
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Exchanged at `/v1/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: Timestamp,
    /// When the refresh token expires.
    pub refresh_expires_at: Timestamp,
}

/// `POST /v1/auth/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    /// The session the refresh token belongs to.
    pub session_id: SessionId,
    /// The latest refresh token of that session.
    pub refresh_token: String,
}

/// A rotated token pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    /// A new JWT.
    pub access_token: String,
    /// The replacement refresh token; the old one is now spent.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: Timestamp,
    /// When the refresh token expires.
    pub refresh_expires_at: Timestamp,
}

/// `POST /v1/auth/logout`; without a session id the current session ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogoutRequest {
    /// One of the caller's own sessions.
    #[serde(default)]
    pub session_id: Option<SessionId>,
}

/// One login session, as listed to its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// Its device.
    pub device_id: DeviceId,
    /// The device's label.
    pub device_name: String,
    /// The device's kind.
    pub device_type: String,
    /// The address the session was opened from.
    pub ip_address: Option<String>,
    /// Last authenticated use (to the minute).
    pub last_active: Timestamp,
    /// When it was opened.
    pub created_at: Timestamp,
    /// Whether this is the session making the request.
    pub is_current: bool,
}

/// `GET /v1/auth/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    /// The caller's live sessions.
    pub sessions: Vec<SessionInfo>,
}

/// `POST /v1/auth/password/forgot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgotPasswordRequest {
    /// Email, username or phone number.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 254))]
    pub identity: String,
}

/// The answer to a forgotten password. The same for known and unknown identities, so it reveals no
/// account; the token itself is only included when the node runs in development mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgotPasswordResponse {
    /// What happens next.
    pub message: String,
    /// The single-use reset token (development mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_token: Option<String>,
}

/// `POST /v1/auth/password/reset`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetPasswordRequest {
    /// The token issued by the forgot-password step.
    pub reset_token: String,
    /// The new password (at least 8 characters).
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128, format = Password))]
    pub new_password: String,
}
