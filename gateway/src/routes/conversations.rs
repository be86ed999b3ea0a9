//! Conversations: their details here; who takes part (`members`), the caller's own view of one
//! (`personal`) and invite links (`invites`) in files of their own.

mod invites;
mod members;
mod personal;

use axum::extract::State;
use protocol::ConversationId;
use protocol::api::{
    Conversation, ConversationList, ConversationListQuery, ConversationPage, ConversationSearchQuery,
    CreateConversationRequest, DeleteConversationQuery, DirectQuery, SequenceInfo, UpdateConversationRequest,
    UpdateSettings,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(direct))
        .routes(routes!(search))
        .routes(routes!(get, update, delete))
        .routes(routes!(update_settings))
        .routes(routes!(sequence))
        .routes(routes!(take_over))
        .merge(members::router())
        .merge(personal::router())
        .merge(invites::router())
}

/// # `POST /v1/conversations`
///
/// 201 for a new conversation; 200 with the existing one when the DM already exists.
#[utoipa::path(
    post,
    path = "/v1/conversations",
    tag = "conversations",
    summary = "Start a DM or create a group",
    request_body = CreateConversationRequest,
    responses(
        (status = 201, description = "Created", body = Conversation),
        (status = 200, description = "The DM with that user already exists", body = Conversation),
        (status = 404, description = "A participant does not exist"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateConversationRequest>,
) -> ApiResult<Conversation> {
    match state.services.conversations.create(&actor, body).await? {
        (conversation, true) => created(conversation),
        (conversation, false) => ok(conversation),
    }
}

/// # `GET /v1/conversations?page=&limit=`
#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "conversations",
    summary = "The caller's conversations, pinned first",
    params(ConversationListQuery),
    responses(
        (status = 200, description = "A page", body = ConversationPage),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<ConversationListQuery>,
) -> ApiResult<ConversationPage> {
    ok(state.services.conversations.list(&actor, query)?)
}

/// # `GET /v1/conversations/direct?user_id_1=&user_id_2=`
#[utoipa::path(
    get,
    path = "/v1/conversations/direct",
    tag = "conversations",
    summary = "The DM between two users",
    params(DirectQuery),
    responses(
        (status = 200, description = "The DM", body = Conversation),
        (status = 403, description = "Neither user is the caller"),
        (status = 404, description = "No DM between them"),
    ),
)]
pub(crate) async fn direct(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DirectQuery>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.direct(&actor, query)?)
}

/// # `GET /v1/conversations/search?query=&limit=`
#[utoipa::path(
    get,
    path = "/v1/conversations/search",
    tag = "conversations",
    summary = "Find conversations by subject",
    params(ConversationSearchQuery),
    responses(
        (status = 200, description = "The matches", body = ConversationList),
    ),
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<ConversationSearchQuery>,
) -> ApiResult<ConversationList> {
    ok(state.services.conversations.search(&actor, query)?)
}

/// # `GET /v1/conversations/{id}`
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    summary = "A conversation",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation as the caller sees it", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.get(&actor, id)?)
}

/// # `PUT /v1/conversations/{id}`
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    summary = "Change a conversation's details",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = UpdateConversationRequest,
    responses(
        (status = 200, description = "The changed conversation", body = Conversation),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<UpdateConversationRequest>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.update(&actor, id, body).await?)
}

/// # `DELETE /v1/conversations/{id}?for_all=`
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    summary = "Delete a conversation for everyone, or clear it for the caller",
    params(
        ("id" = ConversationId, Path, description = "The conversation"),
        DeleteConversationQuery,
    ),
    responses(
        (status = 200, description = "Deleted or cleared", body = Null),
        (status = 403, description = "Not a participant, or not allowed to delete it for everyone"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Query(query): Query<DeleteConversationQuery>,
) -> ApiResult<()> {
    ok(state.services.conversations.delete(&actor, id, query).await?)
}

/// # `PUT /v1/conversations/{id}/settings`
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/settings",
    tag = "conversations",
    summary = "Change a group's or channel's settings",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = UpdateSettings,
    responses(
        (status = 200, description = "The changed conversation", body = Conversation),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<UpdateSettings>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.update_settings(&actor, id, body).await?)
}

/// # `GET /v1/conversations/{id}/sequence`
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/sequence",
    tag = "conversations",
    summary = "A conversation's newest sequence number",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The sequence number", body = SequenceInfo),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn sequence(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<SequenceInfo> {
    ok(state.services.conversations.sequence(&actor, id)?)
}

/// # `POST /v1/conversations/{id}/host`
///
/// Moves a conversation whose host (another node) is gone to this node, which orders its messages and
/// keeps its membership from now on; every member's node accepts the move, signed by this node, from
/// an owner (any member of a DM). Sends and changes this node had queued for the old host are placed
/// here. Refused while the old host answers. Calling it again after a move finishes what a crash may
/// have left.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/host",
    tag = "conversations",
    summary = "Host a conversation whose host is gone",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation, hosted here", body = Conversation),
        (status = 403, description = "Not a participant, or not an owner of a group"),
        (status = 404, description = "No such conversation"),
        (status = 409, description = "This node hosts it already, or its host answers", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn take_over(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    ok(state.services.take_over_conversation(&actor, id).await?)
}
