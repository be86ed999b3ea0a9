use axum::extract::State;
use protocol::IdentityKeyId;
use protocol::api::{
    ActiveKeys, DeviceKeyQuery, IdentityKey, KeyBundle, OneTimePreKey, PreKeyCount, RotateSignedPreKeyRequest,
    SignedPreKey, SignedPreKeyUpload, UploadIdentityKeyRequest, UploadOneTimePreKeysRequest, UploadedCount,
};

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/encryption/identity`
pub(crate) async fn upload_identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UploadIdentityKeyRequest>,
) -> ApiResult<IdentityKey> {
    created(state.services.keys.upload_identity(&actor, body).await?)
}

/// # `GET /v1/encryption/identity?user_id=&device_id=`
pub(crate) async fn identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<IdentityKey> {
    ok(state.services.keys.identity(&actor, &query)?)
}

/// # `PUT /v1/encryption/identity/{id}/deactivate`
pub(crate) async fn deactivate_identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<IdentityKeyId>,
) -> ApiResult<IdentityKey> {
    ok(state.services.keys.deactivate_identity(&actor, id).await?)
}

/// # `DELETE /v1/encryption/identity/{id}`
pub(crate) async fn delete_identity(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<IdentityKeyId>,
) -> ApiResult<()> {
    ok(state.services.keys.delete_identity(&actor, id).await?)
}

/// # `POST /v1/encryption/signed-prekeys`
pub(crate) async fn upload_signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<SignedPreKeyUpload>,
) -> ApiResult<SignedPreKey> {
    created(state.services.keys.upload_signed_prekey(&actor, body).await?)
}

/// # `GET /v1/encryption/signed-prekeys?user_id=&device_id=&key_id=`
pub(crate) async fn signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<SignedPreKey> {
    ok(state.services.keys.signed_prekey(&actor, &query)?)
}

/// # `GET /v1/encryption/signed-prekeys/active?user_id=&device_id=`
pub(crate) async fn active_signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<SignedPreKey> {
    ok(state.services.keys.active_signed_prekey(&actor, &query)?)
}

/// # `POST /v1/encryption/signed-prekeys/rotate`
pub(crate) async fn rotate_signed_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<RotateSignedPreKeyRequest>,
) -> ApiResult<SignedPreKey> {
    created(state.services.keys.rotate_signed_prekey(&actor, body).await?)
}

/// # `POST /v1/encryption/onetime-prekeys`
pub(crate) async fn upload_one_time_prekeys(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UploadOneTimePreKeysRequest>,
) -> ApiResult<UploadedCount> {
    created(state.services.keys.upload_one_time_prekeys(&actor, body).await?)
}

/// # `GET /v1/encryption/onetime-prekeys/count?user_id=&device_id=`
pub(crate) async fn one_time_prekey_count(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<PreKeyCount> {
    ok(state.services.keys.one_time_prekey_count(&actor, &query)?)
}

/// # `POST /v1/encryption/onetime-prekeys/consume?user_id=&device_id=`
/// The consumer is the caller; `consumed_by` fields of the reference are ignored.
pub(crate) async fn consume_one_time_prekey(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<OneTimePreKey> {
    ok(state.services.keys.consume_one_time_prekey(&actor, &query).await?)
}

/// # `GET /v1/encryption/bundles?user_id=&device_id=`
/// Consumes one one-time prekey of the device.
pub(crate) async fn bundle(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<KeyBundle> {
    ok(state.services.keys.bundle(&actor, &query).await?)
}

/// # `GET /v1/encryption/keys/active?user_id=&device_id=`
pub(crate) async fn active_keys(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DeviceKeyQuery>,
) -> ApiResult<ActiveKeys> {
    ok(state.services.keys.active_keys(&actor, &query)?)
}
