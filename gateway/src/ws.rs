//! # `GET /v1/ws`
//! One socket per device connection. Authenticated by `?token=` or, failing that, by a first `auth`
//! frame. On connect the device first receives what it missed (its undelivered queue, or everything
//! after `since` per conversation), then `sync:complete`, then live events. A message that arrives live
//! while the replay runs is sent once.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use node::Actor;
use node::Subscription;
use protocol::api::SendMessageRequest;
use protocol::ws::{ClientFrame, ServerFrame, SignalKind};
use protocol::{ClientMessageId, ConversationId, MessageId};
use serde::Deserialize;
use tokio::time::timeout;
use utoipa::IntoParams;

mod session;

pub(crate) use session::{Dialect, serve};

use crate::extract::{Query, bearer, parse_json};
use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// How often the server pings an idle socket.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(30);
/// A socket silent for this long is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The read buffer a socket starts with; frames are small JSON.
const READ_BUFFER: usize = 4 * 1024;
/// How long an unauthenticated socket may wait before its `auth` frame.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) const POLICY_VIOLATION: u16 = 1008;
pub(crate) const MESSAGE_TOO_BIG: u16 = 1009;
pub(crate) const TRY_AGAIN_LATER: u16 = 1013;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WsParams {
    /// The access token (or send `Authorization: Bearer`); without either the first frame must be
    /// `{"type":"auth","token":…}`.
    token: Option<String>,
    /// Resume after these sequence numbers instead of replaying the undelivered queue:
    /// `conversation_id:seq` pairs, comma-separated.
    since: Option<String>,
}

fn parse_since(text: &str) -> Result<BTreeMap<ConversationId, u64>, ApiError> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (conversation, seq) = part
                .split_once(':')
                .ok_or_else(|| ApiError::validation("since: expected conversation_id:sequence pairs"))?;
            let conversation = conversation
                .parse()
                .map_err(|_| ApiError::validation(format!("since: {conversation} is not a conversation id")))?;
            let seq = seq
                .parse()
                .map_err(|_| ApiError::validation(format!("since: {seq} is not a sequence number")))?;
            Ok((conversation, seq))
        })
        .collect()
}

/// # `GET /v1/ws`
///
/// Upgrades to a WebSocket (`Connection: Upgrade`, `Upgrade: websocket`). Authenticate with
/// `?token=<access token>`, an `Authorization: Bearer` header, or, without either, a first frame
/// `{"type":"auth","token":…}` within 10 s. Every frame is a JSON text object tagged by `type`: the client sends `ClientFrame`s, the node
/// `ServerFrame`s (see the schemas). On connect the node sends `ready`, then what the device missed
/// (its undelivered queue, or everything after `since`), then `sync:complete`, then live events;
/// a device acknowledges each `message:new` with `message:delivered`. The node pings every 30 s and
/// closes a socket silent for 90 s; a user has at most 10 live connections.
#[utoipa::path(
    get,
    path = "/v1/ws",
    tag = "realtime",
    summary = "Open the WebSocket for live events",
    security(()),
    params(WsParams),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request"),
        (status = 401, description = "The `token` is invalid or expired, or its session ended"),
        (status = 422, description = "A malformed `since`"),
        (status = 429, description = "Too many live connections for the user (`TOO_MANY_CONNECTIONS`), or too many new ones (`RATE_LIMIT_EXCEEDED`)"),
    ),
)]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Query(params): Query<WsParams>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => sized(upgrade),
        Err(rejection) => return ApiError::bad_request(rejection.body_text()).into_response(),
    };
    let since = match params.since.as_deref().map(parse_since).transpose() {
        Ok(since) => since,
        Err(err) => return err.into_response(),
    };
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(token) = params.token.or(header) else {
        return upgrade.on_upgrade(move |socket| authenticate_then_run(socket, state, since));
    };
    match connect(&state, &token) {
        Ok((actor, subscription)) => upgrade.on_upgrade(move |socket| run(socket, state, actor, subscription, since)),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Every socket's limits: a message may be as large as a request body, and the read buffer starts
/// small (tungstenite's default of 128 KiB per socket was most of an idle socket's memory) and grows
/// only for a large message.
pub(crate) fn sized(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade.max_message_size(MAX_BODY_BYTES).read_buffer_size(READ_BUFFER)
}

/// Authenticates a token and registers the connection with the hub.
pub(crate) fn connect(state: &AppState, token: &str) -> node::Result<(Actor, Subscription)> {
    let token = bearer(token).ok_or(node::Error::Unauthorized("empty token"))?;
    let actor = state.services.auth.authenticate(token)?;
    let subscription = state
        .services
        .hub
        .subscribe(actor.user_id, actor.device_id, actor.session_id)?;
    Ok((actor, subscription))
}

async fn authenticate_then_run(mut socket: WebSocket, state: AppState, since: Option<BTreeMap<ConversationId, u64>>) {
    let first = match timeout(AUTH_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => parse_json::<ClientFrame>(text.as_bytes()).ok(),
        Ok(Some(Err(err))) => return answer_read_error(&mut socket, err).await,
        _ => None,
    };
    let Some(ClientFrame::Auth {
        token,
        since: frame_since,
    }) = first
    else {
        return close(
            socket,
            POLICY_VIOLATION,
            "the first frame must be {\"type\":\"auth\",\"token\":…}",
        )
        .await;
    };
    let since = frame_since.or(since);
    match connect(&state, &token) {
        Ok((actor, subscription)) => run(socket, state, actor, subscription, since).await,
        Err(err) => {
            let err = ApiError::from(err);
            let _ = send(&mut socket, &error_frame(&err, None)).await;
            close(socket, POLICY_VIOLATION, err.message()).await
        }
    }
}

async fn run(
    mut socket: WebSocket,
    state: AppState,
    actor: Actor,
    subscription: Subscription,
    since: Option<BTreeMap<ConversationId, u64>>,
) {
    let services = state.services.clone();
    if send(
        &mut socket,
        &ServerFrame::Ready {
            user_id: actor.user_id,
            device_id: actor.device_id,
        },
    )
    .await
    .is_err()
    {
        return;
    }
    let missed = match &since {
        Some(since) => services.messages.since(&actor, since),
        None => services.messages.undelivered(&actor),
    };
    let missed = match missed {
        Ok(missed) => missed,
        Err(err) => {
            let err = ApiError::from(err);
            let _ = send(&mut socket, &error_frame(&err, None)).await;
            return close(socket, TRY_AGAIN_LATER, "could not read missed messages").await;
        }
    };
    let replayed: HashSet<_> = missed.iter().map(|event| event.message_id).collect();
    let count = missed.len();
    for event in missed {
        if queue(&mut socket, &ServerFrame::MessageNew(event)).await.is_err() {
            return;
        }
    }
    if send(&mut socket, &ServerFrame::SyncComplete { replayed: count })
        .await
        .is_err()
    {
        return;
    }
    let mut dialect = V1 {
        state: &state,
        actor: &actor,
        replayed,
    };
    session::serve(socket, &state, &actor, subscription, &mut dialect).await;
}

/// `/v1/ws`'s own frames.
struct V1<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    /// Messages the replay carried: sent once even when they also arrive live.
    replayed: HashSet<MessageId>,
}

impl session::Dialect for V1<'_> {
    async fn event(&mut self, socket: &mut WebSocket, frame: ServerFrame) -> Result<(), axum::Error> {
        match frame {
            ServerFrame::MessageNew(event) if self.replayed.contains(&event.message_id) => Ok(()),
            frame => queue(socket, &frame).await,
        }
    }

    async fn text(&mut self, socket: &mut WebSocket, text: &[u8]) -> Result<(), axum::Error> {
        match handle(self.state, self.actor, text).await {
            Some(reply) => queue(socket, &reply).await,
            None => Ok(()),
        }
    }

    async fn binary(&mut self, socket: &mut WebSocket) -> Result<(), axum::Error> {
        let err = ApiError::bad_request("binary frames are not supported; send JSON text");
        queue(socket, &error_frame(&err, None)).await
    }
}

pub(crate) fn went_offline(state: &AppState, actor: &Actor) {
    if !state.services.hub.is_online(actor.user_id) {
        if let Err(err) = state.services.users.went_offline(actor.user_id) {
            tracing::warn!(user = %actor.user_id, error = %err, "recording last_seen failed");
        }
        announce(state, actor, false, None);
    }
}

pub(crate) fn announce(state: &AppState, actor: &Actor, online: bool, status: Option<&str>) {
    if let Err(err) = state.services.presence.announce(actor.user_id, online, status) {
        tracing::warn!(user = %actor.user_id, error = %err, "presence announcement failed");
    }
}

/// Acts on one client frame; the answer, if any, goes back on the same socket.
async fn handle(state: &AppState, actor: &Actor, text: &[u8]) -> Option<ServerFrame> {
    let frame = match parse_json::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(err) => return Some(refused(state, actor, text, err)),
    };
    let services = &state.services;
    let result = match frame {
        ClientFrame::SendMessage(request) => return Some(send_message(state, actor, request).await),
        ClientFrame::Delivered { message_id } => services.messages.mark_delivered(actor, message_id).await.map(drop),
        ClientFrame::Read { message_id } => services.messages.mark_read(actor, message_id).await.map(drop),
        ClientFrame::TypingStarted { conversation_id } => services.presence.typing(actor, conversation_id, true),
        ClientFrame::TypingStopped { conversation_id } => services.presence.typing(actor, conversation_id, false),
        ClientFrame::PresenceOnline { status } => services.presence.announce(actor.user_id, true, status.as_deref()),
        ClientFrame::PresenceOffline => services.presence.announce(actor.user_id, false, None),
        ClientFrame::CallOffer(signal) => services.calls.signal(actor, SignalKind::Offer, signal).await,
        ClientFrame::CallAnswer(signal) => services.calls.signal(actor, SignalKind::Answer, signal).await,
        ClientFrame::CallIce(signal) => services.calls.signal(actor, SignalKind::Ice, signal).await,
        ClientFrame::Ping => return Some(ServerFrame::Pong),
        ClientFrame::Auth { .. } => {
            return Some(error_frame(&ApiError::bad_request("already authenticated"), None));
        }
        _ => {
            return Some(error_frame(&ApiError::bad_request("unsupported frame type"), None));
        }
    };
    result.err().map(|err| error_frame(&ApiError::from(err), None))
}

/// Answers `message:send` with `message:ack` once the message is durable, or with an `error` naming the
/// send.
async fn send_message(state: &AppState, actor: &Actor, request: SendMessageRequest) -> ServerFrame {
    let client_message_id = request.client_message_id.clone();
    if !crate::limits::allow_socket_send(state, actor.user_id) {
        return error_frame(&rate_limited(), Some(client_message_id));
    }
    match state.services.messages.send(actor, request).await {
        Ok(message) => ServerFrame::MessageAck {
            client_message_id,
            message_id: message.id,
            conversation_id: message.conversation_id,
            sequence_number: message.sequence_number,
            created_at: message.created_at,
        },
        Err(err) => error_frame(&ApiError::from(err), Some(client_message_id)),
    }
}

/// Answers a frame that did not parse. A `message:send` still counts against the message budget, as a
/// REST send does before its body is read, and its error carries the `client_message_id` when that
/// much of the frame is readable, so the client learns which send failed.
fn refused(state: &AppState, actor: &Actor, text: &[u8], err: ApiError) -> ServerFrame {
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(text) else {
        return error_frame(&err, None);
    };
    if raw["type"] != "message:send" {
        return error_frame(&err, None);
    }
    let client_message_id = raw["client_message_id"]
        .as_str()
        .and_then(|id| ClientMessageId::new(id).ok());
    if !crate::limits::allow_socket_send(state, actor.user_id) {
        return error_frame(&rate_limited(), client_message_id);
    }
    // Inside the tagged frame serde loses the path to the field at fault; the body alone names it, as
    // the same body sent over REST would.
    let err = parse_json::<SendMessageRequest>(text).err().unwrap_or(err);
    error_frame(&err, client_message_id)
}

fn rate_limited() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMIT_EXCEEDED",
        "Rate limit exceeded",
    )
}

fn error_frame(err: &ApiError, client_message_id: Option<ClientMessageId>) -> ServerFrame {
    ServerFrame::Error {
        code: err.code().to_owned(),
        error: err.message().to_owned(),
        client_message_id,
    }
}

/// Queues a frame on the socket; it goes out with the next flush (the session loop's, or [`send`]'s).
async fn queue(socket: &mut WebSocket, frame: &ServerFrame) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).expect("server frames serialise");
    socket.feed(Message::Text(Utf8Bytes::from(text))).await
}

/// Writes a frame, and any queued before it, now.
async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> Result<(), axum::Error> {
    queue(socket, frame).await?;
    socket.flush().await
}

/// A socket whose read failed is closed; a message over the size limit is the client's to fix, so it is
/// told so (1009, with the limit) rather than left with a dropped connection.
pub(crate) async fn answer_read_error(socket: &mut WebSocket, err: axum::Error) {
    let too_big = err
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|err| matches!(err, tungstenite::Error::Capacity(_)));
    if too_big {
        let reason = format!("message too big: the limit is {MAX_BODY_BYTES} bytes");
        send_close(socket, MESSAGE_TOO_BIG, &reason).await;
    }
}

pub(crate) async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    send_close(&mut socket, code, reason).await;
}

async fn send_close(socket: &mut WebSocket, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes by the protocol.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
