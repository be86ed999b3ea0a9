use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::api::Envelope;
use serde::Serialize;

use crate::ApiError;

/// A successful answer in the envelope.
pub(crate) struct Reply<T>(StatusCode, T);

pub(crate) type ApiResult<T> = Result<Reply<T>, ApiError>;

pub(crate) fn ok<T>(data: T) -> ApiResult<T> {
    Ok(Reply(StatusCode::OK, data))
}

pub(crate) fn created<T>(data: T) -> ApiResult<T> {
    Ok(Reply(StatusCode::CREATED, data))
}

pub(crate) fn accepted<T>(data: T) -> ApiResult<T> {
    Ok(Reply(StatusCode::ACCEPTED, data))
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        (self.0, Json(Envelope::ok(self.1))).into_response()
    }
}
