//! Calls: REST holds each call's state and participants, a state machine that refuses impossible
//! transitions; WebRTC signaling (offer, answer, ICE) is relayed between participants' connections.
//!
//! A call lives on the node hosting its conversation. Every change there is published twice: as
//! WebSocket frames to this node's participants, and (when federation runs) as a `CallUpdate` queued for
//! the home nodes of remote participants (`updates`), which keep a copy (`replica`) and tell their own
//! users. Changes asked on a replica are forwarded to the host (`remote`).

mod remote;
mod replica;
mod signals;
mod updates;

pub(crate) use signals::signal_of;

use std::sync::{Arc, OnceLock};

use chrono::Utc;
use protocol::api::{
    AddCallParticipantRequest, Call, CallDuration, CallEndReason, CallList, CallListQuery, CallMuteRequest,
    CallParticipant, CallParticipantStatus, CallParticipantStatusRequest, CallQualityMetric, CallStatus,
    CreateCallRequest, EndCallRequest, IceServers, Timestamp, UserCallsQuery,
};
use protocol::federation::{CallAction, CallEvent, CallUpdate};
use protocol::ws::ServerFrame;
use protocol::{CallId, ConversationId, UserId};
use tokio::sync::{Mutex, mpsc};

use crate::outbox::Outbox;
use crate::realtime::Hub;
use crate::remote::Remote;
use crate::storage::{Store, decode, encode, keys};
use crate::conversations::records as conversations;
use crate::{Actor, Config, Error, Result, contacts, validate};

/// Largest signaling payload relayed.
pub const MAX_SIGNAL_BYTES: usize = 64 * 1024;

fn time_key(owner: &[u8; 16], at: Timestamp, call: CallId) -> Vec<u8> {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
    keys::join(&[owner, &millis.to_be_bytes(), call.as_bytes()])
}

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
            CallAction::Quality(metric) => return Ok(CallAnswer::Quality(self.record_quality_here(actor, metric).await?)),
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
        t.convtimecall_call
            .insert(time_key(call.conversation_id.as_bytes(), call.created_at, call.id), &[])?;
        for participant in &call.participants {
            t.usertimecall_call
                .insert(time_key(participant.user_id.as_bytes(), call.created_at, call.id), &[])?;
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

    /// Starts a call in a conversation and rings its other participants (except those who blocked the
    /// caller). A conversation has at most one call that has not ended.
    pub(crate) async fn create(&self, actor: &Actor, request: CreateCallRequest) -> Result<Call> {
        if request.initiator_id.is_some_and(|id| id != actor.user_id) {
            return Err(Error::forbidden("a call's initiator is always the caller"));
        }
        let conversation = request.conversation_id;
        conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let _guard = self.writes.lock().await;
        if self.active_in(conversation)?.is_some() {
            return Err(Error::Conflict(
                "the conversation already has a call in progress".into(),
            ));
        }
        let now = Utc::now();
        let mut participants = vec![CallParticipant {
            status: CallParticipantStatus::Joined,
            joined_at: Some(now),
            ..Self::invitee(actor.user_id)
        }];
        for (user, _) in conversations::participants(&self.store, conversation)? {
            if user != actor.user_id && !contacts::has_blocked(&self.store, user, actor.user_id)? {
                participants.push(Self::invitee(user));
            }
        }
        let call = Call {
            id: CallId::random(),
            conversation_id: conversation,
            kind: request.kind,
            status: if participants.len() > 1 {
                CallStatus::Ringing
            } else {
                CallStatus::Initiated
            },
            initiator_id: actor.user_id,
            created_at: now,
            started_at: None,
            ended_at: None,
            duration: 0,
            end_reason: None,
            ended_by: None,
            participants,
        };
        self.save(&call)?;
        self.index(&call)?;
        self.store.commit().await?;
        let rung = call.participants.iter().skip(1).map(|p| p.user_id).collect();
        self.publish(
            &call,
            CallEvent::Ringing {
                caller: actor.user_id,
                users: rung,
            },
        );
        Ok(call)
    }

    fn active_in(&self, conversation: ConversationId) -> Result<Option<Call>> {
        for entry in self
            .store
            .trees
            .convtimecall_call
            .scan_prefix(conversation.as_bytes())
            .rev()
        {
            let (key, _) = entry?;
            let Some(id) = key.len().checked_sub(16).and_then(|at| keys::id_at(&key, at)) else {
                continue;
            };
            let call = self.load(CallId::from_bytes(id))?;
            if call.status != CallStatus::Ended {
                return Ok(Some(call));
            }
        }
        Ok(None)
    }

    /// One call, with its duration so far.
    pub fn get(&self, actor: &Actor, id: CallId) -> Result<Call> {
        let mut call = self.visible(actor, id)?;
        call.duration = duration(&call, Utc::now());
        Ok(call)
    }

    fn calls_under(&self, tree: &sled::Tree, owner: &[u8; 16], skip: usize, limit: usize) -> Result<Vec<Call>> {
        let now = Utc::now();
        let mut calls = Vec::new();
        for entry in tree.scan_prefix(owner).rev().skip(skip).take(limit) {
            let (key, _) = entry?;
            let Some(id) = key.len().checked_sub(16).and_then(|at| keys::id_at(&key, at)) else {
                continue;
            };
            let mut call = self.load(CallId::from_bytes(id))?;
            call.duration = duration(&call, now);
            calls.push(call);
        }
        Ok(calls)
    }

    /// A conversation's calls, newest first.
    pub fn list(&self, actor: &Actor, query: CallListQuery) -> Result<CallList> {
        conversations::require_participant(&self.store, query.conversation_id, actor.user_id)?;
        let limit = validate::limit(query.limit, 20, 100)?;
        let page = validate::page(query.page)?;
        let calls = self.calls_under(
            &self.store.trees.convtimecall_call,
            query.conversation_id.as_bytes(),
            (page - 1) * limit,
            limit,
        )?;
        Ok(CallList { calls })
    }

    fn own_calls(&self, actor: &Actor) -> Result<Vec<Call>> {
        self.calls_under(&self.store.trees.usertimecall_call, actor.user_id.as_bytes(), 0, 1000)
    }

    /// The caller's calls, newest first (the last 1000).
    pub fn of_user(&self, actor: &Actor, query: UserCallsQuery) -> Result<CallList> {
        if query.user_id.is_some_and(|user| user != actor.user_id) {
            return Err(Error::forbidden("you can only list your own calls"));
        }
        Ok(CallList {
            calls: self.own_calls(actor)?,
        })
    }

    /// The caller's calls that have not ended.
    pub fn active(&self, actor: &Actor) -> Result<CallList> {
        let calls = self
            .own_calls(actor)?
            .into_iter()
            .filter(|c| c.status != CallStatus::Ended)
            .collect();
        Ok(CallList { calls })
    }

    /// Ended calls that rang for the caller and that the caller never joined.
    pub fn missed(&self, actor: &Actor) -> Result<CallList> {
        let calls = self
            .own_calls(actor)?
            .into_iter()
            .filter(|c| {
                c.status == CallStatus::Ended
                    && c.initiator_id != actor.user_id
                    && c.participants
                        .iter()
                        .any(|p| p.user_id == actor.user_id && p.joined_at.is_none())
            })
            .collect();
        Ok(CallList { calls })
    }

    /// Rings another participant of the conversation (any joined participant may invite).
    pub(crate) async fn add_participant(
        &self,
        actor: &Actor,
        id: CallId,
        request: AddCallParticipantRequest,
    ) -> Result<Call> {
        let _guard = self.writes.lock().await;
        let mut call = self.visible(actor, id)?;
        Self::open(&call)?;
        if Self::member(&mut call, actor.user_id)?.status != CallParticipantStatus::Joined {
            return Err(Error::forbidden("only participants who joined can invite"));
        }
        let user = request.user_id;
        if conversations::participant(&self.store, call.conversation_id, user)?.is_none() {
            return Err(Error::invalid(
                "user_id",
                "is not a participant of the call's conversation",
            ));
        }
        contacts::ensure_not_blocked_by(&self.store, user, actor.user_id)?;
        match call.participants.iter_mut().find(|p| p.user_id == user) {
            Some(existing) if existing.status == CallParticipantStatus::Left => {
                existing.status = CallParticipantStatus::Invited;
                existing.left_at = None;
            }
            Some(_) => return Err(Error::Conflict("user is already in the call".into())),
            None => {
                call.participants.push(Self::invitee(user));
                self.store
                    .trees
                    .usertimecall_call
                    .insert(time_key(user.as_bytes(), call.created_at, call.id), &[])?;
            }
        }
        if call.status == CallStatus::Initiated {
            call.status = CallStatus::Ringing;
        }
        self.save(&call)?;
        self.store.commit().await?;
        self.publish(
            &call,
            CallEvent::Ringing {
                caller: actor.user_id,
                users: vec![user],
            },
        );
        self.publish(&call, CallEvent::Updated { by: actor.user_id });
        Ok(call)
    }

    /// Takes a participant out of the call: the initiator may remove anyone, others only themselves.
    pub(crate) async fn remove_participant(&self, actor: &Actor, id: CallId, user: UserId) -> Result<Call> {
        let _guard = self.writes.lock().await;
        let mut call = self.visible(actor, id)?;
        Self::open(&call)?;
        if user != actor.user_id && call.initiator_id != actor.user_id {
            return Err(Error::forbidden("only the initiator can remove others from a call"));
        }
        let participant = call
            .participants
            .iter_mut()
            .find(|p| p.user_id == user)
            .ok_or(Error::NotFound("call participant"))?;
        if participant.status == CallParticipantStatus::Left {
            return Err(transition_error("the participant has already left"));
        }
        participant.status = CallParticipantStatus::Left;
        participant.left_at = Some(Utc::now());
        self.save(&call)?;
        self.store.commit().await?;
        self.publish(&call, CallEvent::Updated { by: actor.user_id });
        Ok(call)
    }

    /// Changes the caller's own participant status: INVITED → JOINED or LEFT, JOINED → LEFT,
    /// LEFT → JOINED (rejoin). Anything else, or any change after the call ended, is refused.
    pub(crate) async fn set_status(
        &self,
        actor: &Actor,
        id: CallId,
        user: UserId,
        request: CallParticipantStatusRequest,
    ) -> Result<Call> {
        if user != actor.user_id {
            return Err(Error::forbidden("participants change only their own status"));
        }
        let _guard = self.writes.lock().await;
        let mut call = self.visible(actor, id)?;
        Self::open(&call)?;
        let participant = Self::member(&mut call, actor.user_id)?;
        use CallParticipantStatus::{Invited, Joined, Left};
        let now = Utc::now();
        match (participant.status, request.status) {
            (Invited | Left, Joined) => {
                participant.joined_at = Some(now);
                participant.left_at = None;
            }
            (Invited | Joined, Left) => participant.left_at = Some(now),
            (from, to) => {
                return Err(transition_error(format!(
                    "a participant cannot go from {from:?} to {to:?}"
                )));
            }
        }
        participant.status = request.status;
        self.save(&call)?;
        self.store.commit().await?;
        self.publish(&call, CallEvent::Updated { by: actor.user_id });
        Ok(call)
    }

    /// Mutes or unmutes the caller's own audio or video (while joined).
    pub(crate) async fn set_mute(
        &self,
        actor: &Actor,
        id: CallId,
        user: UserId,
        request: CallMuteRequest,
    ) -> Result<Call> {
        if user != actor.user_id {
            return Err(Error::forbidden("participants mute only themselves"));
        }
        let _guard = self.writes.lock().await;
        let mut call = self.visible(actor, id)?;
        Self::open(&call)?;
        let participant = Self::member(&mut call, actor.user_id)?;
        if participant.status != CallParticipantStatus::Joined {
            return Err(transition_error("only a joined participant can mute"));
        }
        if let Some(audio) = request.audio_muted {
            participant.audio_muted = audio;
        }
        if let Some(video) = request.video_muted {
            participant.video_muted = video;
        }
        self.save(&call)?;
        self.store.commit().await?;
        self.publish(&call, CallEvent::Updated { by: actor.user_id });
        Ok(call)
    }

    /// Marks the call connected: needs a joined caller and someone else joined too.
    pub(crate) async fn connected(&self, actor: &Actor, id: CallId) -> Result<Call> {
        let _guard = self.writes.lock().await;
        let mut call = self.visible(actor, id)?;
        Self::open(&call)?;
        if Self::member(&mut call, actor.user_id)?.status != CallParticipantStatus::Joined {
            return Err(Error::forbidden(
                "only a joined participant can mark the call connected",
            ));
        }
        if call.status == CallStatus::Connected {
            return Err(transition_error("the call is already connected"));
        }
        if call
            .participants
            .iter()
            .filter(|p| p.status == CallParticipantStatus::Joined)
            .count()
            < 2
        {
            return Err(transition_error("nobody else has joined the call yet"));
        }
        call.status = CallStatus::Connected;
        call.started_at = Some(Utc::now());
        self.save(&call)?;
        self.store.commit().await?;
        self.publish(&call, CallEvent::Updated { by: actor.user_id });
        Ok(call)
    }

    /// Ends the call for everyone (any participant may).
    pub(crate) async fn end(&self, actor: &Actor, id: CallId, request: EndCallRequest) -> Result<Call> {
        let _guard = self.writes.lock().await;
        let mut call = self.visible(actor, id)?;
        Self::open(&call)?;
        Self::member(&mut call, actor.user_id)?;
        let now = Utc::now();
        let reason = request.reason.unwrap_or(CallEndReason::Completed);
        call.status = CallStatus::Ended;
        call.ended_at = Some(now);
        call.end_reason = Some(reason);
        call.ended_by = Some(actor.user_id);
        call.duration = duration(&call, now);
        for participant in &mut call.participants {
            if participant.status == CallParticipantStatus::Joined {
                participant.status = CallParticipantStatus::Left;
                participant.left_at = Some(now);
            }
        }
        self.save(&call)?;
        self.store.commit().await?;
        self.publish(
            &call,
            CallEvent::Ended {
                by: actor.user_id,
                reason,
            },
        );
        Ok(call)
    }

    /// Connected seconds so far.
    pub fn duration(&self, actor: &Actor, id: CallId) -> Result<CallDuration> {
        let call = self.visible(actor, id)?;
        Ok(CallDuration {
            duration: duration(&call, Utc::now()),
        })
    }

    /// Stores one quality sample from a participant.
    async fn record_quality_here(
        &self,
        actor: &Actor,
        mut metric: CallQualityMetric,
    ) -> Result<CallQualityMetric> {
        if metric.user_id.is_some_and(|user| user != actor.user_id) {
            return Err(Error::forbidden("quality samples are recorded for yourself only"));
        }
        let mut call = self.visible(actor, metric.call_id)?;
        Self::member(&mut call, actor.user_id)?;
        let finite = |field: &str, value: Option<f64>, low: f64, high: f64| match value {
            Some(v) if !(v.is_finite() && (low..=high).contains(&v)) => {
                Err(Error::invalid(field, format!("must be between {low} and {high}")))
            }
            _ => Ok(()),
        };
        finite("packet_loss", metric.packet_loss, 0.0, 1.0)?;
        finite("jitter", metric.jitter, 0.0, 600_000.0)?;
        finite("latency", metric.latency, 0.0, 600_000.0)?;
        finite("frame_rate", metric.frame_rate, 0.0, 1000.0)?;
        finite("audio_level", metric.audio_level, -200.0, 200.0)?;
        metric.resolution = validate::optional_text("resolution", metric.resolution.as_deref(), 32)?;
        metric.user_id = Some(actor.user_id);
        metric.timestamp.get_or_insert_with(Utc::now);
        let position = self.store.next_id()?;
        let key = keys::join(&[
            metric.call_id.as_bytes(),
            actor.user_id.as_bytes(),
            &position.to_be_bytes(),
        ]);
        self.store.trees.calluserpos_quality.insert(key, encode(&metric))?;
        self.store.commit().await?;
        Ok(metric)
    }

    /// The node's STUN/TURN servers.
    pub fn ice_servers(&self) -> IceServers {
        IceServers {
            ice_servers: self.config.ice_servers.clone(),
        }
    }
}
