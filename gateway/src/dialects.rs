//! The other API documents' dialects: apps whose clients already exist, served at their own paths and
//! shapes on the same node services as `/v1`, so their users and `/v1`'s share conversations. Each
//! dialect lives in its own module with its own error shape; what they share (a device for every
//! login, refresh tokens that carry their session) is here. `docs/DIALECTS.md` says, per document,
//! what works as written and what differs on purpose.

pub(crate) mod chats_axum;
mod errors;
mod messaging_app;
mod secure_messenger;
mod sessions;
mod simple_chat;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Tags of dialect operations in the OpenAPI document: their answers are the dialect's own shapes,
/// not the envelope (see `crate::openapi`).
pub(crate) const TAGS: [&str; 4] = [
    simple_chat::TAG,
    messaging_app::TAG,
    chats_axum::TAG,
    secure_messenger::TAG,
];

/// Every dialect's routes with their operations.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(simple_chat::router())
        .merge(messaging_app::router())
        .merge(chats_axum::router())
        .merge(secure_messenger::router())
}
