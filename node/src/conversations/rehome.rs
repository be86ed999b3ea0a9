//! Conversations outlive a lost host. When a conversation's host no longer answers, an owner on another
//! node (any member, for a DM) moves it there (`POST /v1/conversations/{id}/host`): that node becomes
//! the host and continues the sequence from the newest message it holds, so the history stays one
//! numbered line. It tells every member's node with a handover signed by its node key
//! (`Event::Rehomed`), then a fresh snapshot. A replica accepts the handover only from the home node of
//! a user it knows as an owner (a member, for a DM), and only in place of the host it knows; it then
//! sends what it had queued for the old host for that conversation (sends, changes, receipts) to the
//! new one instead, in the same write. The new host takes its own users' queued work itself
//! (`Messages::take_queued_here`). A host that was only away and comes back accepts the handover too,
//! and becomes a replica: messages it ordered that no other node received stay with it alone.

use std::time::Duration;

use chrono::Utc;
use libp2p::PeerId;
use protocol::ConversationId;
use protocol::api::{Conversation, ConversationKind, Role};
use protocol::federation::{Event, Handover, Request};

use super::Conversations;
use super::records::{activity, member_ids, participant, put, require_participant, view};
use crate::federation::Destination;
use crate::realtime::Push;
use crate::remote::homes;
use crate::storage::{Store, TreeId, WriteSet, encode};
use crate::{Actor, Error, Result};

/// A host that does not answer a greeting within this long counts as gone.
const HOST_ANSWER: Duration = Duration::from_secs(5);

impl Conversations {
    /// Moves the conversation `id` here from a host that does not answer (see the module's doc);
    /// returns it with the host it moved from. Called again for a conversation it moved here, by an
    /// owner, it moves nothing and returns the same host, so work a crash left queued for that host
    /// can still be taken.
    pub async fn take_over(&self, actor: &Actor, id: ConversationId) -> Result<(Conversation, Destination)> {
        let (record, me) = require_participant(&self.store, id, actor.user_id)?;
        if record.kind != ConversationKind::Dm && me.role != Role::Owner {
            return Err(Error::forbidden(
                "only an owner can move a conversation to another node",
            ));
        }
        let old = match (&record.host, &record.moved_from) {
            (Some(host), _) => host.clone(),
            (None, Some(moved_from)) => return Ok((self.own_view(id, actor)?, moved_from.clone())),
            (None, None) => return Err(Error::Conflict("this node hosts the conversation already".into())),
        };
        if self.answers(&old).await {
            return Err(Error::Conflict(format!(
                "node {} hosts this conversation and answers; a conversation moves only from a host that is gone",
                old.node
            )));
        }
        let _guard = self.locks.lock(id).await;
        let (mut record, _) = require_participant(&self.store, id, actor.user_id)?;
        if record.host.as_ref() != Some(&old) {
            return Err(Error::Conflict("the conversation moved meanwhile".into()));
        }
        let now = Utc::now();
        record.host = None;
        record.moved_from = Some(old.clone());
        record.updated_at = now;
        put(&self.store, &record)?;
        let handover = Event::Rehomed(Handover {
            conversation_id: id,
            by: actor.user_id,
            replaces: old.peer.to_bytes(),
            at: now,
        });
        for (destination, _) in homes::of_members(&self.store, &member_ids(&self.store, id)?)?.values() {
            self.outbox.push(destination, &handover)?;
        }
        self.replicate(id, &[])?;
        self.store.commit().await?;
        tracing::info!(conversation = %id, from = %old.node, "took over hosting a conversation");
        Ok((self.own_view(id, actor)?, old))
    }

    fn own_view(&self, id: ConversationId, actor: &Actor) -> Result<Conversation> {
        let (record, me) = require_participant(&self.store, id, actor.user_id)?;
        Ok(view(&record, activity(&self.store, id)?, &me))
    }

    /// Whether `host` answers a greeting in time.
    async fn answers(&self, host: &Destination) -> bool {
        let Some(network) = self.remote.network() else {
            return false;
        };
        let hello = Request::Hello(crate::federation::node_info(self.remote.local().node.clone()));
        matches!(
            tokio::time::timeout(HOST_ANSWER, network.request(host.peer, hello)).await,
            Ok(Ok(_))
        )
    }

    /// Accepts the handover of a conversation to `peer` (see the module's doc).
    pub(crate) async fn apply_handover(&self, peer: PeerId, handover: &Handover) -> Result<Vec<Push>> {
        let id = handover.conversation_id;
        let _guard = self.locks.lock(id).await;
        let Some(mut record) = super::get(&self.store, id)? else {
            return Ok(Vec::new());
        };
        let local = self.remote.local();
        let replaced = match &record.host {
            Some(host) if host.peer == peer => return Ok(Vec::new()),
            Some(host) => host.clone(),
            None => local.clone(),
        };
        if replaced.peer.to_bytes() != handover.replaces {
            return Err(Error::forbidden(
                "a handover replaces the host this node knows, or none",
            ));
        }
        let mover = participant(&self.store, id, handover.by)?.ok_or(Error::NotFound("participant"))?;
        if record.kind != ConversationKind::Dm && mover.role != Role::Owner {
            return Err(Error::forbidden("only an owner moves a conversation"));
        }
        let new_host = homes::get(&self.store, handover.by)?
            .filter(|home| home.peer_id == peer)
            .ok_or(Error::forbidden("a node moves a conversation only for its own users"))?
            .destination();
        record.host = Some(new_host.clone());
        record.moved_from = None;
        let mut set = WriteSet::new(&self.store);
        set.insert(TreeId::convid_conversation, id.as_bytes(), encode(&record));
        if replaced != *local {
            for (envelope, _) in self
                .outbox
                .take_queued(&mut set, &replaced.node, |event| concerns(&self.store, event, id))?
            {
                self.outbox.push_into(&mut set, &new_host, envelope)?;
            }
        }
        set.apply()?;
        self.outbox.wake(&new_host.node);
        tracing::info!(conversation = %id, from = %replaced.node, to = %new_host.node, "a conversation moved");
        Ok(Vec::new())
    }
}

/// Whether `event`, queued here for a conversation's host, is about the conversation `id`.
pub(crate) fn concerns(store: &Store, event: &Event, id: ConversationId) -> bool {
    match event {
        Event::Submission(submission) => submission.conversation_id == id,
        Event::Receipt(notice) => notice.conversation_id == id,
        Event::QueuedChange(change) => store
            .trees
            .messageid_convseq
            .get(change.message_id.as_bytes())
            .ok()
            .flatten()
            .is_some_and(|location| location.starts_with(id.as_bytes())),
        _ => false,
    }
}
