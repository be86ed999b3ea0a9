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

use node::Actor;
use protocol::api::{Conversation, ConversationListQuery};
use protocol::{ConversationId, MessageId};
use utoipa_axum::router::OpenApiRouter;

use crate::{ApiError, AppState};

/// Conversations a dialect lists at most: the documents' lists are not paginated.
const MAX_LISTED: u32 = 1000;
/// Conversations read per page of the node's list.
const LIST_PAGE: u32 = 100;

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

/// The caller's conversations, pinned first, then by latest activity, at most [`MAX_LISTED`].
fn all_conversations(state: &AppState, actor: &Actor) -> Result<Vec<Conversation>, ApiError> {
    let mut found = Vec::new();
    for page in 1..=MAX_LISTED / LIST_PAGE {
        let query = ConversationListQuery {
            page: Some(page),
            limit: Some(LIST_PAGE),
            archived: None,
            pinned: None,
            favorite: None,
        };
        let listed = state.services.conversations.list(actor, query)?;
        let last = listed.conversations.len() < LIST_PAGE as usize;
        found.extend(listed.conversations);
        if last {
            break;
        }
    }
    Ok(found)
}

/// The sequence number of a message of `conversation`, for the dialects' message-id cursors; a
/// message of another conversation is not found.
fn sequence_of(state: &AppState, actor: &Actor, conversation: ConversationId, id: MessageId) -> Result<u64, ApiError> {
    let message = state.services.messages.get(actor, id)?;
    if message.conversation_id != conversation {
        return Err(node::Error::NotFound("message").into());
    }
    Ok(message.sequence_number)
}
