//! `/chats`: creating and listing chats, reading their messages page by page (`before_id`,
//! `after_id`), read and delivered marks, renaming and deleting. Messages are sent over the WebSocket
//! (`socket.rs`), as the document has it. A chat's id is `{id}` in every path (the document's
//! `:chat_id` and `:id` name the same thing).

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::api::{
    CreateConversationRequest, DeleteConversationQuery, MessageQuery, ReadUpToRequest, UpdateConversationRequest,
    UserRef,
};
use protocol::{ConversationId, MessageId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{Chat, ChatMessage, DONE, Done, Kind, MessagePage};
use super::{ErrorBody, Extracted, Result, TAG};
use crate::dialects::{all_conversations, sequence_of};
use crate::extract::{Auth, Json, Path, Query};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(messages))
        .routes(routes!(read))
        .routes(routes!(delivered))
        .routes(routes!(update, delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumNewChat)]
pub(super) struct NewChat {
    kind: Kind,
    /// A group's or channel's name.
    #[serde(default)]
    #[schema(max_length = 100)]
    title: Option<String>,
    /// The other members (exactly one for `private`): user ids, or handles `username@node`.
    #[serde(default)]
    user_ids: Vec<UserRef>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// 50 by default, at most 100.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Only messages older than this one.
    #[serde(default)]
    before_id: Option<MessageId>,
    /// Only messages newer than this one.
    #[serde(default)]
    after_id: Option<MessageId>,
}

/// `POST /chats/{id}/read` and `/delivered`: up to this message, or everything so far.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ChatsAxumMark)]
pub(super) struct Mark {
    #[serde(default)]
    message_id: Option<MessageId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumChatUpdate)]
pub(super) struct Update {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    title: Option<String>,
    /// An http(s) URL of a picture; empty clears it.
    #[serde(default)]
    #[schema(max_length = 2048, format = "http-url")]
    avatar: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DeleteQuery {
    /// `true` (the default): delete for every member (owners and admins). `false`: clear and hide it
    /// for the caller.
    #[serde(default)]
    for_all: Option<bool>,
}

/// # `POST /chats`
#[utoipa::path(
    post,
    path = "/chats",
    tag = TAG,
    summary = "Create a chat (chats-axum)",
    request_body = NewChat,
    responses(
        (status = 201, description = "The chat (an existing private chat with the same user is returned as it is)", body = Chat),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "A user blocked the caller", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<NewChat>>,
) -> Result<(StatusCode, JsonAnswer<Chat>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let request = CreateConversationRequest {
        kind: body.kind.into(),
        subject: body.title,
        description: None,
        participants: body.user_ids,
        settings: None,
    };
    let (chat, _) = state.services.conversations.create(&actor, request).await?;
    Ok((StatusCode::CREATED, JsonAnswer(chat.into())))
}

/// # `GET /chats`
#[utoipa::path(
    get,
    path = "/chats",
    tag = TAG,
    summary = "The caller's chats, pinned first, then by latest activity (chats-axum)",
    responses(
        (status = 200, description = "At most 1,000 chats", body = Vec<Chat>),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn list(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<Vec<Chat>>> {
    let Auth(actor) = auth?;
    let chats = all_conversations(&state, &actor)?.into_iter().map(Chat::from).collect();
    Ok(JsonAnswer(chats))
}

/// # `GET /chats/{id}/messages`
#[utoipa::path(
    get,
    path = "/chats/{id}/messages",
    tag = TAG,
    summary = "A page of a chat's messages, oldest first (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat"), PageQuery),
    responses(
        (status = 200, description = "The newest messages before `before_id` (or the oldest after `after_id`)", body = MessagePage),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such chat, or a cursor not of it", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn messages(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    query: Extracted<Query<PageQuery>>,
) -> Result<JsonAnswer<MessagePage>> {
    let (Auth(actor), Path(id), Query(query)) = (auth?, id?, query?);
    let query = MessageQuery {
        conversation_id: id,
        before_seq: query
            .before_id
            .map(|m| sequence_of(&state, &actor, id, m))
            .transpose()?,
        after_seq: query.after_id.map(|m| sequence_of(&state, &actor, id, m)).transpose()?,
        limit: query.limit,
        message_type: None,
        from: None,
        to: None,
        cursor: None,
    };
    let page = state.services.messages.list(&actor, query)?;
    Ok(JsonAnswer(MessagePage {
        messages: page.messages.iter().map(ChatMessage::from).collect(),
        has_more: page.has_more,
    }))
}

/// # `POST /chats/{id}/read`
#[utoipa::path(
    post,
    path = "/chats/{id}/read",
    tag = TAG,
    summary = "Mark the chat read up to a message (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    request_body(content = Mark, description = "Optional: without `message_id`, everything so far"),
    responses(
        (status = 200, description = "Marked", body = Done),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Option<Json<Mark>>>,
) -> Result<JsonAnswer<Done>> {
    let (Auth(actor), Path(id), body) = (auth?, id?, body?);
    let mark = body.map(|Json(mark)| mark).unwrap_or_default();
    let request = ReadUpToRequest {
        message_id: mark.message_id,
    };
    state.services.messages.read_up_to(&actor, id, request).await?;
    Ok(JsonAnswer(DONE))
}

/// # `POST /chats/{id}/delivered`
#[utoipa::path(
    post,
    path = "/chats/{id}/delivered",
    tag = TAG,
    summary = "Mark a message, or everything waiting in the chat, delivered to this device (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    request_body(content = Mark, description = "Optional: without `message_id`, everything waiting"),
    responses(
        (status = 200, description = "Marked", body = Done),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such chat or message", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn delivered(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Option<Json<Mark>>>,
) -> Result<JsonAnswer<Done>> {
    let (Auth(actor), Path(id), body) = (auth?, id?, body?);
    let mark = body.map(|Json(mark)| mark).unwrap_or_default();
    state.services.conversations.get(&actor, id)?;
    let waiting: Vec<MessageId> = match mark.message_id {
        Some(message) => {
            sequence_of(&state, &actor, id, message)?;
            vec![message]
        }
        None => state
            .services
            .messages
            .undelivered(&actor)?
            .into_iter()
            .filter(|event| event.conversation_id == id)
            .map(|event| event.message_id)
            .collect(),
    };
    for message in waiting {
        state.services.messages.mark_delivered(&actor, message).await?;
    }
    Ok(JsonAnswer(DONE))
}

/// # `PATCH /chats/{id}`
#[utoipa::path(
    patch,
    path = "/chats/{id}",
    tag = TAG,
    summary = "Rename a chat or change its picture (owners and admins; chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    request_body = Update,
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not an owner or admin", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Json<Update>>,
) -> Result<JsonAnswer<Chat>> {
    let (Auth(actor), Path(id), Json(body)) = (auth?, id?, body?);
    let request = UpdateConversationRequest {
        subject: body.title,
        description: None,
        avatar_url: body.avatar,
    };
    let chat = state.services.conversations.update(&actor, id, request).await?;
    Ok(JsonAnswer(chat.into()))
}

/// # `DELETE /chats/{id}`
#[utoipa::path(
    delete,
    path = "/chats/{id}",
    tag = TAG,
    summary = "Delete a chat for everyone, or clear it for the caller (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat"), DeleteQuery),
    responses(
        (status = 200, description = "Deleted", body = Done),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Only owners and admins delete for everyone", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    query: Extracted<Query<DeleteQuery>>,
) -> Result<JsonAnswer<Done>> {
    let (Auth(actor), Path(id), Query(query)) = (auth?, id?, query?);
    let query = DeleteConversationQuery { for_all: query.for_all };
    state.services.conversations.delete(&actor, id, query).await?;
    Ok(JsonAnswer(DONE))
}

/// For `socket.rs`: a refusal naming what is missing from a frame.
pub(super) fn missing(field: &str) -> ApiError {
    ApiError::validation(format!("{field}: required"))
}
