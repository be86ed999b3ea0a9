//! Conversations across nodes. The node of a conversation's creator hosts it: it alone changes its
//! membership and settings, and after each change sends a signed snapshot to the home node of every
//! remote member (and of members just removed). A home node keeps that snapshot as a replica, so its
//! users list, read and post to the conversation as if it were local; changes to it are made at the host.

use std::collections::BTreeMap;

use libp2p::PeerId;
use protocol::api::ConversationKind;
use protocol::federation::{ConversationState, Envelope, Event, Member};
use protocol::{ConversationId, UserId};

use super::Conversations;
use super::members::{Change, membership_frame};
use super::records::{ConversationRecord, ParticipantRecord, participants, put};
use crate::federation::Destination;
use crate::realtime::Push;
use crate::remote::homes;
use crate::storage::{Store, encode, keys};
use crate::users::records::get_user;
use crate::{Error, Result, validate};

/// Refuses a change to a conversation another node hosts.
pub(crate) fn ensure_hosted_here(record: &ConversationRecord) -> Result<()> {
    match &record.host {
        Some(host) => Err(Error::Conflict(format!(
            "this conversation is hosted by node {}; its membership and settings change there",
            host.node
        ))),
        None => Ok(()),
    }
}

/// Whether a user exists here or is a remote user whose home is known.
pub(crate) fn known_user(store: &Store, user: UserId) -> Result<bool> {
    Ok(get_user(store, user)?.is_some() || homes::get(store, user)?.is_some())
}

impl Conversations {
    fn member(&self, user: UserId, record: &ParticipantRecord) -> Result<Option<Member>> {
        let local = self.remote.local();
        let (username, display_name, to) = match get_user(&self.store, user)? {
            Some(account) => (account.username, account.display_name, local.clone()),
            None => match homes::get(&self.store, user)? {
                Some(home) => (
                    home.username.clone().unwrap_or_default(),
                    home.display_name.clone().unwrap_or_default(),
                    home.destination(),
                ),
                None => return Ok(None),
            },
        };
        Ok(Some(Member {
            user_id: user,
            username,
            display_name,
            node: to.node,
            peer_id: to.peer.to_bytes(),
            role: record.role,
            joined_at: record.joined_at,
        }))
    }

    /// Sends the hosted conversation's snapshot to the home node of every remote member, and of the
    /// users in `former` (members just removed). The caller commits.
    pub(crate) fn replicate(&self, id: ConversationId, former: &[UserId]) -> Result<()> {
        let Some(record) = super::get(&self.store, id)? else {
            return Ok(());
        };
        if record.host.is_some() {
            return Ok(());
        }
        let current = participants(&self.store, id)?;
        let mut members = Vec::with_capacity(current.len());
        for (user, participant) in &current {
            members.extend(self.member(*user, participant)?);
        }
        let mut targets: Vec<UserId> = current.iter().map(|(user, _)| *user).collect();
        targets.extend_from_slice(former);
        let homes = homes::of_members(&self.store, &targets)?;
        if homes.is_empty() {
            return Ok(());
        }
        let event = Event::Conversation(ConversationState {
            conversation_id: id,
            kind: record.kind,
            subject: record.subject.clone(),
            description: record.description.clone(),
            creator_id: record.creator_id,
            created_at: record.created_at,
            updated_at: record.updated_at,
            settings: record.settings.clone(),
            members,
        });
        for (destination, _) in homes.values() {
            self.outbox.push(destination, &event)?;
        }
        Ok(())
    }

    /// Applies a snapshot from the conversation's host `peer`. The host must stay the same node, and
    /// members said to live here must exist here.
    /// The snapshot's signed envelope is kept with the replica, so its origin can be checked later.
    /// Returns the membership frames for this node's members, to push once the caller has committed.
    pub(crate) async fn apply_state(
        &self,
        peer: PeerId,
        state: &ConversationState,
        envelope: &Envelope,
    ) -> Result<Vec<Push>> {
        check_state(state)?;
        let local = self.remote.local();
        let id = state.conversation_id;
        let existing = super::get(&self.store, id)?;
        let host = match &existing {
            Some(record) => match &record.host {
                Some(host) if host.peer == peer => host.clone(),
                _ => return Err(Error::forbidden("only the conversation's host may change it")),
            },
            None => {
                let creator = state
                    .members
                    .iter()
                    .find(|m| m.user_id == state.creator_id)
                    .filter(|m| m.peer_id == peer.to_bytes())
                    .ok_or(Error::forbidden("a conversation is hosted by its creator's node"))?;
                Destination {
                    node: creator.node.clone(),
                    peer,
                }
            }
        };
        if existing
            .as_ref()
            .is_some_and(|record| record.updated_at > state.updated_at)
        {
            return Ok(Vec::new());
        }
        let mut incoming = BTreeMap::new();
        for member in &state.members {
            let here = member.peer_id == local.peer.to_bytes();
            if here {
                if get_user(&self.store, member.user_id)?.is_none() {
                    return Err(Error::invalid(
                        "members",
                        format!("user {} does not live here", member.user_id),
                    ));
                }
            } else {
                let peer = PeerId::from_bytes(&member.peer_id).map_err(|_| Error::invalid("members", "bad peer id"))?;
                let to = Destination {
                    node: member.node.clone(),
                    peer,
                };
                homes::remember_home(&self.store, member.user_id, &to, &member.username, &member.display_name)?;
            }
            incoming.insert(member.user_id, member);
        }
        let _guard = self.locks.lock(id).await;
        let before = participants(&self.store, id)?;
        let pushes = if existing.is_some() {
            membership_pushes(id, &before, &incoming)
        } else {
            Vec::new()
        };
        let t = &self.store.trees;
        for (user, _) in &before {
            if !incoming.contains_key(user) {
                t.convuser_participant.remove(keys::member(id, *user))?;
                t.userconv_membership.remove(keys::membership(*user, id))?;
            }
        }
        for (user, member) in &incoming {
            let mut record = super::participant(&self.store, id, *user)?
                .unwrap_or_else(|| ParticipantRecord::new(member.role, member.joined_at));
            record.role = member.role;
            t.convuser_participant
                .insert(keys::member(id, *user), encode(&record))?;
            t.userconv_membership.insert(keys::membership(*user, id), &[])?;
        }
        let record = ConversationRecord {
            id,
            kind: state.kind,
            subject: state.subject.clone(),
            description: state.description.clone(),
            avatar_url: None,
            creator_id: state.creator_id,
            participant_count: incoming.len(),
            created_at: state.created_at,
            updated_at: state.updated_at,
            settings: state.settings.clone(),
            invite_code: None,
            host: Some(host),
            moved_from: None,
        };
        if record.kind == ConversationKind::Dm
            && let [a, b] = state.members.as_slice()
        {
            t.dmpair_convid
                .insert(keys::dm_pair(a.user_id, b.user_id), id.as_bytes())?;
        }
        let envelope = envelope.to_bytes().map_err(|err| Error::Internal(err.to_string()))?;
        t.convid_envelope.insert(id.as_bytes(), envelope)?;
        put(&self.store, &record)?;
        Ok(pushes)
    }
}

/// What this node's members hear of a snapshot: who joined, who left (they hear it too), whose role
/// changed. A conversation first seen here announces nothing: it simply appears.
fn membership_pushes(
    id: ConversationId,
    before: &[(UserId, ParticipantRecord)],
    incoming: &BTreeMap<UserId, &Member>,
) -> Vec<Push> {
    let mut frames = Vec::new();
    for (user, member) in incoming {
        match before.iter().find(|(old, _)| old == user) {
            None => frames.push(membership_frame(Change::Added, id, *user, Some(member.role), None)),
            Some((_, old)) if old.role != member.role => {
                frames.push(membership_frame(Change::Role, id, *user, Some(member.role), None));
            }
            Some(_) => {}
        }
    }
    for (user, _) in before {
        if !incoming.contains_key(user) {
            frames.push(membership_frame(Change::Removed, id, *user, None, None));
        }
    }
    let mut audience: Vec<UserId> = before.iter().map(|(user, _)| *user).collect();
    audience.extend(incoming.keys().copied());
    audience.sort();
    audience.dedup();
    frames
        .into_iter()
        .flat_map(|frame| audience.iter().map(move |user| Push::User(*user, frame.clone())))
        .collect()
}

impl Conversations {
    /// Tells the home nodes of a deleted hosted conversation's remote members that it has no members
    /// left. The caller commits.
    pub(crate) fn retire(&self, record: &ConversationRecord, former: &[UserId]) -> Result<()> {
        if record.host.is_some() {
            return Ok(());
        }
        let event = Event::Conversation(ConversationState {
            conversation_id: record.id,
            kind: record.kind,
            subject: record.subject.clone(),
            description: record.description.clone(),
            creator_id: record.creator_id,
            created_at: record.created_at,
            updated_at: chrono::Utc::now(),
            settings: record.settings.clone(),
            members: Vec::new(),
        });
        for (destination, _) in homes::of_members(&self.store, former)?.values() {
            self.outbox.push(destination, &event)?;
        }
        Ok(())
    }
}

/// A snapshot is held to the limits of a local conversation.
fn check_state(state: &ConversationState) -> Result<()> {
    if state.members.len() > super::MAX_PARTICIPANTS {
        return Err(Error::invalid(
            "members",
            format!("at most {}", super::MAX_PARTICIPANTS),
        ));
    }
    if let Some(subject) = &state.subject {
        validate::text("subject", subject, 1, 100)?;
    }
    validate::optional_text("description", state.description.as_deref(), 500)?;
    for member in &state.members {
        validate::text("members.username", &member.username, 1, 64)?;
        validate::text("members.display_name", &member.display_name, 0, 128)?;
    }
    Ok(())
}
