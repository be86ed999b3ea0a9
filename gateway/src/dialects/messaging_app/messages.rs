//! `/api/messages`: sending (to a user, whose one-to-one conversation is opened as needed, or to a
//! conversation) and reading a conversation page by page, with the document's message-id cursors,
//! filters and `X-Pagination-*` headers.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use node::Actor;
use protocol::api::{
    ConversationKind, CreateConversationRequest, DeliveryState, Message, MessageQuery, SendMessageRequest, Timestamp,
    UserRef,
};
use protocol::{ClientMessageId, ConversationId, MessageId, MessageType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{MessageOut, Metadata};
use super::{ErrorBody, Extracted, Result, TAG};
use crate::extract::{Auth, Json, Query};
use crate::{ApiError, AppState};

/// Node pages read at most to fill one page of a `status` filter.
const STATUS_SCAN_PAGES: usize = 10;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send, list))
}

/// `receiver_id` for a one-to-one message (the document's form), or `conversation_id` for any
/// conversation the caller takes part in (a group's included).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MessagingAppSend)]
pub(super) struct Send {
    /// A user id, or a handle `username@node` of another node's user.
    #[serde(default)]
    receiver_id: Option<UserRef>,
    #[serde(default)]
    conversation_id: Option<ConversationId>,
    /// The text (at most 64 KiB), stored in the clear.
    #[schema(min_length = 1, max_length = 65536, format = "opaque")]
    content: String,
    /// `text` when absent.
    #[serde(default, rename = "type")]
    kind: MessageType,
    #[serde(default)]
    metadata: Metadata,
}

/// `GET /api/messages`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// The conversation to read (required: messages live in conversations).
    #[param(required = true)]
    conversation_id: Option<ConversationId>,
    /// 50 by default, at most 100.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Only messages older than this one (the `next_cursor` of the page before).
    #[serde(default)]
    before: Option<MessageId>,
    /// Only messages newer than this one.
    #[serde(default)]
    after: Option<MessageId>,
    /// `sent`, `delivered` or `read`.
    #[serde(default)]
    status: Option<DeliveryState>,
    /// A message type, e.g. `text`.
    #[serde(default, rename = "type")]
    kind: Option<MessageType>,
    /// A date (`2024-03-01`, from its start) or an RFC 3339 time.
    #[serde(default)]
    #[param(format = "date-or-date-time")]
    from: Option<String>,
    /// A date (`2024-03-20`, to its end) or an RFC 3339 time.
    #[serde(default)]
    #[param(format = "date-or-date-time")]
    to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessagingAppMessagePage)]
pub(super) struct Page {
    /// Oldest first.
    messages: Vec<MessageOut>,
    has_more: bool,
    /// The id to pass as `before` (or, reading forwards with `after`, as `after`) for the next page.
    next_cursor: Option<MessageId>,
}

/// # `POST /api/messages`
#[utoipa::path(
    post,
    path = "/api/messages",
    tag = TAG,
    summary = "Send a message (messaging-app)",
    request_body = Send,
    responses(
        (status = 201, description = "The stored message, `status` `sent`", body = MessageOut),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Not a participant, blocked, or the node refuses messages in the clear", body = ErrorBody),
        (status = 404, description = "No such user or conversation", body = ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = ErrorBody),
        (status = 422, description = "A field is invalid (`details.field` names it), or neither or both of `receiver_id` and `conversation_id`", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 503, description = "The conversation's host node cannot be reached; retry", body = ErrorBody),
    ),
)]
pub(crate) async fn send(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<Send>>,
) -> Result<(StatusCode, JsonAnswer<MessageOut>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let (conversation_id, receiver) = match (body.receiver_id, body.conversation_id) {
        (Some(receiver), None) => {
            let request = CreateConversationRequest {
                kind: ConversationKind::Dm,
                subject: None,
                description: None,
                participants: vec![receiver],
                settings: None,
            };
            let (dm, _) = state.services.conversations.create(&actor, request).await?;
            (dm.id, other_member(&state, &actor, dm.id)?)
        }
        (None, Some(conversation)) => (conversation, None),
        _ => {
            return Err(
                ApiError::validation("receiver_id: give exactly one of receiver_id and conversation_id").into(),
            );
        }
    };
    let request = SendMessageRequest {
        conversation_id,
        ciphertexts: Vec::new(),
        body: Some(body.content),
        message_type: body.kind,
        client_message_id: ClientMessageId::random(),
        reply_to: body.metadata.reply_to,
        mentions: body.metadata.mentions,
    };
    let message = state.services.messages.send(&actor, request).await?;
    let mut out = MessageOut::new(&message, DeliveryState::Sent);
    out.receiver_id = receiver;
    Ok((StatusCode::CREATED, JsonAnswer(out)))
}

/// The other participant of a one-to-one conversation.
fn other_member(state: &AppState, actor: &Actor, id: ConversationId) -> Result<Option<protocol::UserId>> {
    let members = state.services.conversations.participants(actor, id)?;
    Ok(members
        .participants
        .into_iter()
        .map(|p| p.user_id)
        .find(|user| *user != actor.user_id))
}

/// # `GET /api/messages`
///
/// A page of one conversation, oldest first, with `X-Pagination-Total` (the conversation's sequence
/// numbers so far: messages erased since still count), `X-Pagination-Pages`,
/// `X-Pagination-Current-Page` (counted from the newest) and `X-Pagination-Per-Page`.
#[utoipa::path(
    get,
    path = "/api/messages",
    tag = TAG,
    summary = "Read a conversation's messages (messaging-app)",
    params(ListQuery),
    responses(
        (status = 200, description = "The page", body = Page, headers(
            ("X-Pagination-Total" = u64, description = "Messages in the conversation"),
            ("X-Pagination-Pages" = u64, description = "Pages of `limit` messages"),
            ("X-Pagination-Current-Page" = u64, description = "This page's number, from the newest"),
            ("X-Pagination-Per-Page" = u64, description = "`limit`"),
        )),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Not a participant", body = ErrorBody),
        (status = 404, description = "No such conversation, or a cursor not of it", body = ErrorBody),
        (status = 422, description = "No `conversation_id`, or a bad `limit`, `from` or `to`", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    query: Extracted<Query<ListQuery>>,
) -> Result<(HeaderMap, JsonAnswer<Page>)> {
    let (Auth(actor), Query(query)) = (auth?, query?);
    let conversation = query.conversation_id.ok_or_else(|| {
        ApiError::validation("conversation_id: required (messages are read one conversation at a time)")
    })?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit: must be 1 to 100").into());
    }
    let seq_of = |id: MessageId| crate::dialects::sequence_of(&state, &actor, conversation, id);
    let forward = query.after.is_some() && query.before.is_none();
    let mut node_query = MessageQuery {
        conversation_id: conversation,
        before_seq: query.before.map(&seq_of).transpose()?,
        after_seq: query.after.map(&seq_of).transpose()?,
        limit: Some(limit),
        cursor: None,
        message_type: query.kind,
        from: query
            .from
            .as_deref()
            .map(|text| moment("from", text, false))
            .transpose()?,
        to: query.to.as_deref().map(|text| moment("to", text, true)).transpose()?,
    };
    let mut messages: Vec<(Message, DeliveryState)> = Vec::new();
    let mut has_more = false;
    for _ in 0..STATUS_SCAN_PAGES {
        let page = state.services.messages.list(&actor, node_query.clone())?;
        for message in page.messages {
            let status = state.services.messages.delivery_state(&actor, &message)?;
            if query.status.is_none_or(|wanted| wanted == status) {
                messages.push((message, status));
            }
        }
        has_more = page.has_more;
        if query.status.is_none() || !has_more || messages.len() >= limit as usize {
            break;
        }
        node_query.cursor = page.next_cursor;
    }
    if messages.len() > limit as usize {
        // A status filter filled more than a page: keep the ones nearest the cursor.
        let extra = messages.len() - limit as usize;
        if forward {
            messages.truncate(limit as usize);
        } else {
            messages.drain(..extra);
        }
        has_more = true;
    }
    messages.sort_by_key(|(message, _)| message.sequence_number);
    let edge = if forward { messages.last() } else { messages.first() };
    let next_cursor = has_more.then(|| edge.map(|(message, _)| message.id)).flatten();
    let total = state.services.conversations.get(&actor, conversation)?.last_sequence;
    let newest_here = messages.last().map_or(total, |(message, _)| message.sequence_number);
    let headers = pagination(total, limit, total.saturating_sub(newest_here));
    let page = Page {
        messages: messages
            .iter()
            .map(|(message, status)| MessageOut::new(message, *status))
            .collect(),
        has_more,
        next_cursor,
    };
    Ok((headers, JsonAnswer(page)))
}

/// The `X-Pagination-*` headers of a page whose newest message has `newer` messages after it.
fn pagination(total: u64, per_page: u32, newer: u64) -> HeaderMap {
    let per_page = u64::from(per_page);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-pagination-total", total),
        ("x-pagination-pages", total.div_ceil(per_page).max(1)),
        ("x-pagination-current-page", newer / per_page + 1),
        ("x-pagination-per-page", per_page),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    headers
}

/// A `from` or `to`: an RFC 3339 time, or a date meaning its first (`from`) or last (`to`) moment.
fn moment(field: &str, text: &str, end_of_day: bool) -> std::result::Result<Timestamp, ApiError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::validation(format!("{field}: expected a date (2024-03-01) or an RFC 3339 time")))?;
    let time = if end_of_day {
        NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999)
    } else {
        Some(NaiveTime::MIN)
    };
    let moment = date.and_time(time.unwrap_or(NaiveTime::MIN)).and_utc();
    Ok(moment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_cover_whole_days() {
        let from = moment("from", "2024-03-01", false).unwrap();
        let to = moment("to", "2024-03-20", true).unwrap();
        assert_eq!(from.to_rfc3339(), "2024-03-01T00:00:00+00:00");
        assert_eq!(to.date_naive().to_string(), "2024-03-20");
        assert!(to > moment("to", "2024-03-20T23:59:59Z", false).unwrap());
        assert!(moment("from", "March 1st", false).is_err());
    }

    #[test]
    fn pages_are_counted_from_the_newest() {
        let headers = pagination(1000, 50, 0);
        assert_eq!(headers["x-pagination-pages"], "20");
        assert_eq!(headers["x-pagination-current-page"], "1");
        assert_eq!(pagination(1000, 50, 120)["x-pagination-current-page"], "3");
        assert_eq!(pagination(0, 50, 0)["x-pagination-pages"], "1");
    }
}
