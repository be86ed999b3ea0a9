//! `/api/v1/keys/*`: Signal-style key distribution. Keys are written only for the caller's own device
//! (each login is one); a user's keys are read for each of the user's devices that has published them,
//! on this node or the user's home node.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use node::Actor;
use protocol::api::{
    DeviceKeyQuery, IdentityKey, KeyBundle, OneTimePreKeyUpload, SignedPreKey, SignedPreKeyUpload,
    UploadIdentityKeyRequest, UploadOneTimePreKeysRequest, UploadedCount,
};
use protocol::{DeviceId, IdentityPublicKey, PreKeyPublic, PreKeySignature, UserId, verify_self_signature};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::extract::{Auth, Json, Path};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_identity))
        .routes(routes!(identity))
        .routes(routes!(upload_signed_prekey))
        .routes(routes!(bundle))
        .routes(routes!(upload_one_time_prekeys))
}

/// The identity key, and optionally its signature over its own 32 bytes (proof of possession).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerIdentityUpload)]
pub(super) struct IdentityUpload {
    /// Ed25519, standard base64 of 32 bytes.
    public_key: IdentityPublicKey,
    /// Ed25519 by the key over its own bytes, base64 of 64 bytes; checked when given.
    #[serde(default)]
    signature: Option<PreKeySignature>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerSignedPreKeyUpload)]
pub(super) struct PreKeyUpload {
    key_id: u32,
    /// X25519, base64 of 32 bytes.
    public_key: PreKeyPublic,
    /// Ed25519 by the device's identity key over the prekey's 32 bytes.
    signature: PreKeySignature,
}

/// A batch of one-time prekeys (`keys` or `prekeys`), at most 200.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerOneTimePreKeys)]
pub(super) struct OneTimeUpload {
    #[serde(alias = "prekeys")]
    #[schema(min_items = 1, max_items = 200)]
    keys: Vec<OneTimeKey>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerOneTimePreKey)]
pub(super) struct OneTimeKey {
    key_id: u32,
    public_key: PreKeyPublic,
}

/// One device's identity key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerDeviceIdentity)]
pub(super) struct DeviceIdentity {
    device_id: DeviceId,
    public_key: IdentityPublicKey,
}

/// A user's identity keys, one per device with published keys.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerIdentities)]
pub(super) struct Identities {
    user_id: UserId,
    devices: Vec<DeviceIdentity>,
}

/// A user's `PreKeyBundle`s, one per device with published keys; each claims one of that device's
/// one-time prekeys while any are left.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerBundles)]
pub(super) struct Bundles {
    user_id: UserId,
    bundles: Vec<KeyBundle>,
}

/// The user's devices with published keys.
async fn keyed_devices(state: &AppState, user: UserId) -> Result<Vec<DeviceId>> {
    let devices = state.services.users.public_devices(user).await?;
    Ok(devices
        .devices
        .into_iter()
        .filter(|device| device.has_active_keys)
        .map(|device| device.id)
        .collect())
}

fn query(user: UserId, device: DeviceId) -> DeviceKeyQuery {
    DeviceKeyQuery {
        user_id: Some(user),
        device_id: Some(device),
        key_id: None,
    }
}

/// # `POST /api/v1/keys/identity`
#[utoipa::path(
    post,
    path = "/api/v1/keys/identity",
    tag = TAG,
    summary = "Upload this device's Ed25519 identity key (secure-messenger)",
    request_body = IdentityUpload,
    responses(
        (status = 201, description = "The published key", body = IdentityKey),
        (status = 400, description = "Not an Ed25519 key, or a signature that does not verify", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn upload_identity(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<IdentityUpload>>,
) -> Result<(StatusCode, JsonAnswer<IdentityKey>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    if let Some(signature) = &body.signature {
        verify_self_signature(&body.public_key, signature)
            .map_err(|err| ApiError::validation(format!("signature: {err}")))?;
    }
    let request = UploadIdentityKeyRequest {
        user_id: None,
        device_id: None,
        public_key: body.public_key,
    };
    let key = state.services.keys.upload_identity(&actor, request).await?;
    Ok((StatusCode::CREATED, JsonAnswer(key)))
}

/// # `GET /api/v1/keys/identity/{user_id}`
#[utoipa::path(
    get,
    path = "/api/v1/keys/identity/{user_id}",
    tag = TAG,
    summary = "A user's identity keys, one per device (secure-messenger)",
    params(("user_id" = UserId, Path, description = "The user, of this node or another")),
    responses(
        (status = 200, description = "The keys", body = Identities),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "The user's home node cannot be reached", body = ErrorBody),
    ),
)]
pub(crate) async fn identity(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    user: Extracted<Path<UserId>>,
) -> Result<JsonAnswer<Identities>> {
    let (Auth(actor), Path(user)) = (auth?, user?);
    let mut devices = Vec::new();
    for device in keyed_devices(&state, user).await? {
        let key = state.services.keys.identity(&actor, &query(user, device)).await?;
        devices.push(DeviceIdentity {
            device_id: device,
            public_key: key.public_key,
        });
    }
    Ok(JsonAnswer(Identities { user_id: user, devices }))
}

/// # `POST /api/v1/keys/signed-prekey`
#[utoipa::path(
    post,
    path = "/api/v1/keys/signed-prekey",
    tag = TAG,
    summary = "Upload this device's signed prekey (secure-messenger)",
    request_body = PreKeyUpload,
    responses(
        (status = 201, description = "The published prekey", body = SignedPreKey),
        (status = 400, description = "Invalid input, or a signature that does not verify under the identity key", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 409, description = "No identity key yet", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn upload_signed_prekey(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<PreKeyUpload>>,
) -> Result<(StatusCode, JsonAnswer<SignedPreKey>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let upload = SignedPreKeyUpload {
        user_id: None,
        device_id: None,
        key_id: body.key_id,
        public_key: body.public_key,
        signature: body.signature,
    };
    let key = state.services.keys.upload_signed_prekey(&actor, upload).await?;
    Ok((StatusCode::CREATED, JsonAnswer(key)))
}

/// # `GET /api/v1/keys/bundle/{user_id}`
#[utoipa::path(
    get,
    path = "/api/v1/keys/bundle/{user_id}",
    tag = TAG,
    summary = "A user's PreKeyBundles, one per device (secure-messenger)",
    params(("user_id" = UserId, Path, description = "The user, of this node or another")),
    responses(
        (status = 200, description = "The bundles (each claims a one-time prekey of its device while any are left)", body = Bundles),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "The user's home node cannot be reached", body = ErrorBody),
    ),
)]
pub(crate) async fn bundle(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    user: Extracted<Path<UserId>>,
) -> Result<JsonAnswer<Bundles>> {
    let (Auth(actor), Path(user)) = (auth?, user?);
    let bundles = bundles_of(&state, &actor, user).await?;
    Ok(JsonAnswer(Bundles { user_id: user, bundles }))
}

async fn bundles_of(state: &AppState, actor: &Actor, user: UserId) -> Result<Vec<KeyBundle>> {
    let mut bundles = Vec::new();
    for device in keyed_devices(state, user).await? {
        if device == actor.device_id {
            continue;
        }
        bundles.push(state.services.keys.bundle(actor, &query(user, device)).await?);
    }
    Ok(bundles)
}

/// # `POST /api/v1/keys/one-time-prekeys`
#[utoipa::path(
    post,
    path = "/api/v1/keys/one-time-prekeys",
    tag = TAG,
    summary = "Add one-time prekeys to this device's pool (secure-messenger)",
    request_body = OneTimeUpload,
    responses(
        (status = 201, description = "How many were new", body = UploadedCount),
        (status = 400, description = "Invalid input, or more than 200 keys", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn upload_one_time_prekeys(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<OneTimeUpload>>,
) -> Result<(StatusCode, JsonAnswer<UploadedCount>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let request = UploadOneTimePreKeysRequest {
        keys: body
            .keys
            .into_iter()
            .map(|key| OneTimePreKeyUpload {
                user_id: None,
                device_id: None,
                key_id: key.key_id,
                public_key: key.public_key,
            })
            .collect(),
    };
    let count = state.services.keys.upload_one_time_prekeys(&actor, request).await?;
    Ok((StatusCode::CREATED, JsonAnswer(count)))
}
