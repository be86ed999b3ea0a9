use axum::extract::State;
use protocol::api::{
    AddRecipientRequest, Broadcast, BroadcastList, BroadcastMessageRequest, BroadcastSearchQuery, BroadcastSent,
    BulkRecipientsRequest, BulkResult, CreateBroadcastRequest, RecipientCheck, RecipientCount, RecipientList,
    UpdateBroadcastRequest,
};
use protocol::{BroadcastId, UserId};

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/broadcasts`
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateBroadcastRequest>,
) -> ApiResult<Broadcast> {
    created(state.services.broadcasts.create(&actor, body).await?)
}

/// # `GET /v1/broadcasts`
pub(crate) async fn list(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<BroadcastList> {
    ok(state.services.broadcasts.list(&actor)?)
}

/// # `GET /v1/broadcasts/search?query=`
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<BroadcastSearchQuery>,
) -> ApiResult<BroadcastList> {
    ok(state.services.broadcasts.search(&actor, query)?)
}

/// # `GET /v1/broadcasts/{id}`
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<Broadcast> {
    ok(state.services.broadcasts.get(&actor, id)?)
}

/// # `PUT /v1/broadcasts/{id}`
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<UpdateBroadcastRequest>,
) -> ApiResult<Broadcast> {
    ok(state.services.broadcasts.update(&actor, id, body).await?)
}

/// # `DELETE /v1/broadcasts/{id}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<()> {
    ok(state.services.broadcasts.delete(&actor, id).await?)
}

/// # `GET /v1/broadcasts/{id}/recipients`
pub(crate) async fn recipients(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<RecipientList> {
    ok(state.services.broadcasts.recipients(&actor, id)?)
}

/// # `POST /v1/broadcasts/{id}/recipients`
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
pub(crate) async fn recipient_count(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
) -> ApiResult<RecipientCount> {
    ok(state.services.broadcasts.recipient_count(&actor, id)?)
}

/// # `GET /v1/broadcasts/{id}/recipients/{user_id}`
pub(crate) async fn is_recipient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(BroadcastId, UserId)>,
) -> ApiResult<RecipientCheck> {
    ok(state.services.broadcasts.is_recipient(&actor, id, user)?)
}

/// # `DELETE /v1/broadcasts/{id}/recipients/{user_id}`
pub(crate) async fn remove_recipient(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(BroadcastId, UserId)>,
) -> ApiResult<()> {
    ok(state.services.broadcasts.remove_recipient(&actor, id, user).await?)
}

/// # `POST /v1/broadcasts/{id}/recipients/bulk`
pub(crate) async fn bulk_add(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<BulkRecipientsRequest>,
) -> ApiResult<BulkResult> {
    ok(state.services.broadcasts.bulk_add(&actor, id, &body.user_ids).await?)
}

/// # `DELETE /v1/broadcasts/{id}/recipients/bulk`
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
pub(crate) async fn send(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<BroadcastId>,
    Json(body): Json<BroadcastMessageRequest>,
) -> ApiResult<BroadcastSent> {
    created(state.services.broadcasts.send(&actor, id, body).await?)
}
