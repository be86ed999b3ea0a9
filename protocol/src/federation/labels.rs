//! Short names for requests and their outcomes, for logs and metrics.

use super::{Request, Response};

impl Request {
    /// The request's kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::ResolveUser { .. } => "resolve_user",
            Self::ClaimBundle { .. } => "claim_bundle",
            Self::FetchUser { .. } => "fetch_user",
            Self::FetchFile { .. } => "fetch_file",
            Self::Deliver { .. } => "deliver",
            Self::Submit(_) => "submit",
            Self::ChangeMessage(_) => "change_message",
            Self::CallAction(_) => "call_action",
            Self::CallUpdate(_) => "call_update",
            Self::CallSignal(_) => "call_signal",
            Self::Typing { .. } => "typing",
            Self::Presence { .. } => "presence",
        }
    }
}

/// The error codes nodes answer with; any other code counts as `error` in metrics, so a peer cannot
/// mint new label values.
const ERROR_CODES: [&str; 7] = [
    "bad_request",
    "busy",
    "denied",
    "internal",
    "rate_limited",
    "refused",
    "unsupported",
];

impl Response {
    /// How a request ended, for metrics: `ok`, `not_found`, or one of the known error codes.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Error { code, .. } => ERROR_CODES
                .iter()
                .find(|known| *known == code)
                .copied()
                .unwrap_or("error"),
            _ => "ok",
        }
    }
}
