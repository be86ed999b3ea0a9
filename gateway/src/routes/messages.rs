use axum::extract::State;
use protocol::MessageId;
use protocol::api::{
    EditMessageRequest, ForwardMessageRequest, Message, MessagePage, MessageQuery, ReactRequest, ReactionList, Receipt,
    SendMessageRequest,
};

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/messages`
/// Answered only once the message is on disk. A resend of the same `client_message_id` answers with
/// the original message, so a client may retry after any failure.
pub(crate) async fn send(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<SendMessageRequest>,
) -> ApiResult<Message> {
    created(state.services.messages.send(&actor, body).await?)
}

/// # `GET /v1/messages?conversation_id=&before_seq=&after_seq=&limit=`
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<MessageQuery>,
) -> ApiResult<MessagePage> {
    ok(state.services.messages.list(&actor, query)?)
}

/// # `GET /v1/messages/{id}`
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Message> {
    ok(state.services.messages.get(&actor, id)?)
}

/// # `PUT /v1/messages/{id}`
pub(crate) async fn edit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
    Json(body): Json<EditMessageRequest>,
) -> ApiResult<Message> {
    ok(state.services.messages.edit(&actor, id, body).await?)
}

/// # `DELETE /v1/messages/{id}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Message> {
    ok(state.services.messages.delete(&actor, id).await?)
}

/// # `DELETE /v1/messages/{id}/hard`
pub(crate) async fn hard_delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<()> {
    ok(state.services.messages.hard_delete(&actor, id).await?)
}

/// # `POST /v1/messages/{id}/read`
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Receipt> {
    ok(state.services.messages.mark_read(&actor, id).await?)
}

/// # `POST /v1/messages/{id}/delivered`
pub(crate) async fn mark_delivered(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Receipt> {
    ok(state.services.messages.mark_delivered(&actor, id).await?)
}

/// # `POST /v1/messages/{id}/forward`
pub(crate) async fn forward(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
    Json(body): Json<ForwardMessageRequest>,
) -> ApiResult<Message> {
    created(state.services.messages.forward(&actor, id, body).await?)
}

/// # `GET /v1/messages/{id}/reactions`
pub(crate) async fn reactions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<ReactionList> {
    ok(state.services.messages.reactions(&actor, id)?)
}

/// # `POST /v1/messages/{id}/reactions`
pub(crate) async fn react(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<MessageId>,
    Json(body): Json<ReactRequest>,
) -> ApiResult<ReactionList> {
    created(state.services.messages.react(&actor, id, &body.emoji).await?)
}

/// # `DELETE /v1/messages/{id}/reactions/{emoji}`
pub(crate) async fn unreact(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> ApiResult<ReactionList> {
    ok(state.services.messages.unreact(&actor, id, &emoji).await?)
}
