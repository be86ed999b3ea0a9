use axum::extract::State;
use protocol::api::{
    AddRecipientRequest, Broadcast, BroadcastList, BroadcastMessageRequest, BroadcastSearchQuery, BroadcastSent,
    BulkRecipientsRequest, BulkResult, CreateBroadcastRequest, RecipientCheck, RecipientCount, RecipientList,
    UpdateBroadcastRequest,
};
use protocol::{BroadcastId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::Null;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(search))
        .routes(routes!(get, update, delete))
        .routes(routes!(recipients, add_recipient))
        .routes(routes!(recipient_count))
        .routes(routes!(bulk_add, bulk_remove))
        .routes(routes!(is_recipient, remove_recipient))
        .routes(routes!(send))
}

/// # `POST /v1/broadcasts`
#[utoipa::path(
    post,
    path = "/v1/broadcasts",
    tag = "broadcasts",
    summary = "Create a broadcast list",
    request_body = CreateBroadcastRequest,
    responses(
        (status = 201, description = "The list", body = Broadcast),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateBroadcastRequest>,
) -> ApiResult<Broadcast> {
    created(state.services.broadcasts.create(&actor, body).await?)
}

/// # `GET /v1/broadcasts`
#[utoipa::path(
    get,
    path = "/v1/broadcasts",
    tag = "broadcasts",
    summary = "The caller's broadcast lists",
    responses(
        (status = 200, description = "The lists", body = BroadcastList),
    ),
)]
pub(crate) async fn list(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<BroadcastList> {
    ok(state.services.broadcasts.list(&actor)?)
}

/// # `GET /v1/broadcasts/search?query=`
#[utoipa::path(
    get,
    path = "/v1/broadcasts/search",
    tag = "broadcasts",
    summary = "Find the caller's lists by name",
    params(BroadcastSearchQuery),
    responses(
        (status = 200, description = "The matches", body = BroadcastList),
    ),
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<BroadcastSearchQuery>,
) -> ApiResult<BroadcastList> {
    ok(state.services.broadcasts.search(&actor, query)?)
}

/// # `GET /v1/broadcasts/{id}`
#[utoipa::path(
    get,
    path = "/v1/broadcasts/{id}",
    tag = "broadcasts",
    summary = "A broadcast list",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    responses(
        (status = 200, description = "The list", body = Broadcast),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<Broadcast> {
    ok(state.services.broadcasts.get(&actor, id)?)
}

/// # `PUT /v1/broadcasts/{id}`
#[utoipa::path(
    put,
    path = "/v1/broadcasts/{id}",
    tag = "broadcasts",
    summary = "Rename or describe a list",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    request_body = UpdateBroadcastRequest,
    responses(
        (status = 200, description = "The changed list", body = Broadcast),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<UpdateBroadcastRequest>,
) -> ApiResult<Broadcast> {
    ok(state.services.broadcasts.update(&actor, id, body).await?)
}

/// # `DELETE /v1/broadcasts/{id}`
#[utoipa::path(
    delete,
    path = "/v1/broadcasts/{id}",
    tag = "broadcasts",
    summary = "Delete a list",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    responses(
        (status = 200, description = "Deleted", body = Null),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<()> {
    ok(state.services.broadcasts.delete(&actor, id).await?)
}

/// # `GET /v1/broadcasts/{id}/recipients`
#[utoipa::path(
    get,
    path = "/v1/broadcasts/{id}/recipients",
    tag = "broadcasts",
    summary = "A list's recipients",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    responses(
        (status = 200, description = "The recipients", body = RecipientList),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn recipients(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<RecipientList> {
    ok(state.services.broadcasts.recipients(&actor, id)?)
}

/// # `POST /v1/broadcasts/{id}/recipients`
#[utoipa::path(
    post,
    path = "/v1/broadcasts/{id}/recipients",
    tag = "broadcasts",
    summary = "Add a recipient",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    request_body = AddRecipientRequest,
    responses(
        (status = 201, description = "The list", body = Broadcast),
        (status = 404, description = "No such list of the caller, or no such user"),
        (status = 409, description = "Already a recipient, the user owns the list, or the list is full"),
    ),
)]
pub(crate) async fn add_recipient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<AddRecipientRequest>,
) -> ApiResult<Broadcast> {
    created(
        state
            .services
            .broadcasts
            .add_recipient(&actor, id, body.user_id)
            .await?,
    )
}

/// # `GET /v1/broadcasts/{id}/recipients/count`
#[utoipa::path(
    get,
    path = "/v1/broadcasts/{id}/recipients/count",
    tag = "broadcasts",
    summary = "How many recipients a list has",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    responses(
        (status = 200, description = "The count", body = RecipientCount),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn recipient_count(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<RecipientCount> {
    ok(state.services.broadcasts.recipient_count(&actor, id)?)
}

/// # `GET /v1/broadcasts/{id}/recipients/{user_id}`
#[utoipa::path(
    get,
    path = "/v1/broadcasts/{id}/recipients/{user_id}",
    tag = "broadcasts",
    summary = "Whether a user is on a list",
    params(
        ("id" = BroadcastId, Path, description = "The broadcast list"),
        ("user_id" = UserId, Path, description = "The recipient"),
    ),
    responses(
        (status = 200, description = "The answer", body = RecipientCheck),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn is_recipient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(BroadcastId, UserId)>,
) -> ApiResult<RecipientCheck> {
    ok(state.services.broadcasts.is_recipient(&actor, id, user)?)
}

/// # `DELETE /v1/broadcasts/{id}/recipients/{user_id}`
#[utoipa::path(
    delete,
    path = "/v1/broadcasts/{id}/recipients/{user_id}",
    tag = "broadcasts",
    summary = "Remove a recipient",
    params(
        ("id" = BroadcastId, Path, description = "The broadcast list"),
        ("user_id" = UserId, Path, description = "The recipient"),
    ),
    responses(
        (status = 200, description = "Removed", body = Null),
        (status = 404, description = "No such list of the caller, or not a recipient"),
    ),
)]
pub(crate) async fn remove_recipient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(BroadcastId, UserId)>,
) -> ApiResult<()> {
    ok(state.services.broadcasts.remove_recipient(&actor, id, user).await?)
}

/// # `POST /v1/broadcasts/{id}/recipients/bulk`
#[utoipa::path(
    post,
    path = "/v1/broadcasts/{id}/recipients/bulk",
    tag = "broadcasts",
    summary = "Add many recipients",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    request_body = BulkRecipientsRequest,
    responses(
        (status = 200, description = "What changed", body = BulkResult),
        (status = 404, description = "No such list of the caller, or no such user"),
        (status = 409, description = "A user owns the list, or the list would exceed its size limit"),
    ),
)]
pub(crate) async fn bulk_add(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<BulkRecipientsRequest>,
) -> ApiResult<BulkResult> {
    ok(state.services.broadcasts.bulk_add(&actor, id, &body.user_ids).await?)
}

/// # `DELETE /v1/broadcasts/{id}/recipients/bulk`
#[utoipa::path(
    delete,
    path = "/v1/broadcasts/{id}/recipients/bulk",
    tag = "broadcasts",
    summary = "Remove many recipients",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    request_body = BulkRecipientsRequest,
    responses(
        (status = 200, description = "What changed", body = BulkResult),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn bulk_remove(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<BulkRecipientsRequest>,
) -> ApiResult<BulkResult> {
    ok(state
        .services
        .broadcasts
        .bulk_remove(&actor, id, &body.user_ids)
        .await?)
}

/// # `POST /v1/broadcasts/{id}/messages`
#[utoipa::path(
    post,
    path = "/v1/broadcasts/{id}/messages",
    tag = "broadcasts",
    summary = "Send one message to each recipient's DM with the caller",
    params(("id" = BroadcastId, Path, description = "The broadcast list")),
    request_body = BroadcastMessageRequest,
    responses(
        (status = 201, description = "Where it went", body = BroadcastSent),
        (status = 404, description = "No such broadcast list of the caller"),
    ),
)]
pub(crate) async fn send(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<BroadcastMessageRequest>,
) -> ApiResult<BroadcastSent> {
    created(state.services.broadcasts.send(&actor, id, body).await?)
}
