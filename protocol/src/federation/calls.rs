//! Calls across nodes. A call lives on the node hosting its conversation: members on other nodes change
//! it there ([`CallActionRequest`]), the host reports each change to the home nodes of the call's remote
//! participants ([`CallUpdate`]), and WebRTC signals travel directly from the sender's home node to the
//! recipient's ([`RelayedSignal`]), since they concern only those two users.

use serde::{Deserialize, Serialize};

use crate::api::{
    AddCallParticipantRequest, Call, CallEndReason, CallMuteRequest, CallParticipantStatusRequest, CallQualityMetric,
    CreateCallRequest, EndCallRequest,
};
use crate::ws::SignalKind;
use crate::{CallId, DeviceId, UserId};

/// A call change as REST takes it: what a user asks of the node hosting the call's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CallAction {
    /// `POST /v1/calls`.
    Create(CreateCallRequest),
    /// `POST /v1/calls/{id}/participants`.
    AddParticipant {
        /// The call.
        call_id: CallId,
        /// Who to ring.
        request: AddCallParticipantRequest,
    },
    /// `DELETE /v1/calls/{id}/participants/{user_id}`.
    RemoveParticipant {
        /// The call.
        call_id: CallId,
        /// The participant taken out.
        user_id: UserId,
    },
    /// `PUT /v1/calls/{id}/participants/{user_id}/status`.
    SetStatus {
        /// The call.
        call_id: CallId,
        /// The participant named in the path (only the actor may change their own).
        user_id: UserId,
        /// The new status.
        request: CallParticipantStatusRequest,
    },
    /// `PUT /v1/calls/{id}/participants/{user_id}/mute`.
    SetMute {
        /// The call.
        call_id: CallId,
        /// The participant named in the path (only the actor may mute themselves).
        user_id: UserId,
        /// What changes.
        request: CallMuteRequest,
    },
    /// `POST /v1/calls/{id}/connected`.
    Connected {
        /// The call.
        call_id: CallId,
    },
    /// `POST /v1/calls/{id}/end`.
    End {
        /// The call.
        call_id: CallId,
        /// Why.
        request: EndCallRequest,
    },
    /// `POST /v1/calls/quality`; answered with [`super::Response::CallQuality`].
    Quality(CallQualityMetric),
}

impl CallAction {
    /// The call acted on (none for a call being created).
    pub fn call_id(&self) -> Option<CallId> {
        match self {
            Self::Create(_) => None,
            Self::AddParticipant { call_id, .. }
            | Self::RemoveParticipant { call_id, .. }
            | Self::SetStatus { call_id, .. }
            | Self::SetMute { call_id, .. }
            | Self::Connected { call_id }
            | Self::End { call_id, .. } => Some(*call_id),
            Self::Quality(metric) => Some(metric.call_id),
        }
    }
}

/// A call change asked by a user of the sending node of the node hosting the call's conversation
/// ([`super::Request::CallAction`]), answered with [`super::Response::Call`] (or
/// [`super::Response::CallQuality`]) or an error. The host acts only for a user whose home is the
/// sending node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallActionRequest {
    /// The acting user, a user of the sending node.
    pub user_id: UserId,
    /// The device it acts from.
    pub device_id: DeviceId,
    /// What it asks.
    pub action: CallAction,
}

/// What happened to a call, so the receiving node can tell its users as the host tells its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallEvent {
    /// The call rings `users` (`call:incoming` from `caller`).
    Ringing {
        /// Who rings them.
        caller: UserId,
        /// Who is rung.
        users: Vec<UserId>,
    },
    /// The call's state or participants changed (`call:updated` to every participant).
    Updated {
        /// Who changed it.
        by: UserId,
    },
    /// The call ended (`call:ended` to every participant).
    Ended {
        /// Who ended it.
        by: UserId,
        /// Why.
        reason: CallEndReason,
    },
}

/// A call after a change, from the node hosting its conversation to the home node of its remote
/// participants ([`super::Request::CallUpdate`]), answered with [`super::Response::Done`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallUpdate {
    /// The call as it now stands.
    pub call: Call,
    /// What changed.
    pub event: CallEvent,
}

/// A WebRTC signal from a user of the sending node to a user of the receiving node
/// ([`super::Request::CallSignal`]), answered with [`super::Response::Done`]. `data` is relayed
/// untouched and is at most 64 KiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedSignal {
    /// The call.
    pub call_id: CallId,
    /// The sender, a user of the sending node.
    pub from_id: UserId,
    /// The sending device, to answer to.
    pub from_device_id: DeviceId,
    /// The recipient, a user of the receiving node.
    pub to_id: UserId,
    /// One of the recipient's devices; all of them when absent.
    pub to_device_id: Option<DeviceId>,
    /// Offer, answer or ICE candidate.
    pub kind: SignalKind,
    /// The SDP or candidate.
    pub data: String,
}

#[cfg(test)]
mod tests {
    use super::super::{
        Envelope, Event, Request, Response, decode_request, decode_response, encode_request, encode_response,
    };
    use super::*;
    use crate::ConversationId;
    use crate::api::{CallKind, CallStatus};

    #[test]
    fn call_requests_and_answers_round_trip() {
        let (ann, bob) = (UserId::random(), UserId::random());
        let call = Call {
            id: CallId::random(),
            conversation_id: ConversationId::random(),
            kind: CallKind::Video,
            status: CallStatus::Ringing,
            initiator_id: ann,
            created_at: chrono::Utc::now(),
            started_at: None,
            ended_at: None,
            duration: 0,
            end_reason: None,
            ended_by: None,
            participants: Vec::new(),
        };
        let requests = [
            Request::CallAction(Box::new(CallActionRequest {
                user_id: bob,
                device_id: DeviceId::random(),
                action: CallAction::Create(CreateCallRequest {
                    conversation_id: call.conversation_id,
                    kind: CallKind::Audio,
                    initiator_id: None,
                }),
            })),
            Request::CallUpdate(
                Envelope::seal(
                    &Event::Call(CallUpdate {
                        call: call.clone(),
                        event: CallEvent::Ringing {
                            caller: ann,
                            users: vec![bob],
                        },
                    }),
                    &ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
                )
                .unwrap(),
            ),
            Request::CallSignal(Box::new(RelayedSignal {
                call_id: call.id,
                from_id: ann,
                from_device_id: DeviceId::random(),
                to_id: bob,
                to_device_id: None,
                kind: SignalKind::Ice,
                data: "candidate".into(),
            })),
        ];
        for request in requests {
            assert_eq!(decode_request(&encode_request(&request).unwrap()).unwrap(), request);
        }
        for response in [Response::Call(Box::new(call)), Response::Done] {
            assert_eq!(decode_response(&encode_response(&response).unwrap()).unwrap(), response);
        }
    }
}
