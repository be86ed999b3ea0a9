use axum::extract::State;
use protocol::IdentityKeyId;
use protocol::api::{
    ActiveKeys, DeviceKeyQuery, IdentityKey, KeyBundle, OneTimePreKey, PreKeyCount, RotateSignedPreKeyRequest,
    SignedPreKey, SignedPreKeyUpload, UploadIdentityKeyRequest, UploadOneTimePreKeysRequest, UploadedCount,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_identity, identity))
        .routes(routes!(deactivate_identity))
        .routes(routes!(delete_identity))
        .routes(routes!(upload_signed_prekey, signed_prekey))
        .routes(routes!(active_signed_prekey))
        .routes(routes!(rotate_signed_prekey))
        .routes(routes!(upload_one_time_prekeys))
        .routes(routes!(one_time_prekey_count))
        .routes(routes!(consume_one_time_prekey))
        .routes(routes!(bundle))
        .routes(routes!(active_keys))
}

/// # `POST /v1/encryption/identity`
#[utoipa::path(
    post,
    path = "/v1/encryption/identity",
    tag = "encryption",
    summary = "Publish the caller's device identity key",
    request_body = UploadIdentityKeyRequest,
    responses(
        (status = 201, description = "Stored", body = IdentityKey),
        (status = 403, description = "`user_id` or `device_id` names another account or device"),
    ),
)]
pub(crate) async fn upload_identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UploadIdentityKeyRequest>,
) -> ApiResult<IdentityKey> {
    created(state.services.keys.upload_identity(&actor, body).await?)
}

/// # `GET /v1/encryption/identity?user_id=&device_id=`
#[utoipa::path(
    get,
    path = "/v1/encryption/identity",
    tag = "encryption",
    summary = "A device's identity key (default: the caller's)",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The active identity key", body = IdentityKey),
        (status = 404, description = "No such device, or it has no identity key"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<IdentityKey> {
    ok(state.services.keys.identity(&actor, &query).await?)
}

/// # `PUT /v1/encryption/identity/{id}/deactivate`
#[utoipa::path(
    put,
    path = "/v1/encryption/identity/{id}/deactivate",
    tag = "encryption",
    summary = "Deactivate one of the caller's identity keys",
    params(("id" = IdentityKeyId, Path, description = "The identity key record")),
    responses(
        (status = 200, description = "Deactivated", body = IdentityKey),
        (status = 403, description = "Not the caller's device's key"),
        (status = 404, description = "No such identity key"),
    ),
)]
pub(crate) async fn deactivate_identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<IdentityKeyId>,
) -> ApiResult<IdentityKey> {
    ok(state.services.keys.deactivate_identity(&actor, id).await?)
}

/// # `DELETE /v1/encryption/identity/{id}`
#[utoipa::path(
    delete,
    path = "/v1/encryption/identity/{id}",
    tag = "encryption",
    summary = "Delete one of the caller's identity keys",
    params(("id" = IdentityKeyId, Path, description = "The identity key record")),
    responses(
        (status = 200, description = "Deleted", body = Null),
        (status = 403, description = "Not the caller's device's key"),
        (status = 404, description = "No such identity key"),
    ),
)]
pub(crate) async fn delete_identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<IdentityKeyId>,
) -> ApiResult<()> {
    ok(state.services.keys.delete_identity(&actor, id).await?)
}

/// # `POST /v1/encryption/signed-prekeys`
#[utoipa::path(
    post,
    path = "/v1/encryption/signed-prekeys",
    tag = "encryption",
    summary = "Publish a signed prekey (it becomes the active one)",
    request_body = SignedPreKeyUpload,
    responses(
        (status = 201, description = "Stored and verified", body = SignedPreKey),
        (status = 403, description = "`user_id` or `device_id` names another account or device"),
        (status = 409, description = "The key id is taken by a different key"),
        (status = 422, description = "The signature does not verify against the identity key, or none is published"),
    ),
)]
pub(crate) async fn upload_signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<SignedPreKeyUpload>,
) -> ApiResult<SignedPreKey> {
    created(state.services.keys.upload_signed_prekey(&actor, body).await?)
}

/// # `GET /v1/encryption/signed-prekeys?user_id=&device_id=&key_id=`
#[utoipa::path(
    get,
    path = "/v1/encryption/signed-prekeys",
    tag = "encryption",
    summary = "A device's signed prekey (by `key_id`, else the active one)",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The key", body = SignedPreKey),
        (status = 404, description = "No such device or key"),
    ),
)]
pub(crate) async fn signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<SignedPreKey> {
    ok(state.services.keys.signed_prekey(&actor, &query)?)
}

/// # `GET /v1/encryption/signed-prekeys/active?user_id=&device_id=`
#[utoipa::path(
    get,
    path = "/v1/encryption/signed-prekeys/active",
    tag = "encryption",
    summary = "A device's active signed prekey",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The key", body = SignedPreKey),
        (status = 404, description = "No such device, or it has no signed prekey"),
    ),
)]
pub(crate) async fn active_signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<SignedPreKey> {
    ok(state.services.keys.active_signed_prekey(&actor, &query)?)
}

/// # `POST /v1/encryption/signed-prekeys/rotate`
#[utoipa::path(
    post,
    path = "/v1/encryption/signed-prekeys/rotate",
    tag = "encryption",
    summary = "Replace the active signed prekey",
    request_body = RotateSignedPreKeyRequest,
    responses(
        (status = 201, description = "The new active key", body = SignedPreKey),
        (status = 403, description = "`user_id` or `device_id` names another account or device"),
        (status = 409, description = "The key id is taken by a different key"),
        (status = 422, description = "The signature does not verify against the identity key, or none is published"),
    ),
)]
pub(crate) async fn rotate_signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<RotateSignedPreKeyRequest>,
) -> ApiResult<SignedPreKey> {
    created(state.services.keys.rotate_signed_prekey(&actor, body).await?)
}

/// # `POST /v1/encryption/onetime-prekeys`
#[utoipa::path(
    post,
    path = "/v1/encryption/onetime-prekeys",
    tag = "encryption",
    summary = "Publish one-time prekeys",
    request_body = UploadOneTimePreKeysRequest,
    responses(
        (status = 201, description = "How many were new", body = UploadedCount),
        (status = 403, description = "`user_id` or `device_id` names another account or device"),
    ),
)]
pub(crate) async fn upload_one_time_prekeys(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UploadOneTimePreKeysRequest>,
) -> ApiResult<UploadedCount> {
    created(state.services.keys.upload_one_time_prekeys(&actor, body).await?)
}

/// # `GET /v1/encryption/onetime-prekeys/count?user_id=&device_id=`
#[utoipa::path(
    get,
    path = "/v1/encryption/onetime-prekeys/count",
    tag = "encryption",
    summary = "How many one-time prekeys a device has left",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The count", body = PreKeyCount),
        (status = 404, description = "No such device"),
    ),
)]
pub(crate) async fn one_time_prekey_count(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<PreKeyCount> {
    ok(state.services.keys.one_time_prekey_count(&actor, &query)?)
}

/// # `POST /v1/encryption/onetime-prekeys/consume?user_id=&device_id=`
///
/// The consumer is the caller; `consumed_by` fields of the reference are ignored.
#[utoipa::path(
    post,
    path = "/v1/encryption/onetime-prekeys/consume",
    tag = "encryption",
    summary = "Claim one of a device's one-time prekeys",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The claimed key, never handed out again", body = OneTimePreKey),
        (status = 404, description = "No such device, or none left"),
    ),
)]
pub(crate) async fn consume_one_time_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<OneTimePreKey> {
    ok(state.services.keys.consume_one_time_prekey(&actor, &query).await?)
}

/// # `GET /v1/encryption/bundles?user_id=&device_id=`
///
/// Consumes one one-time prekey of the device. For a user of another node (resolved before through
/// `GET /v1/federation/users/{handle}`) the claim is made at that user's home node.
#[utoipa::path(
    get,
    path = "/v1/encryption/bundles",
    tag = "encryption",
    summary = "A device's X3DH key bundle (claims a one-time prekey)",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The bundle", body = KeyBundle),
        (status = 404, description = "No such device, or it has no active identity key or signed prekey"),
        (status = 503, description = "The remote user's home node could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn bundle(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<KeyBundle> {
    ok(state.services.keys.bundle(&actor, &query).await?)
}

/// # `GET /v1/encryption/keys/active?user_id=&device_id=`
#[utoipa::path(
    get,
    path = "/v1/encryption/keys/active",
    tag = "encryption",
    summary = "Whether a device has published its keys",
    params(DeviceKeyQuery),
    responses(
        (status = 200, description = "The answer", body = ActiveKeys),
        (status = 404, description = "No such device"),
    ),
)]
pub(crate) async fn active_keys(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<ActiveKeys> {
    ok(state.services.keys.active_keys(&actor, &query)?)
}
