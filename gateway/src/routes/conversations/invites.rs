//! Invite links: an owner or admin makes one; any user holding it can preview the conversation and join.

use axum::extract::State;
use protocol::ConversationId;
use protocol::api::{Conversation, InviteLink, InvitePreview, InviteRef};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, ok};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(regenerate_invite))
        .routes(routes!(preview_invite))
        .routes(routes!(join))
}

/// # `POST /v1/conversations/{id}/invite`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/invite",
    tag = "conversations",
    summary = "Create a new invite link (the old one stops working)",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The new link", body = InviteLink),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
        (status = 409, description = "Invites are turned off for this conversation"),
    ),
)]
pub(crate) async fn regenerate_invite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<InviteLink> {
    ok(state.services.conversations.regenerate_invite(&actor, id).await?)
}

/// # `GET /v1/conversations/invite?link=`
#[utoipa::path(
    get,
    path = "/v1/conversations/invite",
    tag = "conversations",
    summary = "What an invite link leads to",
    params(InviteRef),
    responses(
        (status = 200, description = "The conversation, as a preview", body = InvitePreview),
        (status = 404, description = "No such invite"),
    ),
)]
pub(crate) async fn preview_invite(
    State(state): State<AppState>,
    Auth(_): Auth,
    Query(query): Query<InviteRef>,
) -> ApiResult<InvitePreview> {
    ok(state.services.conversations.preview_invite(query)?)
}

/// # `POST /v1/conversations/join`
#[utoipa::path(
    post,
    path = "/v1/conversations/join",
    tag = "conversations",
    summary = "Join a conversation by invite link",
    request_body = InviteRef,
    responses(
        (status = 200, description = "The joined conversation", body = Conversation),
        (status = 404, description = "No such invite"),
        (status = 409, description = "Already a participant, or the conversation is full"),
    ),
)]
pub(crate) async fn join(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<InviteRef>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.join(&actor, body).await?)
}
