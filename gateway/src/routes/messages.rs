use axum::extract::State;
use node::Taken;
use protocol::MessageId;
use protocol::api::{
    EditMessageRequest, ForwardMessageRequest, Message, MessagePage, MessageQuery, ReactRequest, ReactionList, Receipt,
    SendMessageRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, accepted, created, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send, list))
        .routes(routes!(get, edit, delete))
        .routes(routes!(hard_delete))
        .routes(routes!(mark_read))
        .routes(routes!(mark_delivered))
        .routes(routes!(forward))
        .routes(routes!(reactions, react))
        .routes(routes!(unreact))
}

/// # `POST /v1/messages`
///
/// Answered only once the message is on disk. A resend of the same `client_message_id` answers with
/// the original message, so a client may retry after any failure. Into a conversation another node
/// hosts, a message that node has not placed within a moment (it is down, say) is answered 202 with
/// `state: pending` and `sequence_number` 0: it is kept here and submitted, in order, once the host is
/// reachable, and `message:sequenced` tells the sender's devices its place.
#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "messages",
    summary = "Send a message",
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "Stored (or the original, when `client_message_id` was seen before)", body = Message),
        (status = 202, description = "Accepted for a host that has not placed it yet (`state: pending`)", body = Message),
        (status = 403, description = "Not a participant, or a channel member who may not post"),
        (status = 404, description = "No such conversation, or the message replied to does not exist"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn send(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<SendMessageRequest>,
) -> ApiResult<Message> {
    let message = state.services.messages.send(&actor, body).await?;
    match message.state {
        Some(_) => accepted(message),
        None => created(message),
    }
}

/// # `GET /v1/messages?conversation_id=&before_seq=&after_seq=&limit=`
#[utoipa::path(
    get,
    path = "/v1/messages",
    tag = "messages",
    summary = "A page of a conversation's messages, as this device sees them",
    params(MessageQuery),
    responses(
        (status = 200, description = "The page", body = MessagePage),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<MessageQuery>,
) -> ApiResult<MessagePage> {
    ok(state.services.messages.list(&actor, query)?)
}

/// # `GET /v1/messages/{id}`
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    tag = "messages",
    summary = "A message, with the copy for this device",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "The message", body = Message),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such message"),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Message> {
    ok(state.services.messages.get(&actor, id)?)
}

/// # `PUT /v1/messages/{id}`
#[utoipa::path(
    put,
    path = "/v1/messages/{id}",
    tag = "messages",
    summary = "Replace a message's content",
    params(("id" = MessageId, Path, description = "The message")),
    request_body = EditMessageRequest,
    responses(
        (status = 200, description = "The edited message", body = Message),
        (status = 202, description = "Queued for the conversation's host, which did not answer in time: the message as it stands (`state: pending`); `message:updated` follows", body = Message),
        (status = 403, description = "Only the sender edits a message"),
        (status = 404, description = "No such message"),
        (status = 409, description = "The message is deleted"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn edit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
    Json(body): Json<EditMessageRequest>,
) -> ApiResult<Message> {
    applied_or_queued(state.services.messages.edit(&actor, id, body).await?)
}

/// # `DELETE /v1/messages/{id}`
#[utoipa::path(
    delete,
    path = "/v1/messages/{id}",
    tag = "messages",
    summary = "Delete a message (its slot stays)",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "The message, deleted", body = Message),
        (status = 202, description = "Queued for the conversation's host, which did not answer in time: the message as it stands (`state: pending`); `message:deleted` follows", body = Message),
        (status = 403, description = "Only the sender deletes a message"),
        (status = 404, description = "No such message"),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Message> {
    applied_or_queued(state.services.messages.delete(&actor, id).await?)
}

/// # `DELETE /v1/messages/{id}/hard`
#[utoipa::path(
    delete,
    path = "/v1/messages/{id}/hard",
    tag = "messages",
    summary = "Remove a message entirely",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "Removed", body = Null),
        (status = 202, description = "Queued for the conversation's host, which did not answer in time: `message:deleted` follows", body = Null),
        (status = 403, description = "Only the sender, an owner or an admin removes a message"),
        (status = 404, description = "No such message"),
    ),
)]
pub(crate) async fn hard_delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<()> {
    match state.services.messages.erase(&actor, id).await? {
        Taken::Applied => ok(()),
        Taken::Queued => accepted(()),
    }
}

/// # `POST /v1/messages/{id}/read`
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/read",
    tag = "messages",
    summary = "Mark a message read",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "The caller's receipt", body = Receipt),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such message"),
    ),
)]
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Receipt> {
    ok(state.services.messages.mark_read(&actor, id).await?)
}

/// # `POST /v1/messages/{id}/delivered`
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/delivered",
    tag = "messages",
    summary = "Acknowledge a message on this device (it leaves the undelivered queue)",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "The caller's receipt", body = Receipt),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such message"),
    ),
)]
pub(crate) async fn mark_delivered(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Receipt> {
    ok(state.services.messages.mark_delivered(&actor, id).await?)
}

/// # `POST /v1/messages/{id}/forward`
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/forward",
    tag = "messages",
    summary = "Forward a message to another conversation",
    params(("id" = MessageId, Path, description = "The message")),
    request_body = ForwardMessageRequest,
    responses(
        (status = 201, description = "The forwarded copy", body = Message),
        (status = 403, description = "Not a participant of either conversation"),
        (status = 404, description = "No such message or conversation"),
        (status = 409, description = "The message is deleted"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn forward(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
    Json(body): Json<ForwardMessageRequest>,
) -> ApiResult<Message> {
    created(state.services.messages.forward(&actor, id, body).await?)
}

/// # `GET /v1/messages/{id}/reactions`
#[utoipa::path(
    get,
    path = "/v1/messages/{id}/reactions",
    tag = "messages",
    summary = "A message's reactions",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "The reactions", body = ReactionList),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such message"),
    ),
)]
pub(crate) async fn reactions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<ReactionList> {
    ok(state.services.messages.reactions(&actor, id)?)
}

/// # `POST /v1/messages/{id}/reactions`
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/reactions",
    tag = "messages",
    summary = "React to a message",
    params(("id" = MessageId, Path, description = "The message")),
    request_body = ReactRequest,
    responses(
        (status = 201, description = "The message's reactions", body = ReactionList),
        (status = 202, description = "Queued for the conversation's host, which did not answer in time: the reactions as they stand (`state: pending`)", body = ReactionList),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such message"),
        (status = 409, description = "The message is deleted"),
    ),
)]
pub(crate) async fn react(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
    Json(body): Json<ReactRequest>,
) -> ApiResult<ReactionList> {
    let reactions = state.services.messages.react(&actor, id, &body.emoji).await?;
    match reactions.state {
        Some(_) => accepted(reactions),
        None => created(reactions),
    }
}

/// # `DELETE /v1/messages/{id}/reactions/{emoji}`
#[utoipa::path(
    delete,
    path = "/v1/messages/{id}/reactions/{emoji}",
    tag = "messages",
    summary = "Take a reaction back",
    params(
        ("id" = MessageId, Path, description = "The message"),
        ("emoji" = String, Path, description = "The emoji, percent-encoded"),
    ),
    responses(
        (status = 200, description = "The message's reactions", body = ReactionList),
        (status = 202, description = "Queued for the conversation's host, which did not answer in time: the reactions as they stand (`state: pending`)", body = ReactionList),
        (status = 403, description = "The caller is not a participant of the conversation"),
        (status = 404, description = "No such message, or no such reaction of the caller"),
    ),
)]
pub(crate) async fn unreact(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> ApiResult<ReactionList> {
    let reactions = state.services.messages.unreact(&actor, id, &emoji).await?;
    match reactions.state {
        Some(_) => accepted(reactions),
        None => ok(reactions),
    }
}

/// 200 with the changed message, or 202 with it as it stands while the change waits for the
/// conversation's host (`state: pending`).
fn applied_or_queued(message: Message) -> ApiResult<Message> {
    match message.state {
        Some(_) => accepted(message),
        None => ok(message),
    }
}
