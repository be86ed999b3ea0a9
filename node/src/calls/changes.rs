//! Changing a call this node hosts: starting it (ringing the other participants), inviting and removing
//! participants, their answers and mute state, connecting and ending it, and quality samples. Every
//! change runs under the calls' write lock and is published to participants here and on other nodes.

use chrono::Utc;
use protocol::api::{
    AddCallParticipantRequest, Call, CallEndReason, CallMuteRequest, CallParticipant, CallParticipantStatus,
    CallParticipantStatusRequest, CallQualityMetric, CallStatus, CreateCallRequest, EndCallRequest,
};
use protocol::federation::CallEvent;
use protocol::{CallId, ConversationId, UserId};

use crate::conversations::records as conversations;
use crate::storage::{encode, keys};
use crate::{Actor, Error, Result, contacts, validate};

use super::{Calls, duration, transition_error};

impl Calls {
    /// Starts a call in a conversation and rings its other participants (except those who blocked the
    /// caller). A conversation has at most one call that has not ended.
    pub(super) async fn create(&self, actor: &Actor, request: CreateCallRequest) -> Result<Call> {
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

    pub(super) fn active_in(&self, conversation: ConversationId) -> Result<Option<Call>> {
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

    /// Rings another participant of the conversation (any joined participant may invite).
    pub(super) async fn add_participant(
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
                    .insert(keys::call_time(user.as_bytes(), call.created_at, call.id), &[])?;
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
    pub(super) async fn remove_participant(&self, actor: &Actor, id: CallId, user: UserId) -> Result<Call> {
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
    pub(super) async fn set_status(
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
    pub(super) async fn set_mute(
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
    pub(super) async fn connected(&self, actor: &Actor, id: CallId) -> Result<Call> {
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
    pub(super) async fn end(&self, actor: &Actor, id: CallId, request: EndCallRequest) -> Result<Call> {
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

    /// Stores one quality sample from a participant.
    pub(super) async fn record_quality_here(
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
}
