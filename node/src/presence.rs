//! Typing and presence: best-effort signals, never stored, sent to the live connections of the users
//! who share a conversation with the subject.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use protocol::ws::{PresenceEvent, ServerFrame, TypingEvent};
use protocol::{ConversationId, UserId};

use crate::realtime::Hub;
use crate::storage::{Store, keys};
use crate::{Actor, Error, Result, contacts, conversations, users, validate};

/// The presence service.
pub struct Presence {
    store: Store,
    hub: Arc<Hub>,
}

impl Presence {
    pub(crate) fn new(store: Store, hub: Arc<Hub>) -> Self {
        Self { store, hub }
    }

    /// Tells the other participants' connections that the caller started or stopped typing.
    pub fn typing(&self, actor: &Actor, conversation: ConversationId, typing: bool) -> Result<()> {
        conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let display_name = users::get_user(&self.store, actor.user_id)?
            .map(|u| u.display_name)
            .ok_or(Error::NotFound("user"))?;
        let event = TypingEvent {
            timestamp: Utc::now(),
            user_id: actor.user_id,
            conversation_id: conversation,
            display_name,
            is_typing: typing,
        };
        let frame = if typing {
            ServerFrame::TypingStarted(event)
        } else {
            ServerFrame::TypingStopped(event)
        };
        for (user, _) in conversations::participants(&self.store, conversation)? {
            if user != actor.user_id && !contacts::has_blocked(&self.store, user, actor.user_id)? {
                self.hub.send_to_user(user, &frame);
            }
        }
        Ok(())
    }

    /// Tells everyone who shares a conversation with the user that it came online or went offline.
    pub fn announce(&self, user: UserId, online: bool, status: Option<&str>) -> Result<()> {
        let status = match status {
            Some(status) => validate::text("status", status, 1, 32)?,
            None => if online { "online" } else { "offline" }.to_owned(),
        };
        let event = PresenceEvent {
            timestamp: Utc::now(),
            user_id: user,
            is_online: online,
            status,
        };
        let frame = if online {
            ServerFrame::PresenceOnline(event)
        } else {
            ServerFrame::PresenceOffline(event)
        };
        for contact in self.contacts(user)? {
            self.hub.send_to_user(contact, &frame);
        }
        Ok(())
    }

    fn contacts(&self, user: UserId) -> Result<HashSet<UserId>> {
        let mut contacts = HashSet::new();
        for entry in self.store.trees.userconv_membership.scan_prefix(user.as_bytes()) {
            let (key, _) = entry?;
            let Some(conversation) = keys::id_at(&key, 16).map(ConversationId::from_bytes) else {
                continue;
            };
            for (member, _) in conversations::participants(&self.store, conversation)? {
                if member != user && self.hub.is_online(member) && !contacts::has_blocked(&self.store, member, user)? {
                    contacts.insert(member);
                }
            }
        }
        Ok(contacts)
    }
}
