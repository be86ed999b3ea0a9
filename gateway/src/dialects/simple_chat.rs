//! The dialect of `simple-chat.md`: `/api/auth/*`, `/api/conversations` (one-to-one), `/api/groups`,
//! with bodies and answers as that document writes them, errors as `{"error": "…"}`, and plain
//! `content` stored as messages in the clear (`encrypted: false` in `/v1`).

mod auth;
mod chats;
mod conversations;
mod groups;
mod shapes;
mod socket;

use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use super::errors::Coded;
pub(crate) use super::errors::PlainError as ErrorBody;
use crate::AppState;

/// The OpenAPI tag of this dialect's operations.
pub(crate) const TAG: &str = "simple-chat";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(conversations::router())
        .merge(groups::router())
        .merge(socket::router())
}

/// Which document's client is on a path simple-chat shares with messaging-app, as far as the request
/// tells (a login by email, a refresh token a messaging-app login issued, a group with members); its
/// errors take that client's shape.
#[derive(Debug, Clone, Copy)]
enum Client {
    SimpleChat,
    MessagingApp,
}

impl Client {
    fn respond<T: IntoResponse>(self, answer: Result<T>) -> Response {
        match (self, answer) {
            (_, Ok(answer)) => answer.into_response(),
            (Client::SimpleChat, Err(err)) => err.into_response(),
            (Client::MessagingApp, Err(err)) => err.reshape::<Coded>().into_response(),
        }
    }
}

/// Failures in the document's shape, `{"error": "…"}`.
pub(crate) type Error = super::errors::Error<super::errors::Plain>;

type Result<T> = std::result::Result<T, Error>;
