//! Telling other nodes about calls this node hosts. Every change of a hosted call (in the order `Calls`
//! made them) is signed and sent as `Request::CallUpdate` to the home node of each remote participant,
//! which keeps the call (with the signed report) and pushes `call:incoming`, `call:updated` or
//! `call:ended` to its users.
//!
//! Best effort, unlike messages: a call is live state that is useless once stale, so updates are not
//! written to the durable outbox. One in-memory queue per destination keeps them in order; a full queue
//! drops updates and a failed request is logged, never retried beyond one fresh lookup of the node. The
//! REST answer never waits for other nodes.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use libp2p::PeerId;
use protocol::api::Call;
use protocol::federation::{CallUpdate, Envelope, Event, FederationError, Request, Response, public_key_of};
use tokio::sync::mpsc;

use super::Calls;
use crate::conversations::records as conversations;
use crate::federation::{Client, Destination, error_response as error};
use crate::remote::{homes, refusal};
use crate::tasks::Tasks;
use crate::{Error, Result};

/// Changes waiting to be fanned out (calls are rate-limited, so this is generous).
const CHANGES_QUEUE: usize = 1024;
/// Updates waiting for one destination.
const NODE_QUEUE: usize = 64;

impl Calls {
    /// Starts fanning out every later change of a hosted call to the participants' nodes (with
    /// federation; needs a tokio runtime). Does nothing when already started.
    pub(crate) fn federate(self: &Arc<Self>, network: Client, tasks: &Tasks) {
        let (changes_tx, changes) = mpsc::channel(CHANGES_QUEUE);
        if self.changes.set(changes_tx).is_ok() {
            tasks.spawn(fan_out(Arc::downgrade(self), network, changes, tasks.clone()));
        }
    }
}

/// Ends when the calls service is dropped (it holds the sending half).
async fn fan_out(calls: Weak<Calls>, client: Client, mut changes: mpsc::Receiver<CallUpdate>, tasks: Tasks) {
    let mut queues: HashMap<PeerId, mpsc::Sender<Request>> = HashMap::new();
    while let Some(update) = changes.recv().await {
        let Some(calls) = calls.upgrade() else {
            break;
        };
        let destinations = calls.destinations(&update.call);
        let call = update.call.id;
        let envelope = match calls.outbox.seal(&Event::Call(update)) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::error!(%call, error = %err, "signing a call update failed");
                continue;
            }
        };
        drop(calls);
        let destinations = match destinations {
            Ok(destinations) => destinations,
            Err(err) => {
                tracing::error!(%call, error = %err, "finding a call's remote participants failed");
                continue;
            }
        };
        for to in destinations {
            let queue = queues
                .entry(to.peer)
                .or_insert_with(|| send_in_order(client.clone(), to.clone(), &tasks));
            if queue.try_send(Request::CallUpdate(envelope.clone())).is_err() {
                tracing::warn!(node = %to.node, %call, "call update dropped: the node's queue is full");
            }
        }
    }
}

/// A queue whose requests go to `to` one after the other.
fn send_in_order(client: Client, to: Destination, tasks: &Tasks) -> mpsc::Sender<Request> {
    let (queue, mut requests) = mpsc::channel::<Request>(NODE_QUEUE);
    tasks.spawn(async move {
        while let Some(request) = requests.recv().await {
            let answer = match client.request(to.peer, request.clone()).await {
                Ok(answer) => Ok(answer),
                // The node may have moved: look it up again, once.
                Err(_) => match client.resolve(to.node.clone()).await {
                    Ok(found) if found.peer_id == to.peer => client.request(to.peer, request).await,
                    Ok(_) => {
                        tracing::warn!(node = %to.node, "the node's name now belongs to another peer");
                        continue;
                    }
                    Err(err) => Err(err),
                },
            };
            match answer {
                Ok(Response::Done) => {}
                Ok(other) => tracing::warn!(node = %to.node, answer = ?other, "a node refused a call update"),
                Err(err) => tracing::warn!(node = %to.node, error = %err, "a call update could not be delivered"),
            }
        }
    });
    queue
}

impl Calls {
    /// The home nodes of a hosted call's remote participants (none for a call hosted elsewhere).
    fn destinations(&self, call: &Call) -> Result<Vec<Destination>> {
        match conversations::get(&self.store, call.conversation_id)? {
            Some(record) if record.host.is_none() => {}
            _ => return Ok(Vec::new()),
        }
        let users: Vec<_> = call.participants.iter().map(|p| p.user_id).collect();
        Ok(homes::of_members(&self.store, &users)?
            .into_values()
            .map(|(destination, _)| destination)
            .collect())
    }

    /// Keeps a call reported by `peer`, which must host the call's conversation and have signed the
    /// report, and tells this node's participants. The signed report is kept with the call.
    pub(crate) async fn accept_update(&self, peer: PeerId, envelope: Envelope) -> Response {
        let opened = public_key_of(&peer.to_bytes())
            .ok_or(FederationError::BadSignature)
            .and_then(|origin| envelope.open(&origin));
        let update = match opened {
            Ok(Event::Call(update)) => update,
            Ok(_) => return error("bad_request", "a call update carries a call"),
            Err(err) => return error("bad_request", &format!("envelope: {err}")),
        };
        match self.take_call_update(peer, update, &envelope).await {
            Ok(()) => Response::Done,
            Err(err) => refusal(&err),
        }
    }

    async fn take_call_update(&self, peer: PeerId, update: CallUpdate, envelope: &Envelope) -> Result<()> {
        let record =
            conversations::get(&self.store, update.call.conversation_id)?.ok_or(Error::NotFound("conversation"))?;
        match &record.host {
            Some(host) if host.peer == peer => {}
            _ => return Err(Error::forbidden("only the conversation's host reports its calls")),
        }
        let call = update.call.id;
        self.apply_update(update).await?;
        let envelope = envelope.to_bytes().map_err(|err| Error::Internal(err.to_string()))?;
        self.store.trees.callid_envelope.insert(call.as_bytes(), envelope)?;
        Ok(())
    }
}
