//! The dialect of `simple-chat.md`: `/api/auth/*`, `/api/conversations` (one-to-one), `/api/groups`,
//! with bodies and answers as that document writes them, errors as `{"error": "…"}`, and plain
//! `content` stored as messages in the clear (`encrypted: false` in `/v1`).

mod auth;
mod chats;
mod conversations;
mod groups;
mod shapes;
mod socket;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::{ApiError, AppState};

/// The OpenAPI tag of this dialect's operations.
pub(crate) const TAG: &str = "simple-chat";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(conversations::router())
        .merge(groups::router())
        .merge(socket::router())
}

/// The document's error body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatError)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    error: String,
}

/// Every failure of this dialect: the node's status, in the document's shape. The document lists 400
/// for invalid input, so a field that does not fit is a 400 here rather than `/v1`'s 422.
#[derive(Debug)]
pub(crate) struct Error(ApiError);

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl From<node::Error> for Error {
    fn from(err: node::Error) -> Self {
        Self(err.into())
    }
}

impl Error {
    /// For frames on the dialect's WebSocket.
    pub(crate) fn message(&self) -> &str {
        self.0.message()
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match self.0.status() {
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::BAD_REQUEST,
            status => status,
        };
        let body = ErrorBody {
            error: self.0.message().to_owned(),
        };
        (status, Json(body)).into_response()
    }
}

type Result<T> = std::result::Result<T, Error>;
