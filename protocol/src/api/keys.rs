use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{DeviceId, IdentityKeyId, IdentityPublicKey, PreKeyPublic, PreKeySignature, UserId};

/// `POST /v1/encryption/identity`. `user_id` and `device_id`, when given, must name the caller's own
/// user and device; the key is always stored for the token's device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadIdentityKeyRequest {
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// The Ed25519 identity public key.
    pub public_key: IdentityPublicKey,
}

/// A stored identity key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityKey {
    /// The record.
    pub id: IdentityKeyId,
    /// Its owner.
    pub user_id: UserId,
    /// Its device.
    pub device_id: DeviceId,
    /// The key.
    pub public_key: IdentityPublicKey,
    /// False once deactivated.
    pub is_active: bool,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// A signed prekey as uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedPreKeyUpload {
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// Chosen by the device, unique per device.
    pub key_id: u32,
    /// The X25519 public key.
    pub public_key: PreKeyPublic,
    /// Ed25519 signature of `public_key` by the device's identity key.
    pub signature: PreKeySignature,
}

/// `POST /v1/encryption/signed-prekeys/rotate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotateSignedPreKeyRequest {
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// The new key, which becomes the active one.
    pub key: SignedPreKeyUpload,
}

/// A stored signed prekey.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedPreKey {
    /// Its owner.
    pub user_id: UserId,
    /// Its device.
    pub device_id: DeviceId,
    /// Chosen by the device.
    pub key_id: u32,
    /// The X25519 public key.
    pub public_key: PreKeyPublic,
    /// The identity key's signature over it.
    pub signature: PreKeySignature,
    /// Only the newest verified key of a device is active.
    pub is_active: bool,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// One one-time prekey as uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimePreKeyUpload {
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// Chosen by the device, unique per device.
    pub key_id: u32,
    /// The X25519 public key.
    pub public_key: PreKeyPublic,
}

/// Most one-time prekeys one upload may carry: a client with more to publish uploads them in batches.
pub const MAX_ONE_TIME_PREKEYS_PER_UPLOAD: usize = 200;
/// Most one-time prekeys a device may hold on its node: past that, a claimer of an exhausted device
/// starts X3DH without one, as the protocol allows.
pub const MAX_ONE_TIME_PREKEYS: usize = 1000;

/// `POST /v1/encryption/onetime-prekeys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadOneTimePreKeysRequest {
    /// At most 200 keys per request.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 200))]
    pub keys: Vec<OneTimePreKeyUpload>,
}

/// How many keys a batch added (ids already stored are skipped).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadedCount {
    /// Newly stored keys.
    pub uploaded: usize,
}

/// A one-time prekey handed out to a claimer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimePreKey {
    /// Chosen by the device.
    pub key_id: u32,
    /// The X25519 public key.
    pub public_key: PreKeyPublic,
}

/// The remaining one-time prekeys of a device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreKeyCount {
    /// Unclaimed keys.
    pub count: usize,
}

/// Names a device whose keys are asked for; both default to the caller's own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DeviceKeyQuery {
    /// The owner.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// The device.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// A specific signed prekey.
    #[serde(default)]
    pub key_id: Option<u32>,
}

/// Everything needed to start an X3DH session with one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyBundle {
    /// The owner.
    pub user_id: UserId,
    /// The device.
    pub device_id: DeviceId,
    /// Its identity key.
    pub identity_key: IdentityPublicKey,
    /// Its active signed prekey (signature verified by the node on upload).
    pub signed_prekey: BundleSignedPreKey,
    /// A freshly claimed one-time prekey, absent when the device has none left.
    pub one_time_prekey: Option<OneTimePreKey>,
    /// Present and true when the device's home node did not answer in time: this is the bundle last
    /// claimed from it, without a one-time prekey (X3DH without one is weaker only for the first
    /// message's forward secrecy), and its signed prekey may have been rotated since.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// The signed prekey inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BundleSignedPreKey {
    /// Chosen by the device.
    pub key_id: u32,
    /// The X25519 public key.
    pub public_key: PreKeyPublic,
    /// The identity key's signature over it.
    pub signature: PreKeySignature,
}

/// `GET /v1/encryption/keys/active`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveKeys {
    /// Whether the device has an active identity key and signed prekey.
    pub has_active_keys: bool,
}
