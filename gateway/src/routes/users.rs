use axum::extract::State;
use protocol::api::{
    DeviceList, KeyBackup, Me, PublicDeviceList, Settings, UpdateProfileRequest, UpdateSettingsRequest, UserList,
    UserProfile, UserSearchQuery,
};
use protocol::{DeviceId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(settings, update_settings))
        .routes(routes!(key_backup, set_key_backup))
        .routes(routes!(devices))
        .routes(routes!(deactivate_device))
        .routes(routes!(search))
        .routes(routes!(profile))
        .routes(routes!(public_devices))
}

/// # `GET /v1/users/me`
#[utoipa::path(
    get,
    path = "/v1/users/me",
    tag = "users",
    summary = "The caller's account",
    responses(
        (status = 200, description = "The account", body = Me),
    ),
)]
pub(crate) async fn me(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Me> {
    ok(state.services.users.me(&actor)?)
}

/// # `PUT /v1/users/me`
#[utoipa::path(
    put,
    path = "/v1/users/me",
    tag = "users",
    summary = "Change the caller's profile",
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The changed account", body = Me),
    ),
)]
pub(crate) async fn update_me(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UpdateProfileRequest>,
) -> ApiResult<Me> {
    ok(state.services.users.update_me(&actor, body).await?)
}

/// # `DELETE /v1/users/me`
#[utoipa::path(
    delete,
    path = "/v1/users/me",
    tag = "users",
    summary = "Delete the caller's account",
    responses(
        (status = 200, description = "Deleted, with every session", body = Null),
    ),
)]
pub(crate) async fn delete_me(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<()> {
    ok(state.services.delete_account(&actor).await?)
}

/// # `GET /v1/users/me/settings`
#[utoipa::path(
    get,
    path = "/v1/users/me/settings",
    tag = "users",
    summary = "The caller's settings",
    responses(
        (status = 200, description = "The settings", body = Settings),
    ),
)]
pub(crate) async fn settings(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Settings> {
    ok(state.services.users.settings(&actor)?)
}

/// # `PUT /v1/users/me/settings`
#[utoipa::path(
    put,
    path = "/v1/users/me/settings",
    tag = "users",
    summary = "Change the caller's settings",
    request_body = UpdateSettingsRequest,
    responses(
        (status = 200, description = "The changed settings", body = Settings),
    ),
)]
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UpdateSettingsRequest>,
) -> ApiResult<Settings> {
    ok(state.services.users.update_settings(&actor, body).await?)
}

/// # `GET /v1/users/me/key-backup`
#[utoipa::path(
    get,
    path = "/v1/users/me/key-backup",
    tag = "users",
    summary = "The caller's key backup (client-encrypted, opaque to the node)",
    responses(
        (status = 200, description = "The backup", body = KeyBackup),
        (status = 404, description = "None was stored"),
    ),
)]
pub(crate) async fn key_backup(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<KeyBackup> {
    ok(state
        .services
        .users
        .key_backup(&actor)?
        .ok_or(node::Error::NotFound("key backup"))?)
}

/// # `PUT /v1/users/me/key-backup`
#[utoipa::path(
    put,
    path = "/v1/users/me/key-backup",
    tag = "users",
    summary = "Store or replace the caller's key backup",
    request_body = KeyBackup,
    responses(
        (status = 200, description = "The stored backup", body = KeyBackup),
    ),
)]
pub(crate) async fn set_key_backup(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<KeyBackup>,
) -> ApiResult<KeyBackup> {
    state.services.users.set_key_backup(&actor, body.clone()).await?;
    ok(body)
}

/// # `GET /v1/users/me/devices`
#[utoipa::path(
    get,
    path = "/v1/users/me/devices",
    tag = "users",
    summary = "The caller's devices",
    responses(
        (status = 200, description = "Every device, active or not", body = DeviceList),
    ),
)]
pub(crate) async fn devices(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<DeviceList> {
    ok(state.services.users.devices(&actor)?)
}

/// # `DELETE /v1/users/me/devices/{id}`
#[utoipa::path(
    delete,
    path = "/v1/users/me/devices/{id}",
    tag = "users",
    summary = "Deactivate one of the caller's devices (its sessions and keys go)",
    params(("id" = DeviceId, Path, description = "The device")),
    responses(
        (status = 200, description = "Deactivated", body = Null),
        (status = 404, description = "No such device of the caller"),
    ),
)]
pub(crate) async fn deactivate_device(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<DeviceId>,
) -> ApiResult<()> {
    ok(state.services.users.deactivate_device(&actor, id).await?)
}

/// # `GET /v1/users/search?query=&limit=`
#[utoipa::path(
    get,
    path = "/v1/users/search",
    tag = "users",
    summary = "Find users by username or display name, or exactly by handle `username@node-name`",
    params(UserSearchQuery),
    responses(
        (status = 200, description = "The matches", body = UserList),
        (status = 422, description = "The handle names no known node", body = ErrorEnvelope),
        (status = 503, description = "The user's home node could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(_): Auth,
    Query(query): Query<UserSearchQuery>,
) -> ApiResult<UserList> {
    ok(state.services.users.search(query).await?)
}

/// # `GET /v1/users/{id}`
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "users",
    summary = "A user's public profile",
    params(("id" = UserId, Path, description = "The user")),
    responses(
        (status = 200, description = "The profile", body = UserProfile),
        (status = 404, description = "No such user"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn profile(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(id): Path<UserId>,
) -> ApiResult<UserProfile> {
    ok(state.services.users.profile(id).await?)
}

/// # `GET /v1/users/{id}/devices`
///
/// Not in the reference API: a sender needs every active device of a recipient to encrypt for.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/devices",
    tag = "users",
    summary = "A user's active devices, to encrypt for",
    params(("id" = UserId, Path, description = "The user")),
    responses(
        (status = 200, description = "The devices", body = PublicDeviceList),
        (status = 404, description = "No such user"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn public_devices(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(id): Path<UserId>,
) -> ApiResult<PublicDeviceList> {
    ok(state.services.users.public_devices(id).await?)
}
