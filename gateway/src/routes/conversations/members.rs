//! Who takes part in a conversation, and with what role.

use axum::extract::State;
use protocol::api::{AddParticipantRequest, ChangeRoleRequest, Participant, ParticipantList};
use protocol::{ConversationId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(participants, add_participant))
        .routes(routes!(remove_participant))
        .routes(routes!(change_role))
}

/// # `GET /v1/conversations/{id}/participants`
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/participants",
    tag = "conversations",
    summary = "A conversation's participants",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The participants", body = ParticipantList),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn participants(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<ParticipantList> {
    ok(state.services.conversations.participants(&actor, id)?)
}

/// # `POST /v1/conversations/{id}/participants`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/participants",
    tag = "conversations",
    summary = "Add a participant",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = AddParticipantRequest,
    responses(
        (status = 201, description = "Added", body = Participant),
        (status = 403, description = "Not a participant, not allowed to add (or to grant that role), or a DM"),
        (status = 404, description = "No such conversation or user"),
        (status = 409, description = "Already a participant, or the conversation is full"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn add_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<AddParticipantRequest>,
) -> ApiResult<Participant> {
    created(state.services.conversations.add_participant(&actor, id, body).await?)
}

/// # `DELETE /v1/conversations/{id}/participants/{user_id}`
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/participants/{user_id}",
    tag = "conversations",
    summary = "Remove a participant (or leave)",
    params(
        ("id" = ConversationId, Path, description = "The conversation"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    responses(
        (status = 200, description = "Removed", body = Null),
        (status = 403, description = "Not a participant, not allowed to remove that one, or a DM"),
        (status = 404, description = "No such conversation or participant"),
        (status = 409, description = "The last owner cannot leave while others remain"),
    ),
)]
pub(crate) async fn remove_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(ConversationId, UserId)>,
) -> ApiResult<()> {
    ok(state
        .services
        .conversations
        .remove_participant(&actor, id, user)
        .await?)
}

/// # `PUT /v1/conversations/{id}/participants/{user_id}/role`
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/participants/{user_id}/role",
    tag = "conversations",
    summary = "Change a participant's role",
    params(
        ("id" = ConversationId, Path, description = "The conversation"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, description = "The participant with the new role", body = Participant),
        (status = 403, description = "Not an owner of the conversation, or a DM"),
        (status = 404, description = "No such conversation or participant"),
        (status = 409, description = "The last owner cannot be demoted while others remain"),
    ),
)]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(ConversationId, UserId)>,
    Json(body): Json<ChangeRoleRequest>,
) -> ApiResult<Participant> {
    ok(state.services.conversations.change_role(&actor, id, user, body).await?)
}
