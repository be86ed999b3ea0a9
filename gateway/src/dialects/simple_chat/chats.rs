//! What the one-to-one conversations (`conversations.rs`) and the groups (`groups.rs`) of this dialect
//! share: finding a conversation of the right kind, a page of messages backwards from a timestamp
//! cursor, and a send in the clear. A conversation of one kind is not found under the other's paths.

use chrono::Duration;
use node::Actor;
use protocol::api::{Conversation, ConversationKind, MessageQuery, SendMessageRequest, Timestamp};
use protocol::{ClientMessageId, ConversationId, MessageType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Result;
use super::shapes::{ChatMessage, Dm, Group, MessagePage};
use crate::{ApiError, AppState};

pub(super) type Extracted<T> = std::result::Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatMessageAnswer)]
pub(super) struct MessageAnswer {
    pub(super) message: ChatMessage,
}

/// `?cursor=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// A `next_cursor` from the page before: only messages stored before that time.
    #[serde(default)]
    cursor: Option<Timestamp>,
    /// Messages per page: 50 by default, at most 100.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

fn is_group(conversation: &Conversation) -> bool {
    conversation.kind != ConversationKind::Dm
}

/// The caller's conversations of one kind, newest activity first.
pub(super) fn conversations_of(state: &AppState, actor: &Actor, groups: bool) -> Result<Vec<Conversation>> {
    Ok(crate::dialects::all_conversations(state, actor)?
        .into_iter()
        .filter(|c| is_group(c) == groups)
        .collect())
}

/// A conversation of the kind the path names; the other kind is not found here.
pub(super) fn conversation(state: &AppState, actor: &Actor, id: ConversationId, group: bool) -> Result<Conversation> {
    let conversation = state.services.conversations.get(actor, id)?;
    if is_group(&conversation) != group {
        let what = if group { "group" } else { "conversation" };
        return Err(node::Error::NotFound(what).into());
    }
    Ok(conversation)
}

pub(super) fn dm(state: &AppState, actor: &Actor, conversation: &Conversation) -> Result<Dm> {
    let members = state.services.conversations.participants(actor, conversation.id)?;
    Ok(Dm::new(conversation, &members, actor.user_id))
}

pub(super) fn group(state: &AppState, actor: &Actor, conversation: &Conversation) -> Result<Group> {
    let members = state.services.conversations.participants(actor, conversation.id)?;
    Ok(Group::new(conversation, &members, actor.user_id))
}

/// A page backwards from the cursor, oldest first.
pub(super) fn page(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
    query: PageQuery,
    group: bool,
) -> Result<MessagePage> {
    conversation(state, actor, id, group)?;
    let query = MessageQuery {
        conversation_id: id,
        before_seq: None,
        after_seq: None,
        limit: query.limit,
        cursor: None,
        message_type: None,
        from: None,
        to: query.cursor.map(|cursor| cursor - Duration::nanoseconds(1)),
    };
    let page = state.services.messages.list(actor, query)?;
    let next_cursor = page
        .has_more
        .then(|| page.messages.first().map(|m| m.created_at))
        .flatten();
    Ok(MessagePage {
        messages: page.messages.iter().map(|m| ChatMessage::new(m, group)).collect(),
        next_cursor,
    })
}

pub(super) async fn send(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
    content: String,
    group: bool,
) -> Result<ChatMessage> {
    conversation(state, actor, id, group)?;
    let request = SendMessageRequest {
        conversation_id: id,
        ciphertexts: Vec::new(),
        body: Some(content),
        message_type: MessageType::Text,
        client_message_id: ClientMessageId::random(),
        reply_to: None,
        mentions: Vec::new(),
    };
    let message = state.services.messages.send(actor, request).await?;
    Ok(ChatMessage::new(&message, group))
}
