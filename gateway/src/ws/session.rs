//! The loop every WebSocket dialect (`/v1/ws`, chats-axum's and simple-chat's `/ws`) runs once its
//! client is authenticated and has been sent what it missed: the node's events out, the client's frames
//! in, a ping every [`HEARTBEAT`], the socket closed after [`IDLE_TIMEOUT`] of silence or when the node
//! drops the subscription (session ended, client too slow), and the user's presence announced on the
//! way in and out. The dialects differ only in how they write events and answer frames ([`Dialect`]).
//!
//! Dialects queue their frames on the socket; this loop writes them out, once for every frame that was
//! waiting: under load a socket's events arrive faster than one write each, and each write is a system
//! call.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use node::{Actor, Subscription};
use protocol::ws::ServerFrame;
use tokio::time::{Instant, interval};

use super::{
    HEARTBEAT, IDLE_TIMEOUT, POLICY_VIOLATION, TRY_AGAIN_LATER, announce, answer_read_error, close, went_offline,
};
use crate::AppState;

/// At most this many waiting events go out in one write, so a busy socket still reads its client.
const MAX_BATCH: usize = 64;

/// What a dialect queues on the socket (the loop flushes). An error from any of them means the socket
/// is gone.
pub(crate) trait Dialect {
    /// Queues one of the node's events as the dialect shows it, or nothing.
    async fn event(&mut self, socket: &mut WebSocket, frame: ServerFrame) -> Result<(), axum::Error>;
    /// Acts on one text frame from the client and queues the answer, if the dialect has one.
    async fn text(&mut self, socket: &mut WebSocket, text: &[u8]) -> Result<(), axum::Error>;
    /// Queues the dialect's refusal of a binary frame.
    async fn binary(&mut self, socket: &mut WebSocket) -> Result<(), axum::Error>;
}

/// Queues `first` and every event already waiting behind it (up to [`MAX_BATCH`]), then writes them.
async fn write_events(
    socket: &mut WebSocket,
    frames: &mut tokio::sync::mpsc::Receiver<Arc<ServerFrame>>,
    dialect: &mut impl Dialect,
    first: ServerFrame,
) -> Result<(), axum::Error> {
    dialect.event(socket, first).await?;
    for _ in 1..MAX_BATCH {
        // An ended subscription shows on the loop's next receive.
        let Ok(frame) = frames.try_recv() else { break };
        dialect.event(socket, Arc::unwrap_or_clone(frame)).await?;
    }
    socket.flush().await
}

/// Runs an authenticated socket until it closes.
pub(crate) async fn serve(
    mut socket: WebSocket,
    state: &AppState,
    actor: &Actor,
    mut subscription: Subscription,
    dialect: &mut impl Dialect,
) {
    if subscription.first {
        announce(state, actor, true, None);
    }
    let mut heartbeat = interval(HEARTBEAT);
    heartbeat.reset();
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            frame = subscription.frames.recv() => match frame.map(Arc::unwrap_or_clone) {
                Some(frame) => {
                    if write_events(&mut socket, &mut subscription.frames, dialect, frame).await.is_err() {
                        break;
                    }
                }
                None => {
                    close(socket, TRY_AGAIN_LATER, "closed by the server (session ended or connection too slow); reconnect to resume").await;
                    drop(subscription);
                    return went_offline(state, actor);
                }
            },
            incoming = socket.recv() => {
                last_heard = Instant::now();
                let written = match incoming {
                    Some(Ok(Message::Text(text))) => dialect.text(&mut socket, text.as_bytes()).await,
                    Some(Ok(Message::Binary(_))) => dialect.binary(&mut socket).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                    Some(Err(err)) => {
                        answer_read_error(&mut socket, err).await;
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                };
                if written.is_err() || socket.flush().await.is_err() {
                    break;
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    close(socket, POLICY_VIOLATION, "idle timeout").await;
                    drop(subscription);
                    return went_offline(state, actor);
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(subscription);
    went_offline(state, actor);
}
