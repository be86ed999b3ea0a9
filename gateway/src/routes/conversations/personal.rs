//! The caller's own view of a conversation (muted, pinned, archived, favourite, read up to where),
//! which changes nothing for the other participants.

use axum::extract::State;
use node::PersonalChange;
use protocol::ConversationId;
use protocol::api::{Conversation, MuteRequest, ReadUpTo, ReadUpToRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, ok};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mute))
        .routes(routes!(unmute))
        .routes(routes!(pin))
        .routes(routes!(unpin))
        .routes(routes!(archive))
        .routes(routes!(unarchive))
        .routes(routes!(favorite, unfavorite))
        .routes(routes!(read_up_to))
}

/// # `POST /v1/conversations/{id}/mute`
///
/// The body is optional; without `until` the mute lasts until unmuted.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/mute",
    tag = "conversations",
    summary = "Mute a conversation for the caller",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body(content = Option<MuteRequest>, description = "Optional; without `until` the mute lasts until unmuted"),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn mute(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    body: Option<Json<MuteRequest>>,
) -> ApiResult<Conversation> {
    let request = body.map(|Json(body)| body).unwrap_or_default();
    ok(state.services.conversations.mute(&actor, id, request).await?)
}

/// # `POST /v1/conversations/{id}/unmute`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/unmute",
    tag = "conversations",
    summary = "Unmute a conversation for the caller",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unmute(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.unmute(&actor, id).await?)
}

async fn flag(
    state: AppState,
    actor: node::Actor,
    id: ConversationId,
    change: PersonalChange,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.set_flag(&actor, id, change).await?)
}

/// # `POST /v1/conversations/{id}/pin`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/pin",
    tag = "conversations",
    summary = "Pin a conversation to the top of the caller's list",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn pin(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Pin(true)).await
}

/// # `POST /v1/conversations/{id}/unpin`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/unpin",
    tag = "conversations",
    summary = "Unpin a conversation",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unpin(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Pin(false)).await
}

/// # `POST /v1/conversations/{id}/archive`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/archive",
    tag = "conversations",
    summary = "Archive a conversation for the caller",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn archive(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Archive(true)).await
}

/// # `POST /v1/conversations/{id}/unarchive`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/unarchive",
    tag = "conversations",
    summary = "Unarchive a conversation",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unarchive(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Archive(false)).await
}

/// # `POST /v1/conversations/{id}/favorite`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/favorite",
    tag = "conversations",
    summary = "Make a conversation one of the caller's favourites",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn favorite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Favorite(true)).await
}

/// # `DELETE /v1/conversations/{id}/favorite`
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/favorite",
    tag = "conversations",
    summary = "Remove a conversation from the favourites",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unfavorite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Favorite(false)).await
}

/// # `POST /v1/conversations/{id}/read`
///
/// Marks every message up to `message_id` (default: the newest) read. The body is optional.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/read",
    tag = "conversations",
    summary = "Mark every message up to one as read",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body(content = Option<ReadUpToRequest>, description = "Optional; without `message_id` everything so far is read"),
    responses(
        (status = 200, description = "What was marked", body = ReadUpTo),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn read_up_to(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    body: Option<Json<ReadUpToRequest>>,
) -> ApiResult<ReadUpTo> {
    let request = body.map(|Json(body)| body).unwrap_or_default();
    ok(state.services.messages.read_up_to(&actor, id, request).await?)
}
