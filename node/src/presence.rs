//! Typing and presence: best-effort signals, never stored, sent to the live connections of the users
//! who share a conversation with the subject. Users of other nodes hear of them through their home
//! nodes: one direct federation request per node, sent in the background, never retried.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use protocol::ws::{PresenceEvent, ServerFrame, TypingEvent};
use protocol::{ConversationId, UserId};

use libp2p::PeerId;
use protocol::federation::Request;

use crate::conversations::records as conversations;
use crate::federation::Destination;
use crate::realtime::Hub;
use crate::remote::{Remote, homes, speaks_for};
use crate::storage::{Store, keys};
use crate::tasks::Tasks;
use crate::{Actor, Error, Result, contacts, users, validate};

/// The presence service.
pub struct Presence {
    store: Store,
    hub: Arc<Hub>,
    remote: Arc<Remote>,
    tasks: Tasks,
}

impl Presence {
    pub(crate) fn new(store: Store, hub: Arc<Hub>, remote: Arc<Remote>, tasks: Tasks) -> Self {
        Self {
            store,
            hub,
            remote,
            tasks,
        }
    }

    /// Sends a signal to other nodes in the background; a failure only loses the signal.
    fn tell(&self, nodes: Vec<Destination>, request: Request) {
        let Some(client) = self.remote.network().cloned() else {
            return;
        };
        for node in nodes {
            let (client, request) = (client.clone(), request.clone());
            self.tasks.spawn(async move {
                if let Err(err) = client.request(node.peer, request).await {
                    tracing::debug!(node = %node.node, error = %err, "a typing or presence signal was lost");
                }
            });
        }
    }

    /// The home nodes of the other members of the user's conversations.
    fn remote_nodes(&self, members: &[UserId]) -> Result<Vec<Destination>> {
        Ok(homes::of_members(&self.store, members)?
            .into_values()
            .map(|(destination, _)| destination)
            .collect())
    }

    /// Tells the other participants' connections that the caller started or stopped typing.
    pub fn typing(&self, actor: &Actor, conversation: ConversationId, typing: bool) -> Result<()> {
        conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let display_name = users::records::get_user(&self.store, actor.user_id)?
            .map(|u| u.display_name)
            .ok_or(Error::NotFound("user"))?;
        let members = conversations::member_ids(&self.store, conversation)?;
        let request = Request::Typing {
            conversation_id: conversation,
            user_id: actor.user_id,
            display_name: display_name.clone(),
            typing,
        };
        self.tell(self.remote_nodes(&members)?, request);
        self.typing_here(actor.user_id, conversation, display_name, typing)
    }

    /// Shows a typing signal to the local members of a conversation.
    fn typing_here(
        &self,
        user_id: UserId,
        conversation: ConversationId,
        display_name: String,
        typing: bool,
    ) -> Result<()> {
        let event = TypingEvent {
            timestamp: Utc::now(),
            user_id,
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
            if user != user_id && !contacts::has_blocked(&self.store, user, user_id)? {
                self.hub.send_to_user(user, &frame);
            }
        }
        Ok(())
    }

    /// A typing signal of another node's user, from `peer`, which must be that user's home node.
    pub(crate) fn remote_typing(
        &self,
        peer: PeerId,
        conversation: ConversationId,
        user: UserId,
        display_name: &str,
        typing: bool,
    ) -> Result<()> {
        speaks_for(&self.store, peer, user)?;
        conversations::require_participant(&self.store, conversation, user)?;
        let display_name = validate::text("display_name", display_name, 1, 64)?;
        self.typing_here(user, conversation, display_name, typing)
    }

    /// A presence change of another node's user, from `peer`, which must be that user's home node.
    pub(crate) fn remote_presence(&self, peer: PeerId, user: UserId, online: bool, status: &str) -> Result<()> {
        speaks_for(&self.store, peer, user)?;
        self.announce_here(user, online, Some(status)).map(drop)
    }

    /// Tells everyone who shares a conversation with the user that it came online or went offline.
    pub fn announce(&self, user: UserId, online: bool, status: Option<&str>) -> Result<()> {
        let status = self.announce_here(user, online, status)?;
        let mut members = Vec::new();
        for conversation in conversations::memberships(&self.store, user)? {
            members.extend(
                conversations::participants(&self.store, conversation)?
                    .into_iter()
                    .map(|(m, _)| m),
            );
        }
        members.sort();
        members.dedup();
        let request = Request::Presence {
            user_id: user,
            online,
            status,
        };
        self.tell(self.remote_nodes(&members)?, request);
        Ok(())
    }

    /// Shows a presence change to the local users who share a conversation with the user; returns the
    /// status shown.
    fn announce_here(&self, user: UserId, online: bool, status: Option<&str>) -> Result<String> {
        let status = match status {
            Some(status) => validate::text("status", status, 1, 32)?,
            None => if online { "online" } else { "offline" }.to_owned(),
        };
        let event = PresenceEvent {
            timestamp: Utc::now(),
            user_id: user,
            is_online: online,
            status: status.clone(),
        };
        let frame = if online {
            ServerFrame::PresenceOnline(event)
        } else {
            ServerFrame::PresenceOffline(event)
        };
        for contact in self.contacts(user)? {
            self.hub.send_to_user(contact, &frame);
        }
        Ok(status)
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
