use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{DeviceId, UserId};

/// The caller's own account, including private fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// The account.
    pub id: UserId,
    /// Private to the owner.
    pub email: String,
    /// Unique on this node.
    pub username: String,
    /// Private to the owner.
    pub phone_number: Option<String>,
    /// Shown to others.
    pub display_name: String,
    /// A picture for others.
    pub avatar_url: Option<String>,
    /// A custom status line.
    pub status: Option<String>,
    /// A short biography.
    pub bio: Option<String>,
    /// Where they are, as they put it.
    pub location: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the profile last changed.
    pub updated_at: Timestamp,
}

/// Another user's public profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserProfile {
    /// The account.
    pub id: UserId,
    /// Unique on this node.
    pub username: String,
    /// Shown to others.
    pub display_name: String,
    /// A picture.
    pub avatar_url: Option<String>,
    /// A custom status line.
    pub status: Option<String>,
    /// A short biography.
    pub bio: Option<String>,
    /// Where they are, as they put it.
    pub location: Option<String>,
    /// When their last connection closed (absent while online or never connected).
    pub last_seen: Option<Timestamp>,
    /// Whether they have a live connection now.
    pub is_online: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// Present and true when the user lives on another node that did not answer in time: this is the
    /// copy this node keeps, which may be out of date.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// `PUT /v1/users/me`: only the fields present change; an empty string clears an optional field. Any
/// other field (a `username`, say) is refused rather than ignored, so a client never takes an answer of
/// 200 for a change that was not made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    /// At most 64 characters, not empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub display_name: Option<String>,
    /// An http(s) URL of at most 2048 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, format = "http-url"))]
    pub avatar_url: Option<String>,
    /// At most 500 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub bio: Option<String>,
    /// At most 140 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 140))]
    pub status: Option<String>,
    /// At most 100 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub location: Option<String>,
}

/// `GET/PUT /v1/users/me/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// Whether the user wants notifications.
    pub notifications_enabled: bool,
    /// `light`, `dark` or `system`.
    pub theme: String,
    /// A language tag such as `en` or `pt-BR`.
    pub language: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notifications_enabled: true,
            theme: "system".into(),
            language: "en".into(),
        }
    }
}

/// `PUT /v1/users/me/settings`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateSettingsRequest {
    /// Whether the user wants notifications.
    #[serde(default)]
    pub notifications_enabled: Option<bool>,
    /// `light`, `dark` or `system`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "theme"))]
    pub theme: Option<String>,
    /// A language tag such as `en` or `pt-BR`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 16, format = "language"))]
    pub language: Option<String>,
}

/// `GET /v1/users/search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct UserSearchQuery {
    /// A prefix of a username or display name (case-insensitive).
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 64))]
    pub query: String,
    /// At most 50; default 20.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 50))]
    pub limit: Option<u32>,
}

/// A list of public profiles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    /// The matching users.
    pub users: Vec<UserProfile>,
}

/// One of the caller's devices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    /// The device.
    pub id: DeviceId,
    /// Its label.
    pub device_name: String,
    /// Its kind.
    pub device_type: String,
    /// Last authenticated use.
    pub last_active: Option<Timestamp>,
    /// False once deactivated: its sessions and keys are gone.
    pub is_active: bool,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// `GET /v1/users/me/devices`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceList {
    /// The devices.
    pub devices: Vec<Device>,
}

/// A device as other users see it: enough to fetch its key bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicDevice {
    /// The device.
    pub id: DeviceId,
    /// Whether it has published an identity key and a signed prekey.
    pub has_active_keys: bool,
}

/// `GET /v1/users/{id}/devices`: the active devices a sender must encrypt for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicDeviceList {
    /// The user.
    pub user_id: UserId,
    /// Its active devices.
    pub devices: Vec<PublicDevice>,
    /// Present and true when the user's home node did not answer in time: the device list is the copy
    /// this node keeps, and a device added since is missing from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// A user named by id, or by handle `username@node-name` (a user of another node, or of this one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    /// The user's id.
    Id(UserId),
    /// `username@node-name`, or a bare username on the serving node.
    Handle(String),
}

impl UserRef {
    /// The id, when the user was named by id.
    pub fn id(&self) -> Option<UserId> {
        match self {
            Self::Id(id) => Some(*id),
            Self::Handle(_) => None,
        }
    }
}

impl From<UserId> for UserRef {
    fn from(id: UserId) -> Self {
        Self::Id(id)
    }
}

impl From<&UserId> for UserRef {
    fn from(id: &UserId) -> Self {
        Self::Id(*id)
    }
}

impl From<&str> for UserRef {
    fn from(handle: &str) -> Self {
        match handle.parse::<uuid::Uuid>() {
            Ok(id) => Self::Id(UserId::from(id)),
            Err(_) => Self::Handle(handle.to_owned()),
        }
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Handle(handle) => f.write_str(handle),
        }
    }
}

impl Serialize for UserRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for UserRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        // The gateway's document turns the format into the pattern of what the node accepts.
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("user-ref".into())))
            .description(Some(
                "A user's id, or their handle `username@node-name` (a bare username for this node's users).",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for UserRef {}

impl<'de> Deserialize<'de> for UserRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::from(text.as_str()))
    }
}
