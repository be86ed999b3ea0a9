use axum::extract::State;
use protocol::api::{
    AddCallParticipantRequest, Call, CallDuration, CallList, CallListQuery, CallMuteRequest, CallParticipantList,
    CallParticipantStatusRequest, CallQualityMetric, CreateCallRequest, EndCallRequest, IceServers, UserCallsQuery,
};
use protocol::federation::CallAction;
use protocol::{CallId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::ErrorEnvelope;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(of_user))
        .routes(routes!(active))
        .routes(routes!(missed))
        .routes(routes!(ice_servers))
        .routes(routes!(quality))
        .routes(routes!(get))
        .routes(routes!(participants, add_participant))
        .routes(routes!(remove_participant))
        .routes(routes!(set_status))
        .routes(routes!(set_mute))
        .routes(routes!(connected))
        .routes(routes!(end))
        .routes(routes!(duration))
}

/// # `POST /v1/calls`
#[utoipa::path(
    post,
    path = "/v1/calls",
    tag = "calls",
    summary = "Ring a conversation's participants",
    request_body = CreateCallRequest,
    responses(
        (status = 201, description = "The call", body = Call),
        (status = 403, description = "Not a participant of the conversation, or `initiator_id` is not the caller"),
        (status = 404, description = "No such conversation"),
        (status = 409, description = "A call is already going on in the conversation"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateCallRequest>,
) -> ApiResult<Call> {
    created(state.services.calls.act(&actor, CallAction::Create(body)).await?)
}

/// # `GET /v1/calls?conversation_id=&page=&limit=`
#[utoipa::path(
    get,
    path = "/v1/calls",
    tag = "calls",
    summary = "A conversation's calls, newest first",
    params(CallListQuery),
    responses(
        (status = 200, description = "The calls", body = CallList),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<CallListQuery>,
) -> ApiResult<CallList> {
    ok(state.services.calls.list(&actor, query)?)
}

/// # `GET /v1/calls/user?user_id=`
#[utoipa::path(
    get,
    path = "/v1/calls/user",
    tag = "calls",
    summary = "The caller's calls",
    params(UserCallsQuery),
    responses(
        (status = 200, description = "The calls", body = CallList),
        (status = 403, description = "`user_id` is not the caller"),
    ),
)]
pub(crate) async fn of_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UserCallsQuery>,
) -> ApiResult<CallList> {
    ok(state.services.calls.of_user(&actor, query)?)
}

/// # `GET /v1/calls/active`
#[utoipa::path(
    get,
    path = "/v1/calls/active",
    tag = "calls",
    summary = "The caller's calls going on now",
    responses(
        (status = 200, description = "The calls", body = CallList),
    ),
)]
pub(crate) async fn active(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<CallList> {
    ok(state.services.calls.active(&actor)?)
}

/// # `GET /v1/calls/missed`
#[utoipa::path(
    get,
    path = "/v1/calls/missed",
    tag = "calls",
    summary = "The calls the caller missed",
    responses(
        (status = 200, description = "The calls", body = CallList),
    ),
)]
pub(crate) async fn missed(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<CallList> {
    ok(state.services.calls.missed(&actor)?)
}

/// # `GET /v1/calls/ice-servers`
#[utoipa::path(
    get,
    path = "/v1/calls/ice-servers",
    tag = "calls",
    summary = "The node's STUN and TURN servers",
    responses(
        (status = 200, description = "The servers", body = IceServers),
    ),
)]
pub(crate) async fn ice_servers(State(state): State<AppState>, Auth(_): Auth) -> ApiResult<IceServers> {
    ok(state.services.calls.ice_servers())
}

/// # `GET /v1/calls/{id}`
#[utoipa::path(
    get,
    path = "/v1/calls/{id}",
    tag = "calls",
    summary = "A call",
    params(("id" = CallId, Path, description = "The call")),
    responses(
        (status = 200, description = "The call", body = Call),
        (status = 403, description = "The caller is not a participant of the call"),
        (status = 404, description = "No such call"),
    ),
)]
pub(crate) async fn get(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<CallId>) -> ApiResult<Call> {
    ok(state.services.calls.get(&actor, id)?)
}

/// # `GET /v1/calls/{id}/participants`
#[utoipa::path(
    get,
    path = "/v1/calls/{id}/participants",
    tag = "calls",
    summary = "A call's participants",
    params(("id" = CallId, Path, description = "The call")),
    responses(
        (status = 200, description = "The participants", body = CallParticipantList),
        (status = 403, description = "The caller is not a participant of the call"),
        (status = 404, description = "No such call"),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/calls/{id}/participants",
    tag = "calls",
    summary = "Ring one more participant",
    params(("id" = CallId, Path, description = "The call")),
    request_body = AddCallParticipantRequest,
    responses(
        (status = 201, description = "The call", body = Call),
        (status = 403, description = "Only participants who joined invite"),
        (status = 404, description = "No such call"),
        (status = 409, description = "Already in the call, or the call is over"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn add_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
    Json(body): Json<AddCallParticipantRequest>,
) -> ApiResult<Call> {
    let action = CallAction::AddParticipant {
        call_id: id,
        request: body,
    };
    created(state.services.calls.act(&actor, action).await?)
}

/// # `DELETE /v1/calls/{id}/participants/{user_id}`
#[utoipa::path(
    delete,
    path = "/v1/calls/{id}/participants/{user_id}",
    tag = "calls",
    summary = "Remove a participant (or leave)",
    params(
        ("id" = CallId, Path, description = "The call"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    responses(
        (status = 200, description = "The call", body = Call),
        (status = 403, description = "Only the initiator removes others"),
        (status = 404, description = "No such call or participant"),
        (status = 409, description = "The call has already ended"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn remove_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(CallId, UserId)>,
) -> ApiResult<Call> {
    let action = CallAction::RemoveParticipant {
        call_id: id,
        user_id: user,
    };
    ok(state.services.calls.act(&actor, action).await?)
}

/// # `PUT /v1/calls/{id}/participants/{user_id}/status`
#[utoipa::path(
    put,
    path = "/v1/calls/{id}/participants/{user_id}/status",
    tag = "calls",
    summary = "Change one's own status in a call",
    params(
        ("id" = CallId, Path, description = "The call"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    request_body = CallParticipantStatusRequest,
    responses(
        (status = 200, description = "The call", body = Call),
        (status = 403, description = "Participants change only their own status"),
        (status = 404, description = "No such call"),
        (status = 409, description = "Not a valid step from the current status"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn set_status(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(CallId, UserId)>,
    Json(body): Json<CallParticipantStatusRequest>,
) -> ApiResult<Call> {
    let action = CallAction::SetStatus {
        call_id: id,
        user_id: user,
        request: body,
    };
    ok(state.services.calls.act(&actor, action).await?)
}

/// # `PUT /v1/calls/{id}/participants/{user_id}/mute`
#[utoipa::path(
    put,
    path = "/v1/calls/{id}/participants/{user_id}/mute",
    tag = "calls",
    summary = "Mute or unmute oneself",
    params(
        ("id" = CallId, Path, description = "The call"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    request_body = CallMuteRequest,
    responses(
        (status = 200, description = "The call", body = Call),
        (status = 403, description = "Participants mute only themselves"),
        (status = 404, description = "No such call"),
        (status = 409, description = "The call has already ended"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn set_mute(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(CallId, UserId)>,
    Json(body): Json<CallMuteRequest>,
) -> ApiResult<Call> {
    let action = CallAction::SetMute {
        call_id: id,
        user_id: user,
        request: body,
    };
    ok(state.services.calls.act(&actor, action).await?)
}

/// # `POST /v1/calls/{id}/connected`
#[utoipa::path(
    post,
    path = "/v1/calls/{id}/connected",
    tag = "calls",
    summary = "Report that media flows",
    params(("id" = CallId, Path, description = "The call")),
    responses(
        (status = 200, description = "The call", body = Call),
        (status = 403, description = "The caller is not a participant of the call"),
        (status = 404, description = "No such call"),
        (status = 409, description = "Not a valid step from the current status"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn connected(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
) -> ApiResult<Call> {
    ok(state
        .services
        .calls
        .act(&actor, CallAction::Connected { call_id: id })
        .await?)
}

/// # `POST /v1/calls/{id}/end`
///
/// The body is optional; the reason defaults to `COMPLETED`.
#[utoipa::path(
    post,
    path = "/v1/calls/{id}/end",
    tag = "calls",
    summary = "End a call",
    params(("id" = CallId, Path, description = "The call")),
    request_body(content = Option<EndCallRequest>, description = "Optional; the reason defaults to `COMPLETED`"),
    responses(
        (status = 200, description = "The ended call", body = Call),
        (status = 403, description = "The caller is not a participant of the call"),
        (status = 404, description = "No such call"),
        (status = 409, description = "The call has already ended"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn end(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
    body: Option<Json<EndCallRequest>>,
) -> ApiResult<Call> {
    let request = body.map(|Json(body)| body).unwrap_or_default();
    let action = CallAction::End { call_id: id, request };
    ok(state.services.calls.act(&actor, action).await?)
}

/// # `GET /v1/calls/{id}/duration`
#[utoipa::path(
    get,
    path = "/v1/calls/{id}/duration",
    tag = "calls",
    summary = "A call's connected time",
    params(("id" = CallId, Path, description = "The call")),
    responses(
        (status = 200, description = "The duration", body = CallDuration),
        (status = 403, description = "The caller is not a participant of the call"),
        (status = 404, description = "No such call"),
    ),
)]
pub(crate) async fn duration(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CallId>,
) -> ApiResult<CallDuration> {
    ok(state.services.calls.duration(&actor, id)?)
}

/// # `POST /v1/calls/quality`
#[utoipa::path(
    post,
    path = "/v1/calls/quality",
    tag = "calls",
    summary = "Record a sample of the caller's connection quality",
    request_body = CallQualityMetric,
    responses(
        (status = 201, description = "The recorded sample", body = CallQualityMetric),
        (status = 403, description = "Not a participant of the call, or `user_id` is not the caller"),
        (status = 404, description = "No such call"),
        (status = 503, description = "The node hosting the call's conversation could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn quality(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CallQualityMetric>,
) -> ApiResult<CallQualityMetric> {
    created(state.services.calls.record_quality(&actor, body).await?)
}
