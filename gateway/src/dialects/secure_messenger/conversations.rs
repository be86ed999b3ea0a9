//! `/api/v1/conversations`: creating one (P2P or group) and reading its encrypted history, a page at a
//! time, each message with the reader's own ciphertext (or its body, for one sent in the clear).

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::api::{
    Conversation, ConversationKind, CreateConversationRequest, Message, MessageQuery, Timestamp, UserRef,
};
use protocol::{Base64Bytes, ConversationId, DeviceId, MessageId, MessageType, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(messages))
}

/// `p2p` (one other participant) or `group`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[schema(as = SecureMessengerMode)]
#[serde(rename_all = "lowercase")]
pub(super) enum Mode {
    P2p,
    Group,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerNewConversation)]
pub(super) struct NewConversation {
    #[serde(rename = "type")]
    mode: Mode,
    /// A group's name.
    #[serde(default)]
    #[schema(max_length = 100)]
    name: Option<String>,
    /// The other participants: user ids, or handles `username@node`.
    participants: Vec<UserRef>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerConversation)]
pub(super) struct ConversationOut {
    id: ConversationId,
    #[serde(rename = "type")]
    mode: Mode,
    name: Option<String>,
    participants: Vec<UserId>,
    created_at: Timestamp,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// 50 by default, at most 100.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the page before.
    #[serde(default)]
    cursor: Option<String>,
}

/// A message as its reader sees it: the reader's own ciphertext and ratchet header, or the body of a
/// message sent in the clear.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerMessage)]
pub(super) struct MessageOut {
    id: MessageId,
    conversation_id: ConversationId,
    sender_id: UserId,
    sender_device_id: DeviceId,
    sequence_number: u64,
    #[serde(rename = "type")]
    kind: MessageType,
    #[schema(value_type = Option<String>)]
    ciphertext: Option<Base64Bytes>,
    #[schema(value_type = Option<String>)]
    header: Option<Base64Bytes>,
    body: Option<String>,
    encrypted: bool,
    created_at: Timestamp,
}

impl From<&Message> for MessageOut {
    fn from(message: &Message) -> Self {
        Self {
            id: message.id,
            conversation_id: message.conversation_id,
            sender_id: message.sender_id,
            sender_device_id: message.sender_device_id,
            sequence_number: message.sequence_number,
            kind: message.message_type,
            ciphertext: message.ciphertext.clone(),
            header: message.header.clone(),
            body: message.body.clone(),
            encrypted: message.encrypted,
            created_at: message.created_at,
        }
    }
}

/// A page of history, oldest first; `next_cursor` reads further back.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerHistory)]
pub(super) struct History {
    messages: Vec<MessageOut>,
    has_more: bool,
    next_cursor: Option<String>,
}

fn answer(state: &AppState, actor: &node::Actor, conversation: &Conversation) -> Result<ConversationOut> {
    let members = state.services.conversations.participants(actor, conversation.id)?;
    Ok(ConversationOut {
        id: conversation.id,
        mode: match conversation.kind {
            ConversationKind::Dm => Mode::P2p,
            _ => Mode::Group,
        },
        name: conversation.subject.clone(),
        participants: members.participants.iter().map(|p| p.user_id).collect(),
        created_at: conversation.created_at,
    })
}

/// # `POST /api/v1/conversations`
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    tag = TAG,
    summary = "Create a conversation, P2P or group (secure-messenger)",
    request_body = NewConversation,
    responses(
        (status = 201, description = "The conversation (an existing P2P one with the same user is returned)", body = ConversationOut),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "A participant blocked the caller", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<NewConversation>>,
) -> Result<(StatusCode, JsonAnswer<ConversationOut>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let request = CreateConversationRequest {
        kind: match body.mode {
            Mode::P2p => ConversationKind::Dm,
            Mode::Group => ConversationKind::Group,
        },
        subject: body.name,
        description: None,
        participants: body.participants,
        settings: None,
    };
    let (conversation, _) = state.services.conversations.create(&actor, request).await?;
    Ok((StatusCode::CREATED, JsonAnswer(answer(&state, &actor, &conversation)?)))
}

/// # `GET /api/v1/conversations/{id}/messages`
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    tag = TAG,
    summary = "A conversation's encrypted history (secure-messenger)",
    params(("id" = ConversationId, Path, description = "The conversation"), PageQuery),
    responses(
        (status = 200, description = "The newest messages (before `cursor`), oldest first", body = History),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Not a participant", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn messages(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    query: Extracted<Query<PageQuery>>,
) -> Result<JsonAnswer<History>> {
    let (Auth(actor), Path(id), Query(query)) = (auth?, id?, query?);
    let query = MessageQuery {
        conversation_id: id,
        before_seq: None,
        after_seq: None,
        limit: query.limit,
        message_type: None,
        from: None,
        to: None,
        cursor: query.cursor,
    };
    let page = state.services.messages.list(&actor, query)?;
    Ok(JsonAnswer(History {
        messages: page.messages.iter().map(MessageOut::from).collect(),
        has_more: page.has_more,
        next_cursor: page.next_cursor,
    }))
}
