use axum::extract::State;
use protocol::api::{
    AddCallParticipantRequest, Call, CallDuration, CallList, CallListQuery, CallMuteRequest, CallParticipantList,
    CallParticipantStatusRequest, CallQualityMetric, CreateCallRequest, EndCallRequest, IceServers, UserCallsQuery,
};
use protocol::{CallId, UserId};

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/calls`
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateCallRequest>,
) -> ApiResult<Call> {
    created(state.services.calls.create(&actor, body).await?)
}

/// # `GET /v1/calls?conversation_id=&page=&limit=`
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<CallListQuery>,
) -> ApiResult<CallList> {
    ok(state.services.calls.list(&actor, query)?)
}

/// # `GET /v1/calls/user?user_id=`
pub(crate) async fn of_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UserCallsQuery>,
) -> ApiResult<CallList> {
    ok(state.services.calls.of_user(&actor, query)?)
}

/// # `GET /v1/calls/active`
pub(crate) async fn active(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<CallList> {
    ok(state.services.calls.active(&actor)?)
}

/// # `GET /v1/calls/missed`
pub(crate) async fn missed(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<CallList> {
    ok(state.services.calls.missed(&actor)?)
}

/// # `GET /v1/calls/ice-servers`
pub(crate) async fn ice_servers(State(state): State<AppState>, Auth(_): Auth) -> ApiResult<IceServers> {
    ok(state.services.calls.ice_servers())
}

/// # `GET /v1/calls/{id}`
pub(crate) async fn get(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<CallId>) -> ApiResult<Call> {
    ok(state.services.calls.get(&actor, id)?)
}

/// # `GET /v1/calls/{id}/participants`
pub(crate) async fn participants(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
) -> ApiResult<CallParticipantList> {
    let call = state.services.calls.get(&actor, id)?;
    ok(CallParticipantList {
        participants: call.participants,
    })
}

/// # `POST /v1/calls/{id}/participants`
pub(crate) async fn add_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
    Json(body): Json<AddCallParticipantRequest>,
) -> ApiResult<Call> {
    created(state.services.calls.add_participant(&actor, id, body).await?)
}

/// # `DELETE /v1/calls/{id}/participants/{user_id}`
pub(crate) async fn remove_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(CallId, UserId)>,
) -> ApiResult<Call> {
    ok(state.services.calls.remove_participant(&actor, id, user).await?)
}

/// # `PUT /v1/calls/{id}/participants/{user_id}/status`
pub(crate) async fn set_status(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(CallId, UserId)>,
    Json(body): Json<CallParticipantStatusRequest>,
) -> ApiResult<Call> {
    ok(state.services.calls.set_status(&actor, id, user, body).await?)
}

/// # `PUT /v1/calls/{id}/participants/{user_id}/mute`
pub(crate) async fn set_mute(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(CallId, UserId)>,
    Json(body): Json<CallMuteRequest>,
) -> ApiResult<Call> {
    ok(state.services.calls.set_mute(&actor, id, user, body).await?)
}

/// # `POST /v1/calls/{id}/connected`
pub(crate) async fn connected(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
) -> ApiResult<Call> {
    ok(state.services.calls.connected(&actor, id).await?)
}

/// # `POST /v1/calls/{id}/end`
/// The body is optional; the reason defaults to `COMPLETED`.
pub(crate) async fn end(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
    body: Option<Json<EndCallRequest>>,
) -> ApiResult<Call> {
    let request = body.map(|Json(body)| body).unwrap_or_default();
    ok(state.services.calls.end(&actor, id, request).await?)
}

/// # `GET /v1/calls/{id}/duration`
pub(crate) async fn duration(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
) -> ApiResult<CallDuration> {
    ok(state.services.calls.duration(&actor, id)?)
}

/// # `POST /v1/calls/quality`
pub(crate) async fn quality(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CallQualityMetric>,
) -> ApiResult<CallQualityMetric> {
    created(state.services.calls.record_quality(&actor, body).await?)
}
