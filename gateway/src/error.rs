//! Every failure leaves the gateway as an `ApiError`; this is the single mapping from node errors to
//! HTTP status codes and envelope codes. Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::api::Envelope;

/// An error response in the envelope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// For the dialects, which answer with their own error shapes.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// For errors that leave over the WebSocket, in a frame rather than an HTTP answer.
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// For errors that leave over the WebSocket, in a frame or a close reason.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<node::Error> for ApiError {
    fn from(err: node::Error) -> Self {
        use node::Error as E;
        match &err {
            E::Invalid { .. } => Self::validation(err.to_string()),
            E::Unauthorized(_) => Self::unauthorized(err.to_string()),
            E::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", err.to_string()),
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", err.to_string()),
            E::Conflict(_) => Self::new(StatusCode::CONFLICT, "CONFLICT", err.to_string()),
            E::LimitReached(_) => Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_CONNECTIONS", err.to_string()),
            E::TooManyAttempts { .. } => Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS", err.to_string()),
            E::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FEDERATION_UNAVAILABLE",
                err.to_string(),
            ),
            E::TooLarge(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", err.to_string()),
            _ => {
                tracing::error!(error = %err, "request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope::<()> {
            success: false,
            data: None,
            error: Some(self.message),
            code: Some(self.code.to_owned()),
        };
        (self.status, Json(body)).into_response()
    }
}
