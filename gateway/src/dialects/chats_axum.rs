//! The dialect of `chats-axum.md`: `/auth/*` with sessions and the account's server-held key backup,
//! `/users/*`, `/chats/*` with members, roles and favourites, and its WebSocket events (`/ws` with the
//! token in the `Authorization` header). Its document names routes and bodies but not its answers;
//! the shapes chosen are in `shapes.rs` and `docs/DIALECTS.md`. Errors are `{"error": "…"}` with the
//! document's statuses.

mod auth;
mod avatars;
mod chats;
mod keys;
mod media;
mod members;
mod shapes;
pub(crate) mod socket;
mod users;

use utoipa_axum::router::OpenApiRouter;

pub(crate) use super::errors::PlainError as ErrorBody;
use crate::AppState;

/// The OpenAPI tag of this dialect's operations.
pub(crate) const TAG: &str = "chats-axum";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(keys::router())
        .merge(chats::router())
        .merge(members::router())
        .merge(media::router())
        .merge(avatars::router())
}

/// Failures as `{"error": "…"}`.
pub(crate) type Error = super::errors::Error<super::errors::Plain>;

type Result<T> = std::result::Result<T, Error>;

type Extracted<T> = std::result::Result<T, crate::ApiError>;
