//! `GET /ws?token=`: the WebSocket of simple-chat and messaging-app, whose documents agree on its
//! frames: `{"type":"message","data":{…}}` (the union of both documents' fields),
//! `{"type":"typing","data":{user_id, conversation_id, is_typing}}` and
//! `{"type":"presence","data":{user_id, status, last_seen}}` (messaging-app's), and
//! `{"type":"error","message":…}`. The client's `{"type":"message","conversation_id"|"group_id",
//! "content"}` is a send in the clear, `{"type":"typing","conversation_id","is_typing"}` (or the same
//! under `data`) a typing indicator. There is no
//! acknowledgement frame in this dialect, so a message counts as delivered once it is written to the
//! socket; on connect the socket first carries what the device missed since its last connection. A
//! sent message comes back on the sender's socket too, as the document's server does, so the client
//! shows it once the node has stored it.

use std::collections::HashMap;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use node::{Actor, Subscription};
use protocol::api::Timestamp;
use protocol::ws::{MessageEvent, ServerFrame};
use protocol::{ConversationId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::chats::send;
use super::shapes::SocketMessage;
use super::{Error, ErrorBody, TAG};
use crate::extract::{Query, parse_json};
use crate::ws::{self, TRY_AGAIN_LATER, close, connect};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SocketParams {
    /// The access token (or send it as `Authorization: Bearer`).
    token: Option<String>,
}

/// What the client sends: a message for a one-to-one conversation or a group, or a typing indicator;
/// the fields at the top level or under `data`.
#[derive(Debug, Deserialize)]
struct Outgoing {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    fields: OutgoingFields,
    #[serde(default)]
    data: Option<OutgoingFields>,
}

#[derive(Debug, Default, Deserialize)]
struct OutgoingFields {
    #[serde(default)]
    conversation_id: Option<ConversationId>,
    #[serde(default)]
    group_id: Option<ConversationId>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    is_typing: Option<bool>,
}

/// What the node sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Incoming {
    Message { data: SocketMessage },
    Typing { data: Typing },
    Presence { data: Presence },
    Error { message: String },
}

#[derive(Debug, Serialize)]
struct Typing {
    user_id: UserId,
    conversation_id: ConversationId,
    is_typing: bool,
}

#[derive(Debug, Serialize)]
struct Presence {
    user_id: UserId,
    /// `online` or `offline`.
    status: &'static str,
    /// When the user went offline.
    last_seen: Option<Timestamp>,
}

/// The frame for a node event this socket passes on, if it passes it on.
fn translated(frame: ServerFrame) -> Option<Incoming> {
    match frame {
        ServerFrame::TypingStarted(event) | ServerFrame::TypingStopped(event) => Some(Incoming::Typing {
            data: Typing {
                user_id: event.user_id,
                conversation_id: event.conversation_id,
                is_typing: event.is_typing,
            },
        }),
        ServerFrame::PresenceOnline(event) | ServerFrame::PresenceOffline(event) => Some(Incoming::Presence {
            data: Presence {
                user_id: event.user_id,
                status: if event.is_online { "online" } else { "offline" },
                last_seen: (!event.is_online).then_some(event.timestamp),
            },
        }),
        _ => None,
    }
}

/// # `GET /ws`
///
/// Upgrades to the WebSocket of the `/api` dialects (simple-chat, messaging-app) when the access token
/// comes as `?token=`, or to chats-axum's events when it comes in the `Authorization: Bearer` header
/// (`crate::dialects::chats_axum::socket`).
#[utoipa::path(
    get,
    path = "/ws",
    tag = TAG,
    summary = "The WebSocket of simple-chat and messaging-app (`?token=`) and of chats-axum (`Authorization` header)",
    security(()),
    params(SocketParams),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many connections", body = ErrorBody),
    ),
)]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    query: std::result::Result<Query<SocketParams>, ApiError>,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => crate::ws::sized(upgrade),
        Err(rejection) => return Error::from(ApiError::bad_request(rejection.body_text())).into_response(),
    };
    let token = match query {
        Ok(Query(params)) => params.token,
        Err(err) => return Error::from(err).into_response(),
    };
    // The token's place says whose client this is: simple-chat and messaging-app put it in the query,
    // chats-axum in the Authorization header.
    let (token, frames) = match token {
        Some(token) => (token, Frames::SimpleChat),
        None => match headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok()) {
            Some(header) => (header.to_owned(), Frames::ChatsAxum),
            None => {
                let missing = ApiError::unauthorized("missing token: ?token= or Authorization: Bearer");
                return Error::from(missing).into_response();
            }
        },
    };
    match connect(&state, &token) {
        Ok((actor, subscription)) => upgrade.on_upgrade(move |socket| async move {
            match frames {
                Frames::SimpleChat => run(socket, state, actor, subscription).await,
                Frames::ChatsAxum => crate::dialects::chats_axum::socket::run(socket, state, actor, subscription).await,
            }
        }),
        Err(err) => Error::from(err).into_response(),
    }
}

/// Which documents' frames a socket speaks.
#[derive(Debug, Clone, Copy)]
enum Frames {
    SimpleChat,
    ChatsAxum,
}

/// Remembers whether each conversation seen on this socket is a group, for the frames' `group_id`.
struct Kinds<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    known: HashMap<ConversationId, bool>,
}

impl Kinds<'_> {
    fn is_group(&mut self, id: ConversationId) -> bool {
        *self.known.entry(id).or_insert_with(|| {
            self.state
                .services
                .conversations
                .get(self.actor, id)
                .is_ok_and(|c| c.kind != protocol::api::ConversationKind::Dm)
        })
    }
}

async fn run(mut socket: WebSocket, state: AppState, actor: Actor, subscription: Subscription) {
    let mut kinds = Kinds {
        state: &state,
        actor: &actor,
        known: HashMap::new(),
    };
    let missed = match state.services.messages.undelivered(&actor) {
        Ok(missed) => missed,
        Err(err) => {
            let _ = send_frame(&mut socket, &error(Error::from(err))).await;
            return close(socket, TRY_AGAIN_LATER, "could not read missed messages").await;
        }
    };
    for event in &missed {
        if deliver(&mut socket, &state, &actor, &mut kinds, event).await.is_err() {
            return;
        }
    }
    let mut dialect = SimpleChat {
        state: &state,
        actor: &actor,
        kinds,
        missed,
    };
    ws::serve(socket, &state, &actor, subscription, &mut dialect).await;
}

struct SimpleChat<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    kinds: Kinds<'a>,
    /// Messages sent on connect: sent once even when they also arrive live.
    missed: Vec<MessageEvent>,
}

impl ws::Dialect for SimpleChat<'_> {
    async fn event(&mut self, socket: &mut WebSocket, frame: ServerFrame) -> Result<(), axum::Error> {
        match frame {
            ServerFrame::MessageNew(event) if self.missed.iter().any(|m| m.message_id == event.message_id) => Ok(()),
            ServerFrame::MessageNew(event) => deliver(socket, self.state, self.actor, &mut self.kinds, &event).await,
            frame => match translated(frame) {
                Some(frame) => queue_frame(socket, &frame).await,
                None => Ok(()),
            },
        }
    }

    async fn text(&mut self, socket: &mut WebSocket, text: &[u8]) -> Result<(), axum::Error> {
        match handle(self.state, self.actor, text).await {
            Some(reply) => queue_frame(socket, &reply).await,
            None => Ok(()),
        }
    }

    async fn binary(&mut self, socket: &mut WebSocket) -> Result<(), axum::Error> {
        let refusal = ApiError::bad_request("binary frames are not supported; send JSON text");
        queue_frame(socket, &error(refusal.into())).await
    }
}

/// Writes one message to the socket and counts it delivered.
async fn deliver(
    socket: &mut WebSocket,
    state: &AppState,
    actor: &Actor,
    kinds: &mut Kinds<'_>,
    event: &MessageEvent,
) -> Result<(), axum::Error> {
    let group = kinds.is_group(event.conversation_id);
    let data = SocketMessage::new(event, group);
    send_frame(socket, &Incoming::Message { data }).await?;
    if let Err(err) = state.services.messages.mark_delivered(actor, event.message_id).await {
        tracing::warn!(message = %event.message_id, error = %err, "could not mark a message delivered");
    }
    Ok(())
}

/// Acts on one client frame: a send answers with the stored message, a typing indicator with nothing,
/// anything else with an error.
async fn handle(state: &AppState, actor: &Actor, text: &[u8]) -> Option<Incoming> {
    let frame = match parse_json::<Outgoing>(text) {
        Ok(frame) => frame,
        Err(err) => return Some(error(err.into())),
    };
    let fields = frame.data.unwrap_or(frame.fields);
    match frame.kind.as_str() {
        "message" => Some(send_message(state, actor, fields).await),
        "typing" => {
            let typing = match (fields.conversation_id.or(fields.group_id), fields.is_typing) {
                (Some(conversation), is_typing) => state
                    .services
                    .presence
                    .typing(actor, conversation, is_typing.unwrap_or(true))
                    .map_err(Error::from),
                (None, _) => Err(ApiError::validation("conversation_id is required").into()),
            };
            typing.err().map(error)
        }
        other => Some(error(
            ApiError::bad_request(format!("unsupported frame type {other:?}")).into(),
        )),
    }
}

async fn send_message(state: &AppState, actor: &Actor, frame: OutgoingFields) -> Incoming {
    if !crate::limits::allow_socket_send(state, actor.user_id) {
        return error(
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Rate limit exceeded",
            )
            .into(),
        );
    }
    let (id, group) = match (frame.conversation_id, frame.group_id) {
        (Some(id), None) => (id, false),
        (None, Some(id)) => (id, true),
        _ => {
            return error(ApiError::validation("exactly one of conversation_id and group_id is required").into());
        }
    };
    let Some(content) = frame.content else {
        return error(ApiError::validation("content is required").into());
    };
    match send(state, actor, id, content, group).await {
        Ok(data) => Incoming::Message {
            data: data.for_socket(),
        },
        Err(err) => error(err),
    }
}

fn error(err: Error) -> Incoming {
    Incoming::Error {
        message: err.message().to_owned(),
    }
}

/// Queues a frame; the session loop writes it out.
async fn queue_frame(socket: &mut WebSocket, frame: &Incoming) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).expect("frames serialise");
    socket.feed(Message::Text(Utf8Bytes::from(text))).await
}

/// Writes a frame, and any queued before it, now.
async fn send_frame(socket: &mut WebSocket, frame: &Incoming) -> Result<(), axum::Error> {
    queue_frame(socket, frame).await?;
    socket.flush().await
}
