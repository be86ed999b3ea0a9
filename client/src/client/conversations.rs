//! Users and conversations as the node knows them, and this device's history of each.

use protocol::ConversationId;
use protocol::api::{
    Conversation, ConversationKind, ConversationPage, CreateConversationRequest, Participant, ParticipantList,
    UserList, UserProfile, UserRef,
};
use reqwest::Method;

use super::Client;
use crate::error::{Error, Result};
use crate::history::StoredMessage;

impl Client {
    /// The user with exactly this username.
    pub async fn find_user(&self, username: &str) -> Result<UserProfile> {
        let found: UserList = self
            .call(
                Method::GET,
                "/users/search",
                &[("query", username.to_owned()), ("limit", "50".to_owned())],
                None,
            )
            .await?;
        found
            .users
            .into_iter()
            .find(|user| user.username.eq_ignore_ascii_case(username))
            .ok_or_else(|| Error::UnknownUser(username.to_owned()))
    }

    /// The DM with `user` (an id, or a handle `username@node-name` of any node), created if it does
    /// not exist yet.
    pub async fn open_dm(&self, user: impl Into<UserRef>) -> Result<Conversation> {
        let request = CreateConversationRequest {
            kind: ConversationKind::Dm,
            subject: None,
            description: None,
            participants: vec![user.into()],
            settings: None,
        };
        self.call(Method::POST, "/conversations", &[], Some(&request)).await
    }

    /// A new group named `subject` with `members`, by id or handle (this user is added as its owner).
    pub async fn create_group<M: Into<UserRef>>(
        &self,
        subject: &str,
        members: impl IntoIterator<Item = M>,
    ) -> Result<Conversation> {
        let request = CreateConversationRequest {
            kind: ConversationKind::Group,
            subject: Some(subject.to_owned()),
            description: None,
            participants: members.into_iter().map(Into::into).collect(),
            settings: None,
        };
        self.call(Method::POST, "/conversations", &[], Some(&request)).await
    }

    /// Every conversation of this user, most recently active first.
    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        let mut all = Vec::new();
        for page in 1u32.. {
            let found: ConversationPage = self
                .call(
                    Method::GET,
                    "/conversations",
                    &[("page", page.to_string()), ("limit", "100".to_owned())],
                    None,
                )
                .await?;
            let done = found.conversations.is_empty() || all.len() + found.conversations.len() >= found.total;
            all.extend(found.conversations);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// The members of a conversation.
    pub async fn participants(&self, conversation: ConversationId) -> Result<Vec<Participant>> {
        let list: ParticipantList = self
            .call(
                Method::GET,
                &format!("/conversations/{conversation}/participants"),
                &[],
                None,
            )
            .await?;
        Ok(list.participants)
    }

    /// This device's history of a conversation (sent and received), in sequence order.
    pub fn history(&self, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
        let mut messages = self.inner.history.read(conversation)?;
        messages.sort_by_key(|m| m.sequence_number);
        Ok(messages)
    }
}
