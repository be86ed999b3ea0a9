//! The dialect of `messaging-app.md`: `POST /api/users` and `/api/users/{id}`, `/api/messages` with
//! its cursor, filters and `X-Pagination-*` headers, `/api/webhooks`, and errors as
//! `{"error": {"code", "message", "details"}}`. Its login, refresh, group creation and WebSocket share
//! simple-chat's paths and are served there, in one shape that satisfies both documents
//! (`docs/DIALECTS.md`).

mod messages;
mod shapes;
mod users;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

pub(crate) use super::errors::CodedError as ErrorBody;
use crate::AppState;

/// The OpenAPI tag of this dialect's operations.
pub(crate) const TAG: &str = "messaging-app";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::router())
        .merge(messages::router())
        .merge(webhooks::router())
}

/// Failures in the document's shape, `{"error": {"code", "message", "details"}}`.
pub(crate) type Error = super::errors::Error<super::errors::Coded>;

type Result<T> = std::result::Result<T, Error>;

type Extracted<T> = std::result::Result<T, crate::ApiError>;
