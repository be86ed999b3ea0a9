use axum::extract::State;
use protocol::api::{
    DeviceList, Me, PublicDeviceList, Settings, UpdateProfileRequest, UpdateSettingsRequest, UserList, UserProfile,
    UserSearchQuery,
};
use protocol::{DeviceId, UserId};

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, ok};

/// # `GET /v1/users/me`
pub(crate) async fn me(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Me> {
    ok(state.services.users.me(&actor)?)
}

/// # `PUT /v1/users/me`
pub(crate) async fn update_me(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UpdateProfileRequest>,
) -> ApiResult<Me> {
    ok(state.services.users.update_me(&actor, body).await?)
}

/// # `DELETE /v1/users/me`
pub(crate) async fn delete_me(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<()> {
    ok(state.services.users.delete_me(&actor).await?)
}

/// # `GET /v1/users/me/settings`
pub(crate) async fn settings(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<Settings> {
    ok(state.services.users.settings(&actor)?)
}

/// # `PUT /v1/users/me/settings`
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<UpdateSettingsRequest>,
) -> ApiResult<Settings> {
    ok(state.services.users.update_settings(&actor, body).await?)
}

/// # `GET /v1/users/me/devices`
pub(crate) async fn devices(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<DeviceList> {
    ok(state.services.users.devices(&actor)?)
}

/// # `DELETE /v1/users/me/devices/{id}`
pub(crate) async fn deactivate_device(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<DeviceId>,
) -> ApiResult<()> {
    ok(state.services.users.deactivate_device(&actor, id).await?)
}

/// # `GET /v1/users/search?query=&limit=`
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(_): Auth,
    Query(query): Query<UserSearchQuery>,
) -> ApiResult<UserList> {
    ok(state.services.users.search(query)?)
}

/// # `GET /v1/users/{id}`
pub(crate) async fn profile(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(id): Path<UserId>,
) -> ApiResult<UserProfile> {
    ok(state.services.users.profile(id)?)
}

/// # `GET /v1/users/{id}/devices`
/// Not in the reference API: a sender needs every active device of a recipient to encrypt for.
pub(crate) async fn public_devices(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(id): Path<UserId>,
) -> ApiResult<PublicDeviceList> {
    ok(state.services.users.public_devices(id)?)
}
