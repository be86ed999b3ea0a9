//! chats-axum's WebSocket events on `/ws` (a socket whose token came in the `Authorization` header).
//! Every frame is `{"type": <event>, "data": {…}}` (also accepted from the client: `"event"` for
//! `"type"`, and the fields at the top level). A client frame may carry a `request_id`, which the
//! answer (`ok` or `error`) repeats.
//!
//! Client events: `init`, `join_chat`, `leave_chat` (a chat the caller is a member of; the socket
//! carries every chat of the caller's either way), `send_message`, `voice_message`, `video_message`
//! (in the clear with `payload`, or end-to-end encrypted with one `envelopes` entry per recipient
//! device), `edit_message`, `delete_message`, `forward_message`, `typing`. Server events: `ok`,
//! `error`, `message_new`, `message_updated`, `message_deleted`, `typing`, `presence`, and the
//! membership events `member_added`, `member_removed`, `member_role_changed`. On connect the
//! socket first carries what the device has not yet marked delivered (`POST /chats/{id}/delivered`).

use std::collections::HashSet;

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use node::{Actor, Subscription};
use protocol::api::{DeviceCiphertext, EditMessageRequest, ForwardMessageRequest, SendMessageRequest, Timestamp};
use protocol::ws::{MembershipEvent, MessageEvent, ServerFrame};
use protocol::{ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Error;
use super::chats::missing;
use super::shapes::{ChatMessage, Envelope};
use crate::extract::parse_json;
use crate::ws::{self, TRY_AGAIN_LATER, close};
use crate::{ApiError, AppState};

/// A client frame.
#[derive(Debug, Deserialize)]
struct Incoming {
    #[serde(alias = "event", rename = "type")]
    kind: String,
    #[serde(default)]
    request_id: Option<Value>,
    #[serde(default)]
    data: Option<Fields>,
    #[serde(flatten)]
    fields: Fields,
}

/// The fields of every client event; each event reads the ones it needs.
#[derive(Debug, Default, Deserialize)]
struct Fields {
    #[serde(default)]
    chat_id: Option<ConversationId>,
    #[serde(default)]
    message_id: Option<MessageId>,
    #[serde(default, alias = "content", alias = "text")]
    payload: Option<String>,
    #[serde(default)]
    envelopes: Option<Vec<Envelope>>,
    #[serde(default)]
    client_message_id: Option<ClientMessageId>,
    #[serde(default)]
    reply_to: Option<MessageId>,
    #[serde(default)]
    is_typing: Option<bool>,
}

/// A server frame.
#[derive(Debug, Serialize)]
struct Outgoing {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<Value>,
    data: Value,
}

impl Outgoing {
    fn event(kind: &'static str, data: Value) -> Self {
        Self {
            kind,
            request_id: None,
            data,
        }
    }
}

/// A message as this socket's device reads it: with its own envelope when encrypted.
fn message_data(event: &MessageEvent, device: DeviceId) -> Value {
    let envelope = (event.encrypted).then(|| Envelope {
        device_id: device,
        ciphertext: event.content.clone(),
        header: event.header.clone(),
    });
    json!({
        "id": event.message_id,
        "chat_id": event.conversation_id,
        "sender_id": event.sender_id,
        "sender_device_id": event.sender_device_id,
        "seq": event.sequence_number,
        "type": event.message_type,
        "payload": event.body,
        "encrypted": event.encrypted,
        "envelope": envelope,
        "client_message_id": event.client_message_id,
        "reply_to": event.reply_to,
        "forwarded_from": event.forwarded_from,
        "created_at": event.created_at,
    })
}

/// The frame for a node event, if this socket passes it on.
fn translated(frame: ServerFrame, device: DeviceId) -> Option<Outgoing> {
    let typing = |user: UserId, chat: ConversationId, is_typing: bool| json!({ "user_id": user, "chat_id": chat, "is_typing": is_typing });
    let presence = |user: UserId, online: bool, at: Timestamp| json!({ "user_id": user, "status": if online { "online" } else { "offline" }, "last_seen": (!online).then_some(at) });
    Some(match frame {
        ServerFrame::MessageNew(event) => Outgoing::event("message_new", message_data(&event, device)),
        ServerFrame::MessageUpdated(event) => Outgoing::event("message_updated", message_data(&event, device)),
        ServerFrame::MessageDeleted {
            conversation_id,
            message_id,
            user_id,
            ..
        } => Outgoing::event(
            "message_deleted",
            json!({ "chat_id": conversation_id, "message_id": message_id, "deleted_by": user_id }),
        ),
        ServerFrame::TypingStarted(event) | ServerFrame::TypingStopped(event) => {
            Outgoing::event("typing", typing(event.user_id, event.conversation_id, event.is_typing))
        }
        ServerFrame::PresenceOnline(event) | ServerFrame::PresenceOffline(event) => {
            Outgoing::event("presence", presence(event.user_id, event.is_online, event.timestamp))
        }
        ServerFrame::ParticipantAdded(event) => Outgoing::event("member_added", membership(&event)),
        ServerFrame::ParticipantRemoved(event) => Outgoing::event("member_removed", membership(&event)),
        ServerFrame::ParticipantRole(event) => Outgoing::event("member_role_changed", membership(&event)),
        _ => return None,
    })
}

fn membership(event: &MembershipEvent) -> Value {
    json!({ "chat_id": event.conversation_id, "user_id": event.user_id, "role": event.role, "by": event.by })
}

/// Runs an authenticated chats-axum socket until it closes.
pub(crate) async fn run(mut socket: WebSocket, state: AppState, actor: Actor, subscription: Subscription) {
    let missed = match state.services.messages.undelivered(&actor) {
        Ok(missed) => missed,
        Err(err) => {
            let _ = send(&mut socket, &error(None, err.into())).await;
            return close(socket, TRY_AGAIN_LATER, "could not read missed messages").await;
        }
    };
    let replayed: HashSet<MessageId> = missed.iter().map(|event| event.message_id).collect();
    for event in missed {
        if send(
            &mut socket,
            &Outgoing::event("message_new", message_data(&event, actor.device_id)),
        )
        .await
        .is_err()
        {
            return;
        }
    }
    let mut dialect = ChatsAxum {
        state: &state,
        actor: &actor,
        replayed,
    };
    ws::serve(socket, &state, &actor, subscription, &mut dialect).await;
}

struct ChatsAxum<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    /// Messages the replay carried: sent once even when they also arrive live.
    replayed: HashSet<MessageId>,
}

impl ws::Dialect for ChatsAxum<'_> {
    async fn event(&mut self, socket: &mut WebSocket, frame: ServerFrame) -> Result<(), axum::Error> {
        match frame {
            ServerFrame::MessageNew(event) if self.replayed.contains(&event.message_id) => Ok(()),
            frame => match translated(frame, self.actor.device_id) {
                Some(frame) => queue(socket, &frame).await,
                None => Ok(()),
            },
        }
    }

    async fn text(&mut self, socket: &mut WebSocket, text: &[u8]) -> Result<(), axum::Error> {
        queue(socket, &handle(self.state, self.actor, text).await).await
    }

    async fn binary(&mut self, socket: &mut WebSocket) -> Result<(), axum::Error> {
        let refusal = ApiError::bad_request("binary frames are not supported; send JSON text");
        queue(socket, &error(None, refusal.into())).await
    }
}

/// Acts on one client event and answers `ok` (with what it made) or `error`.
async fn handle(state: &AppState, actor: &Actor, text: &[u8]) -> Outgoing {
    let frame = match parse_json::<Incoming>(text) {
        Ok(frame) => frame,
        Err(err) => return error(None, err.into()),
    };
    let request_id = frame.request_id.clone();
    let fields = frame.data.unwrap_or(frame.fields);
    match act(state, actor, &frame.kind, fields).await {
        Ok(data) => Outgoing {
            kind: "ok",
            request_id,
            data,
        },
        Err(err) => error(request_id, err),
    }
}

async fn act(state: &AppState, actor: &Actor, kind: &str, fields: Fields) -> Result<Value, Error> {
    let services = &state.services;
    let chat = || fields.chat_id.ok_or_else(|| Error::from(missing("chat_id")));
    let message = || fields.message_id.ok_or_else(|| Error::from(missing("message_id")));
    match kind {
        "init" => Ok(json!({ "user_id": actor.user_id, "device_id": actor.device_id })),
        "join_chat" | "leave_chat" => {
            services.conversations.get(actor, chat()?)?;
            Ok(json!({ "chat_id": fields.chat_id }))
        }
        "send_message" | "voice_message" | "video_message" => {
            let message_type = match kind {
                "voice_message" => MessageType::Audio,
                "video_message" => MessageType::Video,
                _ => MessageType::Text,
            };
            let request = SendMessageRequest {
                conversation_id: chat()?,
                ciphertexts: ciphertexts(fields.envelopes),
                body: fields.payload,
                message_type,
                client_message_id: fields.client_message_id.unwrap_or_else(ClientMessageId::random),
                reply_to: fields.reply_to,
                mentions: Vec::new(),
            };
            if !crate::limits::allow_socket_send(state, actor.user_id) {
                return Err(rate_limited());
            }
            let stored = services.messages.send(actor, request).await?;
            Ok(json!(ChatMessage::from(&stored)))
        }
        "edit_message" => {
            let request = EditMessageRequest {
                ciphertexts: ciphertexts(fields.envelopes),
                body: fields.payload,
            };
            let edited = services.messages.edit(actor, message()?, request).await?;
            Ok(json!(ChatMessage::from(&edited)))
        }
        "delete_message" => {
            let deleted = services.messages.delete(actor, message()?).await?;
            Ok(json!(ChatMessage::from(&deleted)))
        }
        "forward_message" => {
            let request = ForwardMessageRequest {
                conversation_id: chat()?,
                ciphertexts: ciphertexts(fields.envelopes),
                body: fields.payload,
                message_type: None,
                client_message_id: fields.client_message_id.unwrap_or_else(ClientMessageId::random),
            };
            if !crate::limits::allow_socket_send(state, actor.user_id) {
                return Err(rate_limited());
            }
            let forwarded = services.messages.forward(actor, message()?, request).await?;
            Ok(json!(ChatMessage::from(&forwarded)))
        }
        "typing" => {
            services
                .presence
                .typing(actor, chat()?, fields.is_typing.unwrap_or(true))?;
            Ok(json!({}))
        }
        other => Err(ApiError::bad_request(format!("unsupported event {other:?}")).into()),
    }
}

fn ciphertexts(envelopes: Option<Vec<Envelope>>) -> Vec<DeviceCiphertext> {
    envelopes
        .unwrap_or_default()
        .into_iter()
        .map(|envelope| DeviceCiphertext {
            recipient_device_id: envelope.device_id,
            ciphertext: envelope.ciphertext,
            header: envelope.header,
        })
        .collect()
}

fn rate_limited() -> Error {
    ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMIT_EXCEEDED",
        "Rate limit exceeded",
    )
    .into()
}

fn error(request_id: Option<Value>, err: Error) -> Outgoing {
    Outgoing {
        kind: "error",
        request_id,
        data: json!({ "message": err.message() }),
    }
}

/// Queues a frame; the session loop writes it out.
async fn queue(socket: &mut WebSocket, frame: &Outgoing) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).expect("frames serialise");
    socket.feed(WsMessage::Text(Utf8Bytes::from(text))).await
}

async fn send(socket: &mut WebSocket, frame: &Outgoing) -> Result<(), axum::Error> {
    queue(socket, frame).await?;
    socket.flush().await
}
