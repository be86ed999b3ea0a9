//! Calls, wherever their conversation is hosted. A call lives on the node hosting its conversation:
//! a change asked on another node (create, answer, leave, mute, invite, remove, connected, end, quality)
//! goes to the host as `Request::CallAction` and the caller's answer waits for the host's. The host acts
//! only for users whose home is the asking node ("a node speaks only for its own users").
//!
//! WebRTC signals concern two users only, so they go straight from the sender's node to the
//! recipient's home node (`Request::CallSignal`), host or not; the receiving node checks the signal
//! against the call as it knows it and that the sending node is the sender's home.

use libp2p::PeerId;
use protocol::ConversationId;
use protocol::api::{Call, CallQualityMetric};
use protocol::federation::{CallAction, CallActionRequest, RelayedSignal, Request, Response};
use protocol::ws::{CallSignalRequest, SignalKind};

use super::{CallAnswer, Calls, signal_of};
use crate::conversations::records as conversations;
use crate::federation::Destination;
use crate::remote::{acting_for, homes, refusal, speaks_for};
use crate::users::records::get_user;
use crate::{Actor, Error, Result};

impl Calls {
    /// Starts or changes a call (every REST call mutation): here when this node hosts the call's
    /// conversation, otherwise at its host, on the caller's behalf.
    pub async fn act(&self, actor: &Actor, action: CallAction) -> Result<Call> {
        match self.act_on_call(actor, action).await? {
            CallAnswer::Call(call) => Ok(call),
            CallAnswer::Quality(_) => Err(Error::Internal("a call change answered with a quality sample".into())),
        }
    }

    /// Records a quality sample of the caller's connection with the call, at the call's host.
    pub async fn record_quality(&self, actor: &Actor, metric: CallQualityMetric) -> Result<CallQualityMetric> {
        match self.act_on_call(actor, CallAction::Quality(metric)).await? {
            CallAnswer::Quality(metric) => Ok(metric),
            CallAnswer::Call(_) => Err(Error::Internal("a quality sample answered with a call".into())),
        }
    }

    /// Relays a WebRTC signal (WebSocket `call:offer`, `call:answer`, `call:ice`) to another participant
    /// of a live call: pushed here when the recipient lives here, sent to its home node otherwise. The
    /// answer waits for that node, so a refusal reaches the sender.
    pub async fn signal(&self, actor: &Actor, kind: SignalKind, request: CallSignalRequest) -> Result<()> {
        let to = request.to_id;
        self.check_signal(actor.user_id, request.call_id, to, &request.data)?;
        if get_user(&self.store, to)?.is_some() {
            let to_device = request.to_device_id;
            return self.deliver_signal(signal_of(actor.user_id, actor.device_id, kind, request), to_device);
        }
        let home = homes::get(&self.store, to)?.ok_or_else(|| Error::invalid("to_id", "lives on an unknown node"))?;
        let signal = RelayedSignal {
            call_id: request.call_id,
            from_id: actor.user_id,
            from_device_id: actor.device_id,
            to_id: to,
            to_device_id: request.to_device_id,
            kind,
            data: request.data,
        };
        let request = Request::CallSignal(Box::new(signal));
        self.remote
            .ask_for_user(&home.destination(), request, |answer| match answer {
                Response::Done => Ok(()),
                other => Err(Box::new(other)),
            })
            .await
    }

    async fn act_on_call(&self, actor: &Actor, action: CallAction) -> Result<CallAnswer> {
        let conversation = self.conversation_of(actor, &action)?;
        let record = conversations::get(&self.store, conversation)?.ok_or(Error::NotFound("conversation"))?;
        match &record.host {
            Some(host) => {
                conversations::require_participant(&self.store, conversation, actor.user_id)?;
                self.ask_call_host(actor, host, action).await
            }
            None => self.act_here(actor, action).await,
        }
    }

    /// The conversation of the call acted on, which the actor must be able to see.
    fn conversation_of(&self, actor: &Actor, action: &CallAction) -> Result<ConversationId> {
        match (action, action.call_id()) {
            (CallAction::Create(request), _) => Ok(request.conversation_id),
            (_, Some(call)) => Ok(self.get(actor, call)?.conversation_id),
            (_, None) => Err(Error::invalid("action", "names no call")),
        }
    }

    async fn ask_call_host(&self, actor: &Actor, host: &Destination, action: CallAction) -> Result<CallAnswer> {
        let request = CallActionRequest {
            user_id: actor.user_id,
            device_id: actor.device_id,
            action,
        };
        let request = Request::CallAction(Box::new(request));
        self.remote
            .ask_for_user(host, request, |answer| match answer {
                Response::Call(call) => Ok(CallAnswer::Call(*call)),
                Response::CallQuality(metric) => Ok(CallAnswer::Quality(*metric)),
                other => Err(Box::new(other)),
            })
            .await
    }

    /// Carries out a call change of `peer`'s user in a conversation this node hosts.
    pub(crate) async fn accept_action(&self, peer: PeerId, request: CallActionRequest) -> Response {
        match self.take_call_action(peer, request).await {
            Ok(CallAnswer::Call(call)) => Response::Call(Box::new(call)),
            Ok(CallAnswer::Quality(metric)) => Response::CallQuality(Box::new(metric)),
            Err(err) => refusal(&err),
        }
    }

    async fn take_call_action(&self, peer: PeerId, request: CallActionRequest) -> Result<CallAnswer> {
        let actor = acting_for(&self.store, peer, request.user_id, request.device_id)?;
        let conversation = self.conversation_of(&actor, &request.action)?;
        let record = conversations::get(&self.store, conversation)?.ok_or(Error::NotFound("conversation"))?;
        if record.host.is_some() {
            return Err(Error::NotFound("conversation"));
        }
        self.act_here(&actor, request.action).await
    }

    /// Pushes a signal from `peer`'s user to one of this node's users.
    pub(crate) fn accept_signal(&self, peer: PeerId, signal: RelayedSignal) -> Response {
        match self.take_call_signal(peer, signal) {
            Ok(()) => Response::Done,
            Err(err) => refusal(&err),
        }
    }

    fn take_call_signal(&self, peer: PeerId, signal: RelayedSignal) -> Result<()> {
        speaks_for(&self.store, peer, signal.from_id)?;
        if get_user(&self.store, signal.to_id)?.is_none() {
            return Err(Error::NotFound("user"));
        }
        self.check_signal(signal.from_id, signal.call_id, signal.to_id, &signal.data)?;
        let request = CallSignalRequest {
            call_id: signal.call_id,
            to_id: signal.to_id,
            to_device_id: signal.to_device_id,
            data: signal.data,
        };
        self.deliver_signal(
            signal_of(signal.from_id, signal.from_device_id, signal.kind, request),
            signal.to_device_id,
        )
    }
}
