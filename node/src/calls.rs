//! Calls: REST holds each call's state and participants, a state machine that refuses impossible
//! transitions; WebRTC signaling (offer, answer, ICE) is relayed between participants' connections.
//!
//! A call lives on the node hosting its conversation. Every change there is published twice: as
//! WebSocket frames to this node's participants, and (when federation runs) as a `CallUpdate` queued for
//! the home nodes of remote participants (`updates`), which keep a copy (`replica`) and tell their own
//! users. Changes asked on a replica are forwarded to the host (`remote`).

mod changes;
mod listing;
mod remote;
mod replica;
mod signals;
mod updates;

pub(crate) use signals::signal_of;

use std::sync::{Arc, OnceLock};

use chrono::Utc;
use protocol::api::{
    Call, CallParticipant, CallParticipantStatus, CallQualityMetric, CallStatus, IceServers, Timestamp,
};
use protocol::federation::{CallAction, CallEvent, CallUpdate};
use protocol::ws::ServerFrame;
use protocol::{CallId, UserId};
use tokio::sync::{Mutex, mpsc};

use crate::conversations::records as conversations;
use crate::outbox::Outbox;
use crate::realtime::Hub;
use crate::remote::Remote;
use crate::storage::{Store, decode, encode, keys};
use crate::{Actor, Config, Error, Result};

/// Largest signaling payload relayed.
pub(crate) const MAX_SIGNAL_BYTES: usize = 64 * 1024;

fn duration(call: &Call, now: Timestamp) -> u64 {
    match call.started_at {
        Some(started) => {
            let end = call.ended_at.unwrap_or(now);
            u64::try_from((end - started).num_seconds()).unwrap_or_default()
        }
        None => 0,
    }
}

fn transition_error(message: impl Into<String>) -> Error {
    Error::Conflict(message.into())
}

/// The calls service.
pub struct Calls {
    store: Store,
    hub: Arc<Hub>,
    config: Arc<Config>,
    /// Calls change rarely and briefly; one lock keeps every read-modify-write of a call whole.
    writes: Mutex<()>,
    /// Changes for other nodes, in the order they were made (set once federation runs).
    changes: OnceLock<mpsc::Sender<CallUpdate>>,
    outbox: Arc<Outbox>,
    remote: Arc<Remote>,
}

/// What a call change answers: the call, or a recorded quality sample.
#[derive(Debug)]
enum CallAnswer {
    Call(Call),
    Quality(CallQualityMetric),
}

impl Calls {
    pub(crate) fn new(
        store: Store,
        hub: Arc<Hub>,
        config: Arc<Config>,
        outbox: Arc<Outbox>,
        remote: Arc<Remote>,
    ) -> Self {
        Self {
            store,
            hub,
            config,
            writes: Mutex::new(()),
            changes: OnceLock::new(),
            outbox,
            remote,
        }
    }

    /// Carries out a call change (the REST mutations), for a local user or, at the host, for a user of
    /// another node.
    async fn act_here(&self, actor: &Actor, action: CallAction) -> Result<CallAnswer> {
        let call = match action {
            CallAction::Create(request) => self.create(actor, request).await?,
            CallAction::AddParticipant { call_id, request } => self.add_participant(actor, call_id, request).await?,
            CallAction::RemoveParticipant { call_id, user_id } => {
                self.remove_participant(actor, call_id, user_id).await?
            }
            CallAction::SetStatus {
                call_id,
                user_id,
                request,
            } => self.set_status(actor, call_id, user_id, request).await?,
            CallAction::SetMute {
                call_id,
                user_id,
                request,
            } => self.set_mute(actor, call_id, user_id, request).await?,
            CallAction::Connected { call_id } => self.connected(actor, call_id).await?,
            CallAction::End { call_id, request } => self.end(actor, call_id, request).await?,
            CallAction::Quality(metric) => {
                return Ok(CallAnswer::Quality(self.record_quality_here(actor, metric).await?));
            }
            _ => return Err(Error::invalid("action", "is not supported")),
        };
        Ok(CallAnswer::Call(call))
    }

    fn load(&self, id: CallId) -> Result<Call> {
        self.find(id)?.ok_or(Error::NotFound("call"))
    }

    fn find(&self, id: CallId) -> Result<Option<Call>> {
        self.store
            .trees
            .callid_call
            .get(id.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Lists the call under its conversation and each participant (keys are stable: inserting again
    /// changes nothing).
    fn index(&self, call: &Call) -> Result<()> {
        let t = &self.store.trees;
        t.convtimecall_call.insert(
            keys::call_time(call.conversation_id.as_bytes(), call.created_at, call.id),
            &[],
        )?;
        for participant in &call.participants {
            t.usertimecall_call.insert(
                keys::call_time(participant.user_id.as_bytes(), call.created_at, call.id),
                &[],
            )?;
        }
        Ok(())
    }

    fn save(&self, call: &Call) -> Result<()> {
        self.store.trees.callid_call.insert(call.id.as_bytes(), encode(call))?;
        Ok(())
    }

    /// A call the caller may see: a participant of the call or of its conversation.
    fn visible(&self, actor: &Actor, id: CallId) -> Result<Call> {
        let call = self.load(id)?;
        let in_call = call.participants.iter().any(|p| p.user_id == actor.user_id);
        if !in_call && conversations::participant(&self.store, call.conversation_id, actor.user_id)?.is_none() {
            return Err(Error::forbidden("you are not a participant of this call"));
        }
        Ok(call)
    }

    fn member(call: &mut Call, user: UserId) -> Result<&mut CallParticipant> {
        call.participants
            .iter_mut()
            .find(|p| p.user_id == user)
            .ok_or(Error::forbidden("you are not a participant of this call"))
    }

    fn open(call: &Call) -> Result<()> {
        if call.status == CallStatus::Ended {
            return Err(transition_error("the call has ended"));
        }
        Ok(())
    }

    fn invitee(user: UserId) -> CallParticipant {
        CallParticipant {
            user_id: user,
            status: CallParticipantStatus::Invited,
            audio_muted: false,
            video_muted: false,
            joined_at: None,
            left_at: None,
        }
    }

    /// Tells this node's participants of a change, and queues it for the home nodes of the others.
    /// Called under `writes`, so changes leave in the order they were made; best effort (a full queue
    /// drops the change, and other nodes' users see it on the next one).
    fn publish(&self, call: &Call, event: CallEvent) {
        self.notify_local(call, &event);
        if let Some(changes) = self.changes.get()
            && let Err(err) = changes.try_send(CallUpdate {
                call: call.clone(),
                event,
            })
        {
            tracing::warn!(call = %call.id, error = %err, "a call change was not queued for other nodes");
        }
    }

    /// The frames a change means, to this node's connected participants (`call:incoming` to those
    /// rung, `call:updated` or `call:ended` to everyone in the call).
    fn notify_local(&self, call: &Call, event: &CallEvent) {
        let now = Utc::now();
        let frame = match event {
            CallEvent::Ringing { caller, users } => {
                let frame = ServerFrame::CallIncoming {
                    timestamp: now,
                    user_id: *caller,
                    call: call.clone(),
                };
                for user in users {
                    self.hub.send_to_user(*user, &frame);
                }
                return;
            }
            CallEvent::Updated { by } => ServerFrame::CallUpdated {
                timestamp: now,
                user_id: *by,
                call: call.clone(),
            },
            CallEvent::Ended { by, reason } => ServerFrame::CallEnded {
                timestamp: now,
                user_id: *by,
                call_id: call.id,
                conversation_id: call.conversation_id,
                ended_by: *by,
                reason: *reason,
                duration_seconds: call.duration,
            },
        };
        for participant in &call.participants {
            self.hub.send_to_user(participant.user_id, &frame);
        }
    }

    /// The node's STUN/TURN servers.
    pub fn ice_servers(&self) -> IceServers {
        IceServers {
            ice_servers: self.config.ice_servers.clone(),
        }
    }
}
