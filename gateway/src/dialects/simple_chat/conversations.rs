//! `/api/conversations`: one-to-one conversations and their messages.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::ConversationId;
use protocol::api::{ConversationKind, CreateConversationRequest};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::chats::{Extracted, MessageAnswer, PageQuery, conversation, conversations_of, dm, page, send};
use super::shapes::{Dm, MessagePage, NewMessage, UserRefBody};
use super::{ErrorBody, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dms, open_dm))
        .routes(routes!(get_dm))
        .routes(routes!(dm_messages, send_dm))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatConversationList)]
pub(super) struct DmList {
    conversations: Vec<Dm>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatConversationAnswer)]
pub(super) struct DmAnswer {
    conversation: Dm,
}

/// # `GET /api/conversations`
#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = TAG,
    summary = "The caller's one-to-one conversations (simple-chat)",
    responses(
        (status = 200, description = "Newest activity first, at most 1,000", body = DmList),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn list_dms(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<DmList>> {
    let Auth(actor) = auth?;
    let conversations = conversations_of(&state, &actor, false)?
        .iter()
        .map(|c| dm(&state, &actor, c))
        .collect::<Result<_>>()?;
    Ok(JsonAnswer(DmList { conversations }))
}

/// # `POST /api/conversations`
#[utoipa::path(
    post,
    path = "/api/conversations",
    tag = TAG,
    summary = "Open (or find) the one-to-one conversation with a user (simple-chat)",
    request_body = UserRefBody,
    responses(
        (status = 200, description = "The conversation", body = DmAnswer),
        (status = 400, description = "Invalid request body, or the caller named themself", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "The user has blocked the caller", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn open_dm(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<UserRefBody>>,
) -> Result<JsonAnswer<DmAnswer>> {
    let Auth(actor) = auth?;
    let Json(body) = body?;
    let request = CreateConversationRequest {
        kind: ConversationKind::Dm,
        subject: None,
        description: None,
        participants: vec![body.user_id],
        settings: None,
    };
    let (conversation, _) = state.services.conversations.create(&actor, request).await?;
    let conversation = dm(&state, &actor, &conversation)?;
    Ok(JsonAnswer(DmAnswer { conversation }))
}

/// # `GET /api/conversations/{id}`
#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    tag = TAG,
    summary = "A one-to-one conversation (simple-chat)",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = DmAnswer),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "The caller is not a participant", body = ErrorBody),
        (status = 404, description = "No such one-to-one conversation", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn get_dm(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
) -> Result<JsonAnswer<DmAnswer>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    let found = conversation(&state, &actor, id, false)?;
    let conversation = dm(&state, &actor, &found)?;
    Ok(JsonAnswer(DmAnswer { conversation }))
}

/// # `GET /api/conversations/{id}/messages`
#[utoipa::path(
    get,
    path = "/api/conversations/{id}/messages",
    tag = TAG,
    summary = "A page of a one-to-one conversation's messages (simple-chat)",
    params(("id" = ConversationId, Path, description = "The conversation"), PageQuery),
    responses(
        (status = 200, description = "The newest messages before `cursor`, oldest first", body = MessagePage),
        (status = 400, description = "A malformed id, cursor or limit", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "The caller is not a participant", body = ErrorBody),
        (status = 404, description = "No such one-to-one conversation", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn dm_messages(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    query: Extracted<Query<PageQuery>>,
) -> Result<JsonAnswer<MessagePage>> {
    let (Auth(actor), Path(id), Query(query)) = (auth?, id?, query?);
    Ok(JsonAnswer(page(&state, &actor, id, query, false)?))
}

/// # `POST /api/conversations/{id}/messages`
#[utoipa::path(
    post,
    path = "/api/conversations/{id}/messages",
    tag = TAG,
    summary = "Send a message to a one-to-one conversation (simple-chat)",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The stored message", body = MessageAnswer),
        (status = 400, description = "Invalid request body (empty or over 64 KiB)", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Not a participant, blocked, or the node refuses messages in the clear", body = ErrorBody),
        (status = 404, description = "No such one-to-one conversation", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
        (status = 503, description = "The conversation's host node cannot be reached; retry", body = ErrorBody),
    ),
)]
pub(crate) async fn send_dm(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Json<NewMessage>>,
) -> Result<(StatusCode, JsonAnswer<MessageAnswer>)> {
    let (Auth(actor), Path(id), Json(body)) = (auth?, id?, body?);
    let message = send(&state, &actor, id, body.content, false).await?;
    Ok((StatusCode::CREATED, JsonAnswer(MessageAnswer { message })))
}
