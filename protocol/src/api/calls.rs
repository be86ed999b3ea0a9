use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{CallId, ConversationId, UserId};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum CallKind {
    /// Voice only.
    Audio,
    /// Voice and video.
    Video,
}

/// Where a call stands. Moves only forward: INITIATED → RINGING → CONNECTED → ENDED (steps may be
/// skipped, never repeated or reversed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum CallStatus {
    /// Created; nobody has been rung yet.
    Initiated,
    /// At least one participant has been rung.
    Ringing,
    /// Media flows between at least two participants.
    Connected,
    /// Over.
    Ended,
}

/// Where one participant of a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum CallParticipantStatus {
    /// Rung, not answered.
    Invited,
    /// In the call.
    Joined,
    /// Declined or hung up.
    Left,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallEndReason {
    /// Normal hang-up.
    Completed,
    /// Nobody answered.
    Missed,
    /// The callee refused.
    Declined,
    /// A client failed.
    Failed,
    /// Ringing timed out.
    Timeout,
    /// The network failed.
    NetworkError,
}

/// `POST /v1/calls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateCallRequest {
    /// The conversation whose participants are rung.
    pub conversation_id: ConversationId,
    /// `AUDIO` or `VIDEO`.
    #[serde(rename = "type")]
    pub kind: CallKind,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub initiator_id: Option<UserId>,
}

/// One participant of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallParticipant {
    /// The user.
    pub user_id: UserId,
    /// Invited, joined or left.
    pub status: CallParticipantStatus,
    /// Whether their audio is muted.
    pub audio_muted: bool,
    /// Whether their video is muted.
    pub video_muted: bool,
    /// When they last joined.
    pub joined_at: Option<Timestamp>,
    /// When they left.
    pub left_at: Option<Timestamp>,
}

/// A call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Call {
    /// The call.
    pub id: CallId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// `AUDIO` or `VIDEO`.
    #[serde(rename = "type")]
    pub kind: CallKind,
    /// Where it stands.
    pub status: CallStatus,
    /// Who started it.
    pub initiator_id: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it connected.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Connected seconds (0 until connected).
    pub duration: u64,
    /// Why it ended.
    pub end_reason: Option<CallEndReason>,
    /// Who ended it.
    pub ended_by: Option<UserId>,
    /// Everyone rung or joined.
    pub participants: Vec<CallParticipant>,
}

/// `GET /v1/calls/{id}/participants`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallParticipantList {
    /// Everyone rung or joined.
    pub participants: Vec<CallParticipant>,
}

/// A list of calls, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallList {
    /// The calls.
    pub calls: Vec<Call>,
}

/// `GET /v1/calls?conversation_id=&page=&limit=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CallListQuery {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// 1-based page.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub page: Option<u32>,
    /// At most 100; default 20.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

/// `GET /v1/calls/user?user_id=`: only the caller's own calls can be listed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct UserCallsQuery {
    /// Must be the caller when given.
    #[serde(default)]
    pub user_id: Option<UserId>,
}

/// `POST /v1/calls/{id}/participants`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddCallParticipantRequest {
    /// A participant of the call's conversation.
    pub user_id: UserId,
}

/// `PUT /v1/calls/{id}/participants/{user_id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallParticipantStatusRequest {
    /// The new status.
    pub status: CallParticipantStatus,
}

/// `PUT /v1/calls/{id}/participants/{user_id}/mute`: only the fields present change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallMuteRequest {
    /// Mute or unmute audio.
    #[serde(default)]
    pub audio_muted: Option<bool>,
    /// Mute or unmute video.
    #[serde(default)]
    pub video_muted: Option<bool>,
}

/// `POST /v1/calls/{id}/end`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndCallRequest {
    /// Defaults to `COMPLETED`.
    #[serde(default)]
    pub reason: Option<CallEndReason>,
}

/// `GET /v1/calls/{id}/duration`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallDuration {
    /// Connected seconds so far (final once ended).
    pub duration: u64,
}

/// `POST /v1/calls/quality`: one sample of a participant's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallQualityMetric {
    /// The call.
    pub call_id: CallId,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// When the sample was taken (default: when received).
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
    /// Fraction of packets lost, 0 to 1.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub packet_loss: Option<f64>,
    /// Milliseconds.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 600000.0))]
    pub jitter: Option<f64>,
    /// Milliseconds.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 600000.0))]
    pub latency: Option<f64>,
    /// Bits per second.
    #[serde(default)]
    pub bitrate: Option<u64>,
    /// Frames per second.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1000.0))]
    pub frame_rate: Option<f64>,
    /// E.g. `1920x1080`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub resolution: Option<String>,
    /// dBFS.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = -200.0, maximum = 200.0))]
    pub audio_level: Option<f64>,
}

/// A STUN or TURN server for WebRTC clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `GET /v1/calls/ice-servers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServers {
    /// The node's configured servers.
    pub ice_servers: Vec<IceServer>,
}
