//! The node's side of the network: every request from another node arrives here (from the federation
//! event loop, over a bounded channel) and is handed to the domain service it concerns. Every input is
//! untrusted: it is validated by those services, and errors reach the peer as a coded
//! `Response::Error`, never as a panic or an internal detail.
//!
//! `Request::Deliver` is answered here: each envelope is checked against the sending node's key (its
//! PeerId), then applied in order. Refusals are final and reported per event; a storage failure fails
//! the whole batch so the sender retries it (applying an event twice changes nothing). Frames for local
//! devices leave while the batch is being made durable, not after: the sender keeps every event until
//! this node answers, which it does only once the batch is durable, so if this node loses the batch in
//! a crash the sender delivers it again, and the devices, which drop what they already have by its id,
//! see nothing new. The commit's fsync is thereby off the path from the sender to the devices.

use std::sync::Arc;

use libp2p::PeerId;
use protocol::federation::{Envelope, Event, RelayedMessage, Request, Response, public_key_of};
use tokio::sync::mpsc;

use crate::federation::{Inbound, InboundRequest, error_response as error};
use crate::realtime::Push;
use crate::{Error, Services, remote};

/// Answers requests from other nodes until the network stops. Each request is answered in a task of
/// its own; the event loop bounds how many are in flight.
pub(crate) async fn serve(services: Arc<Services>, mut inbound: mpsc::Receiver<Inbound>) {
    while let Some(next) = inbound.recv().await {
        match next {
            Inbound::Request(InboundRequest {
                peer,
                name,
                request,
                reply,
            }) => {
                let (tasks, services) = (services.tasks.clone(), services.clone());
                tasks.spawn(async move {
                    let kind = request.kind();
                    let response = answer(&services, peer, request).await;
                    if let Response::User(user) = &response
                        && let Err(err) =
                            crate::users::remember_looker(&services.store, user.user_id, peer, name.as_ref())
                    {
                        tracing::warn!(%peer, error = %err, "remembering who looked a user up failed");
                    }
                    services.metrics.federation.request("in", kind, response.outcome());
                    reply.send(response)
                });
            }
            // A node that is reachable again may have events waiting for it.
            Inbound::Named { name, .. } => services.outbox.wake(&name),
        }
    }
}

async fn answer(services: &Services, peer: PeerId, request: Request) -> Response {
    match request {
        Request::ClaimBundle { user_id, device_id } => match services.keys.bundle_for_peer(user_id, device_id).await {
            Ok(bundle) => Response::Bundle(bundle),
            Err(Error::NotFound(_)) => Response::NotFound,
            Err(err) => {
                tracing::error!(%peer, error = %err, "answering ClaimBundle failed");
                error("internal", "the node could not answer")
            }
        },
        Request::ResolveUser { username } => match remote::resolve_local(&services.store, &username) {
            Ok(Some(user)) => Response::User(user),
            Ok(None) => Response::NotFound,
            Err(Error::Invalid { reason, .. }) => error("bad_request", &format!("username: {reason}")),
            Err(err) => {
                tracing::error!(%peer, error = %err, "answering ResolveUser failed");
                error("internal", "the node could not answer")
            }
        },
        Request::FetchFile {
            user_id,
            file_id,
            offset,
            length,
        } => match services.files.serve_chunk(peer, user_id, file_id, offset, length).await {
            Ok(Some(chunk)) => Response::FileChunk(Box::new(chunk)),
            Ok(None) => Response::NotFound,
            Err(err) => remote::refusal(&err),
        },
        Request::FetchUser { user_id } => match remote::describe_local(&services.store, user_id) {
            Ok(Some(user)) => Response::User(user),
            Ok(None) => Response::NotFound,
            Err(err) => {
                tracing::error!(%peer, error = %err, "answering FetchUser failed");
                error("internal", "the node could not answer")
            }
        },
        Request::Deliver { envelopes } => deliver(services, peer, envelopes).await,
        Request::Submit(submission) => services.messages.accept_submission(peer, *submission).await,
        Request::ChangeMessage(change) => services.messages.accept_change(peer, *change).await,
        Request::Typing {
            conversation_id,
            user_id,
            display_name,
            typing,
        } => done(
            services
                .presence
                .remote_typing(peer, conversation_id, user_id, &display_name, typing),
        ),
        Request::Presence {
            user_id,
            online,
            status,
        } => done(services.presence.remote_presence(peer, user_id, online, &status)),
        Request::CallAction(action) => services.calls.accept_action(peer, *action).await,
        Request::CallUpdate(update) => services.calls.accept_update(peer, update).await,
        Request::CallSignal(signal) => services.calls.accept_signal(peer, *signal),
        _ => error("unsupported", "this node does not support that request"),
    }
}

/// The answer to a best-effort signal.
fn done(outcome: crate::Result<()>) -> Response {
    match outcome {
        Ok(()) => Response::Done,
        Err(err) => error("refused", &err.to_string()),
    }
}

/// Applies a batch of signed events from `peer` (see the module's doc), committing once for the batch.
/// Messages in a row are written together, in one transaction; any other event (or a refusal) first
/// writes those before it, so the batch's order holds, in the store and in the refusals reported.
async fn deliver(services: &Services, peer: PeerId, envelopes: Vec<Envelope>) -> Response {
    let Some(origin) = public_key_of(&peer.to_bytes()) else {
        return error("bad_request", "only nodes with Ed25519 keys may deliver");
    };
    let mut tally = Tally::default();
    let mut messages: Vec<(RelayedMessage, Envelope)> = Vec::new();
    for envelope in envelopes {
        let opened = envelope.open(&origin);
        if let Ok(Event::Message(message)) = opened {
            messages.push((message, envelope));
            continue;
        }
        if let Err(failure) = tally.messages(services, peer, &mut messages) {
            return failed(peer, &failure);
        }
        let event = match opened {
            Ok(event) => event,
            Err(err) => {
                tally.rejected.push(format!("envelope: {err}"));
                continue;
            }
        };
        let outcome = match &event {
            Event::Conversation(state) => services.conversations.apply_state(peer, state, &envelope).await,
            Event::Receipt(notice) => services.messages.apply_relayed_receipt(peer, notice),
            Event::Changed(change) => services.messages.apply_relayed_change(peer, change).await,
            Event::Renamed(renamed) => services.users.apply_rename(peer, renamed).map(|()| Vec::new()),
            Event::Rehomed(handover) => services.conversations.apply_handover(peer, handover).await,
            Event::QueuedChange(request) => services
                .messages
                .take_queued_change(peer, request.clone())
                .await
                .map(|()| Vec::new()),
            Event::Submission(submission) => {
                let id = submission.message_id;
                let taken = services.messages.take_queued(peer, submission.clone()).await;
                if let (Err(err), Some(id)) = (&taken, id)
                    && !err.is_local_failure()
                {
                    tally.refused_submissions.push((id, err.to_string()));
                }
                taken.map(|()| Vec::new())
            }
            _ => Err(Error::invalid("event", "unsupported")),
        };
        if let Err(failure) = tally.record(peer, outcome) {
            return failed(peer, &failure);
        }
    }
    if let Err(failure) = tally.messages(services, peer, &mut messages) {
        return failed(peer, &failure);
    }
    for push in &tally.pushes {
        services.hub.push(push);
    }
    if let Err(err) = services.store.commit().await {
        return failed(peer, &err);
    }
    Response::Accepted {
        applied: tally.applied,
        rejected: tally.rejected,
        refused_submissions: tally.refused_submissions,
    }
}

/// The answer when this node failed to store a delivery: the sender keeps it and retries.
fn failed(peer: PeerId, err: &Error) -> Response {
    tracing::error!(%peer, error = %err, "storing a delivery failed");
    error("internal", "the node could not store the delivery; retry later")
}

/// What a delivery did so far: events applied, refusals (final, reported to the sender) and the frames
/// to push once it is all applied.
#[derive(Default)]
struct Tally {
    applied: u32,
    rejected: Vec<String>,
    refused_submissions: Vec<(protocol::MessageId, String)>,
    pushes: Vec<Push>,
}

impl Tally {
    /// Counts one event's outcome; a failure of this node (not a refusal) is handed back.
    fn record(&mut self, peer: PeerId, outcome: crate::Result<Vec<Push>>) -> crate::Result<()> {
        match outcome {
            Ok(frames) => {
                self.applied += 1;
                self.pushes.extend(frames);
            }
            Err(err) if err.is_local_failure() => return Err(err),
            Err(err) => {
                tracing::warn!(%peer, error = %err, "refused a relayed event");
                self.rejected.push(err.to_string());
            }
        }
        Ok(())
    }

    /// Writes the messages waiting in a row, if any, and counts each one's outcome.
    fn messages(
        &mut self,
        services: &Services,
        peer: PeerId,
        messages: &mut Vec<(RelayedMessage, Envelope)>,
    ) -> crate::Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let outcomes = services.messages.apply_relayed(peer, messages)?;
        messages.clear();
        outcomes.into_iter().try_for_each(|outcome| self.record(peer, outcome))
    }
}
