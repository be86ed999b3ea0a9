//! The dialect of `secure-messenger.md`: `/api/v1/auth/*`, the Signal-style key distribution of
//! `/api/v1/keys/*` (per user, answered for each of the user's devices), `/api/v1/conversations`,
//! and `/api/v1/files/*` for client-encrypted files. Its document names routes but no bodies; the
//! shapes chosen are in the handlers and `docs/DIALECTS.md`. Its WebSocket (`/ws`, token in the
//! `Authorization` header) speaks chats-axum's events, whose `envelopes` carry one ciphertext per
//! device. Errors are `{"error": "…"}`.

mod auth;
mod conversations;
mod files;
mod keys;

use utoipa_axum::router::OpenApiRouter;

pub(crate) use super::errors::PlainError as ErrorBody;
use crate::AppState;

/// The OpenAPI tag of this dialect's operations.
pub(crate) const TAG: &str = "secure-messenger";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(keys::router())
        .merge(conversations::router())
        .merge(files::router())
}

/// Failures as `{"error": "…"}`.
pub(crate) type Error = super::errors::Error<super::errors::Plain>;

type Result<T> = std::result::Result<T, Error>;

type Extracted<T> = std::result::Result<T, crate::ApiError>;
