//! The WebSocket listener: [`Client::listen`] starts one task per [`Listener`] that holds the socket,
//! decrypts each `message:new` through [`Client::receive`], acknowledges it (`message:delivered`)
//! once it is stored, and hands events out over a bounded channel. A dropped connection is reopened
//! with backoff; the node then replays the device's undelivered queue, and messages already stored
//! are acknowledged again without being decrypted twice.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::ws::{ClientFrame, ServerFrame};
use protocol::{ConversationId, DeviceId, MessageId};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::history::StoredMessage;

/// Events buffered for a slow consumer; past this the listener stops reading the socket.
const EVENT_BUFFER: usize = 256;
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a [`Listener`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A message for this device: decrypted, stored in the profile, and acknowledged to the node.
    Message(StoredMessage),
    /// The node has replayed everything this device missed; what follows is live.
    Synced {
        /// How many messages the replay carried (including ones already stored).
        replayed: usize,
    },
    /// A message that cannot be decrypted or whose sender's identity does not check out. It is
    /// acknowledged anyway, so the node does not replay it on every connection.
    Rejected {
        /// The message.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// The device that sent it.
        sender_device_id: DeviceId,
        /// Why.
        error: Error,
    },
    /// The connection dropped (or could not be opened); the listener tries again after `retry_in`.
    Disconnected {
        /// Why.
        error: Error,
        /// The wait before the next attempt.
        retry_in: Duration,
    },
    /// The listener stopped for good (the login is no longer accepted); nothing follows.
    Stopped {
        /// Why.
        error: Error,
    },
}

/// A running WebSocket listener of one device. Dropping it stops the listener.
#[derive(Debug)]
pub struct Listener {
    events: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
}

impl Client {
    /// Starts listening on the WebSocket: every message for this device is decrypted, stored and
    /// acknowledged, and handed out by the returned [`Listener`]. Must be called inside a Tokio runtime.
    pub fn listen(&self) -> Listener {
        let (sender, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(run(self.clone(), sender));
        Listener { events, task }
    }
}

impl Listener {
    /// The next event; `None` once the listener has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next received message, skipping connection events; a rejected message or the listener
    /// stopping comes out as an error, and `None` follows the stop.
    pub async fn next_message(&mut self) -> Option<Result<StoredMessage>> {
        loop {
            match self.next().await? {
                Event::Message(message) => return Some(Ok(message)),
                Event::Rejected { error, .. } | Event::Stopped { error } => return Some(Err(error)),
                Event::Synced { .. } | Event::Disconnected { .. } => {}
            }
        }
    }

    /// Stops the listener and waits until its task has ended (so the profile is no longer in use
    /// by it).
    pub async fn close(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How one connection ended.
enum Outcome {
    /// Nobody listens to the events any more.
    Unwanted,
    /// Try again later.
    Retry(Error),
    /// Give up.
    Fatal(Error),
}

async fn run(client: Client, events: mpsc::Sender<Event>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match connection(&client, &events, &mut backoff).await {
            Outcome::Unwanted => return,
            Outcome::Fatal(error) => {
                let _ = events.send(Event::Stopped { error }).await;
                return;
            }
            Outcome::Retry(error) => {
                tracing::debug!(%error, ?backoff, "websocket dropped; reconnecting");
                let event = Event::Disconnected {
                    error,
                    retry_in: backoff,
                };
                if events.send(event).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Opens the socket, refreshing the login once if the node refuses the access token.
async fn connect(client: &Client) -> std::result::Result<Socket, Outcome> {
    let mut refreshed = false;
    loop {
        let (url, token) = client.websocket_url().await.map_err(Outcome::Fatal)?;
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, false, client.websocket_connector());
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, connecting).await;
        match attempt {
            Err(_) => {
                return Err(Outcome::Retry(
                    tungstenite::Error::Io(std::io::ErrorKind::TimedOut.into()).into(),
                ));
            }
            Ok(Ok((socket, _))) => return Ok(socket),
            Ok(Err(tungstenite::Error::Http(response))) if response.status().as_u16() == 401 && !refreshed => {
                refreshed = true;
                if let Err(err) = client.refresh(&token).await {
                    return Err(classify_login(err));
                }
            }
            Ok(Err(tungstenite::Error::Http(response))) if response.status().is_client_error() => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                let error = Error::Http {
                    status,
                    code: String::new(),
                    message: body.into_owned(),
                };
                // Too many connections clears up by itself; anything else will not.
                return Err(if status == 429 {
                    Outcome::Retry(error)
                } else {
                    Outcome::Fatal(error)
                });
            }
            Ok(Err(err)) => return Err(Outcome::Retry(err.into())),
        }
    }
}

fn classify_login(err: Error) -> Outcome {
    if err.is_transient() {
        Outcome::Retry(err)
    } else {
        Outcome::Fatal(err)
    }
}

async fn connection(client: &Client, events: &mpsc::Sender<Event>, backoff: &mut Duration) -> Outcome {
    let mut socket = match connect(client).await {
        Ok(socket) => socket,
        Err(outcome) => return outcome,
    };
    while let Some(frame) = socket.next().await {
        let text = match frame {
            Ok(WsMessage::Text(text)) => text,
            Ok(WsMessage::Close(_)) => break,
            // Pings are answered by tungstenite itself as the stream is polled.
            Ok(_) => continue,
            Err(err) => return Outcome::Retry(err.into()),
        };
        let frame = match serde_json::from_str::<ServerFrame>(text.as_str()) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::debug!(%err, "ignoring a frame this SDK does not know");
                continue;
            }
        };
        let out = match frame {
            ServerFrame::Ready { .. } => {
                *backoff = MIN_BACKOFF;
                if let Err(err) = client.refill_one_time_prekeys().await {
                    tracing::warn!(%err, "could not top up one-time prekeys");
                }
                None
            }
            ServerFrame::SyncComplete { replayed } => Some(Event::Synced { replayed }),
            ServerFrame::MessageNew(event) => {
                let out = match client.receive(&event).await {
                    Ok(stored) => stored.map(Event::Message),
                    Err(error) if is_permanent(&error) => {
                        tracing::warn!(%error, message = %event.message_id, "rejecting a message");
                        Some(Event::Rejected {
                            message_id: event.message_id,
                            conversation_id: event.conversation_id,
                            sender_device_id: event.sender_device_id,
                            error,
                        })
                    }
                    Err(error) if error.is_status(401) => return Outcome::Fatal(error),
                    // Not acknowledged: the node replays it on the next connection.
                    Err(error) => return Outcome::Retry(error),
                };
                if let Err(err) = acknowledge(&mut socket, event.message_id).await {
                    return Outcome::Retry(err);
                }
                out
            }
            ServerFrame::Error { code, error, .. } => {
                tracing::warn!(%code, %error, "the node refused a frame");
                None
            }
            _ => None,
        };
        if let Some(out) = out
            && events.send(out).await.is_err()
        {
            return Outcome::Unwanted;
        }
    }
    Outcome::Retry(tungstenite::Error::ConnectionClosed.into())
}

async fn acknowledge(socket: &mut Socket, message_id: MessageId) -> Result<()> {
    let frame = serde_json::to_string(&ClientFrame::Delivered { message_id })
        .map_err(|err| Error::Protocol(format!("cannot encode an acknowledgement: {err}")))?;
    socket.send(WsMessage::text(frame)).await?;
    Ok(())
}

/// Whether a message failed for a reason that retrying will not fix.
fn is_permanent(error: &Error) -> bool {
    match error {
        Error::Crypto(_)
        | Error::UnknownPreKey { .. }
        | Error::NoSession { .. }
        | Error::IdentityChanged { .. }
        | Error::IdentityMismatch { .. }
        | Error::Protocol(_) => true,
        Error::Http { status, .. } => (400..500).contains(status) && *status != 401 && *status != 429,
        _ => false,
    }
}
