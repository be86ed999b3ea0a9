//! The dialects' error shapes. A failure is still an `ApiError` (its status decided once, in
//! `crate::error`); a dialect only decides how it looks: `{"error": "…"}` (simple-chat, and the
//! others whose documents show no more) or `{"error": {"code", "message", "details"}}`
//! (messaging-app). On paths two documents share, the handler picks the shape from what the request
//! says about its client (`docs/DIALECTS.md`).

use std::marker::PhantomData;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::ApiError;

/// How a dialect's errors look.
pub(crate) trait Shape {
    /// The status the dialect answers with.
    fn status(err: &ApiError) -> StatusCode;
    /// The body.
    fn body(err: &ApiError) -> EitherError;
}

/// `{"error": "…"}`. A body that does not fit is 400, as simple-chat's document lists it.
pub(crate) struct Plain;

impl Shape for Plain {
    fn status(err: &ApiError) -> StatusCode {
        match err.status() {
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::BAD_REQUEST,
            status => status,
        }
    }

    fn body(err: &ApiError) -> EitherError {
        EitherError::Plain(PlainError {
            error: err.message().to_owned(),
        })
    }
}

/// `{"error": {"code", "message", "details"}}`, with messaging-app's lower-case codes and, where the
/// document shows them, its details (the field of a validation error, whether a token expired).
pub(crate) struct Coded;

impl Shape for Coded {
    fn status(err: &ApiError) -> StatusCode {
        err.status()
    }

    fn body(err: &ApiError) -> EitherError {
        let message = err.message();
        let details = match err.code() {
            "VALIDATION_ERROR" => match message.split_once(": ") {
                Some((field, reason)) if !field.contains(' ') => json!({ "field": field, "reason": reason }),
                _ => json!({ "reason": message }),
            },
            "UNAUTHORIZED" => json!({ "token_expired": message.contains("expired") }),
            _ => json!({}),
        };
        EitherError::Coded(CodedError {
            error: CodedErrorDetail {
                code: err.code().to_ascii_lowercase(),
                message: message.to_owned(),
                details,
            },
        })
    }
}

/// A failure of a dialect whose errors have the shape `S`.
#[derive(Debug)]
pub(crate) struct Error<S>(ApiError, PhantomData<S>);

impl<S> Error<S> {
    /// For frames on a dialect's WebSocket.
    pub(crate) fn message(&self) -> &str {
        self.0.message()
    }

    /// The same failure in another dialect's shape, on a path two documents share.
    pub(crate) fn reshape<T>(self) -> Error<T> {
        Error(self.0, PhantomData)
    }
}

impl<S> From<ApiError> for Error<S> {
    fn from(err: ApiError) -> Self {
        Self(err, PhantomData)
    }
}

impl<S> From<node::Error> for Error<S> {
    fn from(err: node::Error) -> Self {
        Self(err.into(), PhantomData)
    }
}

impl<S: Shape> IntoResponse for Error<S> {
    fn into_response(self) -> Response {
        (S::status(&self.0), Json(S::body(&self.0))).into_response()
    }
}

/// `{"error": "…"}` in the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlainError {
    /// What went wrong.
    error: String,
}

/// `{"error": {"code", "message", "details"}}` in the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CodedError {
    error: CodedErrorDetail,
}

/// Either shape, on a path two documents share, in the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum EitherError {
    Plain(PlainError),
    Coded(CodedError),
}

#[derive(Debug, Serialize, ToSchema)]
struct CodedErrorDetail {
    /// `validation_error`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `rate_limit_exceeded`,
    /// `internal_error`, …
    code: String,
    /// What went wrong.
    message: String,
    /// `field` and `reason` of a validation error, `token_expired` of an authentication error.
    #[schema(value_type = Object)]
    details: Value,
}
