//! The load generator: the REST and WebSocket senders, and the recipients' socket readers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::api::{Frame, STEP_TIMEOUT, Socket, connect_synced};
use crate::setup::Setup;
use crate::workload::{ERRORS_SHOWN, Mode, REST_CONCURRENCY, Tracker, WS_WINDOW, count_error, progress, slot_name};

/// Parses a frame, counting and reporting the ones that do not parse.
fn parse_frame(text: &str, tracker: &Tracker, who: &str) -> Option<Frame> {
    serde_json::from_str(text)
        .map_err(|err| count_error(tracker, &format!("[{who}] unparseable frame ({err}): {text}")))
        .ok()
}

/// Reads a recipient's socket (slot `recipient`) for the whole bench, stamping each `message:new`.
pub(crate) async fn receive(mut socket: Socket, recipient: usize, tracker: Arc<Tracker>) {
    let who = slot_name(recipient);
    while let Some(incoming) = socket.next().await {
        let text = match incoming {
            Ok(WsMessage::Text(text)) => text,
            Ok(WsMessage::Close(frame)) => {
                eprintln!("[{who}] the node closed the socket: {frame:?}");
                break;
            }
            Ok(_) => continue,
            Err(err) => {
                eprintln!("[{who}] socket error: {err}");
                break;
            }
        };
        let at = tracker.now();
        let Some(frame) = parse_frame(&text, &tracker, &who) else {
            continue;
        };
        match frame.kind.as_str() {
            "message:new" => {
                let Some(&global) = frame.client_message_id.as_ref().and_then(|id| tracker.index.get(id)) else {
                    tracker.unexpected.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let first = tracker.received[recipient][global]
                    .compare_exchange(0, at, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if !first {
                    tracker.duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tracker.delivered[recipient][global / tracker.per_mode].fetch_add(1, Ordering::AcqRel);
                tracker.progress.notify_one();
            }
            "error" => count_error(&tracker, &format!("[{who}] error frame: {text}")),
            _ => {}
        }
    }
}

/// Modes 1 and 3: concurrent REST senders (to the sender's own node, `setup.base`).
pub(crate) async fn run_rest(
    mode: Mode,
    setup: &Arc<Setup>,
    tracker: &Arc<Tracker>,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let sent = Arc::new(AtomicUsize::new(0));
    let errors_shown = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/v1/messages", setup.base);
    let mut workers = Vec::with_capacity(REST_CONCURRENCY);
    for worker in 0..REST_CONCURRENCY {
        let (setup, tracker, sent, errors_shown, url) = (
            setup.clone(),
            tracker.clone(),
            sent.clone(),
            errors_shown.clone(),
            url.clone(),
        );
        workers.push(tokio::spawn(async move {
            for i in (worker..tracker.per_mode).step_by(REST_CONCURRENCY) {
                let global = tracker.global(mode, i);
                let body = setup.rest_body(&tracker.client_ids[global]);
                let request = setup
                    .http
                    .post(&url)
                    .bearer_auth(&setup.sender_token)
                    .header("content-type", "application/json")
                    .body(body);
                tracker.sent[global].store(tracker.now(), Ordering::Release);
                let outcome = tokio::time::timeout_at(deadline, async {
                    let response = request.send().await.map_err(|err| err.to_string())?;
                    let status = response.status();
                    let text = response.text().await.map_err(|err| err.to_string())?;
                    if status == reqwest::StatusCode::CREATED {
                        Ok(())
                    } else {
                        Err(format!("{status}: {text}"))
                    }
                })
                .await;
                match outcome {
                    Ok(Ok(())) => tracker.answered[global].store(tracker.now(), Ordering::Release),
                    Ok(Err(err)) => {
                        tracker.send_failures[mode.index()].fetch_add(1, Ordering::AcqRel);
                        if errors_shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
                            eprintln!("[{}] send {} failed: {err}", mode.tag(), tracker.client_ids[global]);
                        }
                    }
                    Err(_) => return Err(format!("REST sender {worker} timed out at message {i}")),
                }
                progress(&tracker, mode, sent.fetch_add(1, Ordering::AcqRel) + 1);
            }
            Ok(())
        }));
    }
    let mut result = Ok(());
    for worker in workers {
        let outcome = worker
            .await
            .unwrap_or_else(|err| Err(format!("REST sender panicked: {err}")));
        if result.is_ok() {
            result = outcome;
        }
    }
    result
}

/// Mode 2: `message:send` frames pipelined on the sender's own socket.
pub(crate) async fn run_ws(
    setup: &Arc<Setup>,
    tracker: &Arc<Tracker>,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let mode = Mode::Ws;
    let socket = connect_synced(&setup.ws_base, &setup.sender_token, "sender").await?;
    let (mut sink, mut stream) = socket.split();
    let window = Semaphore::new(WS_WINDOW);
    let writer = async {
        for i in 0..tracker.per_mode {
            window.acquire().await.map_err(|err| err.to_string())?.forget();
            let global = tracker.global(mode, i);
            let frame = setup.ws_frame(&tracker.client_ids[global]);
            tracker.sent[global].store(tracker.now(), Ordering::Release);
            sink.send(WsMessage::Text(frame.into()))
                .await
                .map_err(|err| format!("sender socket: {err}"))?;
            progress(tracker, mode, i + 1);
        }
        Ok::<_, String>(())
    };
    let reader = async {
        let mut answers = 0;
        let mut errors_shown = 0;
        while answers < tracker.per_mode {
            let text = match stream.next().await {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(format!("the node closed the sender socket: {frame:?}"));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(format!("sender socket: {err}")),
                None => return Err("sender socket ended".to_owned()),
            };
            let at = tracker.now();
            let Some(frame) = parse_frame(&text, tracker, "sender") else {
                continue;
            };
            let global = frame
                .client_message_id
                .as_ref()
                .and_then(|id| tracker.index.get(id))
                .copied();
            match (frame.kind.as_str(), global) {
                ("message:ack", Some(global)) => {
                    tracker.answered[global].store(at, Ordering::Release);
                    answers += 1;
                    window.add_permits(1);
                }
                ("error", global) => {
                    if errors_shown < ERRORS_SHOWN {
                        errors_shown += 1;
                        eprintln!(
                            "[ws] error frame: code {:?}: {:?} ({text})",
                            frame.code.as_deref().unwrap_or_default(),
                            frame.error.as_deref().unwrap_or_default()
                        );
                    }
                    if global.is_some() {
                        tracker.send_failures[mode.index()].fetch_add(1, Ordering::AcqRel);
                        answers += 1;
                        window.add_permits(1);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    };
    let outcome = tokio::time::timeout_at(deadline, async { tokio::try_join!(writer, reader) }).await;
    match outcome {
        Ok(Ok(_)) => {
            let _ = tokio::time::timeout(STEP_TIMEOUT, sink.close()).await;
            Ok(())
        }
        Ok(Err(err)) => Err(err),
        Err(_) => {
            let answered = (0..tracker.per_mode)
                .filter(|&i| tracker.answered[tracker.global(mode, i)].load(Ordering::Acquire) != 0)
                .count();
            Err(format!(
                "WS sender timed out: {answered} of {} sends answered",
                tracker.per_mode
            ))
        }
    }
}
