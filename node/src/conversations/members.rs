//! Who belongs to a conversation and with which role.

use chrono::Utc;
use protocol::api::{AddParticipantRequest, ChangeRoleRequest, ConversationKind, Participant, ParticipantList, Role};
use protocol::ws::{MembershipEvent, ServerFrame};
use protocol::{ConversationId, UserId};
use sled::Transactional;

use super::records::{ConversationRecord, ParticipantRecord, participant, participants, require_participant};
use super::{Conversations, MAX_PARTICIPANTS, TxResult};
use crate::storage::{encode, keys};
use crate::{Actor, Error, Result, contacts, users};

/// Which membership change a frame announces.
#[derive(Debug, Clone, Copy)]
pub(super) enum Change {
    Added,
    Removed,
    Role,
}

/// The frame announcing a membership change of `user` in `conversation`.
pub(super) fn membership_frame(
    change: Change,
    conversation: ConversationId,
    user: UserId,
    role: Option<Role>,
    by: Option<UserId>,
) -> ServerFrame {
    let event = MembershipEvent {
        timestamp: Utc::now(),
        conversation_id: conversation,
        user_id: user,
        role,
        by,
    };
    match change {
        Change::Added => ServerFrame::ParticipantAdded(event),
        Change::Removed => ServerFrame::ParticipantRemoved(event),
        Change::Role => ServerFrame::ParticipantRole(event),
    }
}

impl Conversations {
    /// Tells the live connections of a conversation's members here (and of `also`, a member just
    /// removed) about a committed membership change.
    pub(super) fn announce_membership(
        &self,
        id: ConversationId,
        frame: &ServerFrame,
        also: Option<UserId>,
    ) -> Result<()> {
        for (user, _) in participants(&self.store, id)? {
            self.hub.send_to_user(user, frame);
        }
        if let Some(user) = also {
            self.hub.send_to_user(user, frame);
        }
        Ok(())
    }

    fn profile(&self, user_id: UserId, record: &ParticipantRecord) -> Result<Participant> {
        let (username, display_name) = match users::records::get_user(&self.store, user_id)? {
            Some(user) => (Some(user.username), Some(user.display_name)),
            None => match crate::remote::homes::get(&self.store, user_id)? {
                Some(home) => (
                    home.username.map(|name| format!("{name}@{}", home.node)),
                    home.display_name,
                ),
                None => (None, None),
            },
        };
        Ok(Participant {
            user_id,
            username,
            display_name,
            role: record.role,
            joined_at: record.joined_at,
        })
    }

    /// The members of a conversation the caller takes part in: owners, then admins, then members.
    pub fn participants(&self, actor: &Actor, id: ConversationId) -> Result<ParticipantList> {
        require_participant(&self.store, id, actor.user_id)?;
        let mut list = participants(&self.store, id)?
            .iter()
            .map(|(user, record)| self.profile(*user, record))
            .collect::<Result<Vec<_>>>()?;
        list.sort_by_key(|p| (std::cmp::Reverse(p.role), p.joined_at));
        Ok(ParticipantList { participants: list })
    }

    /// Writes a new member (and the count) in one transaction.
    pub(super) fn admit(&self, record: &mut ConversationRecord, user: UserId, role: Role) -> Result<ParticipantRecord> {
        if participant(&self.store, record.id, user)?.is_some() {
            return Err(Error::Conflict("user is already a participant".into()));
        }
        if record.participant_count >= MAX_PARTICIPANTS {
            return Err(Error::Conflict(format!(
                "a conversation holds at most {MAX_PARTICIPANTS} participants"
            )));
        }
        record.participant_count += 1;
        record.updated_at = Utc::now();
        let member = ParticipantRecord::new(role, record.updated_at);
        let t = &self.store.trees;
        let id = record.id;
        t.gated(|| {
            (
                t.convid_conversation.sled(),
                t.convuser_participant.sled(),
                t.userconv_membership.sled(),
            )
                .transaction(|(conversations, members, memberships)| -> TxResult<()> {
                    conversations.insert(id.as_bytes(), encode(&*record))?;
                    members.insert(keys::member(id, user), encode(&member))?;
                    memberships.insert(keys::membership(user, id), &[])?;
                    Ok(())
                })
        })?;
        Ok(member)
    }

    /// Adds a member (named by id or handle, of any node) to a group or channel. Admins may add members;
    /// only owners may grant admin or owner.
    pub async fn add_participant(
        &self,
        actor: &Actor,
        id: ConversationId,
        mut request: AddParticipantRequest,
    ) -> Result<Participant> {
        self.remote
            .resolve_refs(std::slice::from_mut(&mut request.user_id))
            .await?;
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        super::ensure_hosted_here(&record)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::forbidden("a DM's participants cannot change"));
        }
        if me.role < Role::Admin {
            return Err(Error::forbidden("only owners and admins can add participants"));
        }
        let user = request
            .user_id
            .id()
            .ok_or_else(|| Error::invalid("user_id", format!("unknown user {}", request.user_id)))?;
        let role = request.role.unwrap_or(Role::Member);
        if role > Role::Member && me.role < Role::Owner {
            return Err(Error::forbidden("only owners can add admins or owners"));
        }
        if !super::known_user(&self.store, user)? {
            return Err(Error::NotFound("user"));
        }
        contacts::ensure_not_blocked_by(&self.store, user, actor.user_id)?;
        let member = self.admit(&mut record, user, role)?;
        self.replicate(id, &[])?;
        self.store.commit().await?;
        let frame = membership_frame(Change::Added, id, user, Some(role), Some(actor.user_id));
        self.announce_membership(id, &frame, None)?;
        self.profile(user, &member)
    }

    fn owner_count(&self, id: ConversationId) -> Result<usize> {
        Ok(participants(&self.store, id)?
            .iter()
            .filter(|(_, p)| p.role == Role::Owner)
            .count())
    }

    /// Removes a member, or lets the caller leave. Owners remove anyone, admins remove members; the last
    /// owner cannot leave while others remain.
    pub async fn remove_participant(&self, actor: &Actor, id: ConversationId, user: UserId) -> Result<()> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        super::ensure_hosted_here(&record)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::forbidden("a DM's participants cannot change"));
        }
        let target = participant(&self.store, id, user)?.ok_or(Error::NotFound("participant"))?;
        if user != actor.user_id {
            let allowed = match me.role {
                Role::Owner => true,
                Role::Admin => target.role == Role::Member,
                Role::Member => false,
            };
            if !allowed {
                return Err(Error::forbidden("your role does not allow removing this participant"));
            }
        }
        if target.role == Role::Owner && record.participant_count > 1 && self.owner_count(id)? == 1 {
            return Err(Error::Conflict(
                "the last owner cannot leave; make another participant owner first".into(),
            ));
        }
        record.participant_count -= 1;
        record.updated_at = Utc::now();
        let t = &self.store.trees;
        t.gated(|| {
            (
                t.convid_conversation.sled(),
                t.convuser_participant.sled(),
                t.userconv_membership.sled(),
            )
                .transaction(|(conversations, members, memberships)| -> TxResult<()> {
                    conversations.insert(id.as_bytes(), encode(&record))?;
                    members.remove(keys::member(id, user))?;
                    memberships.remove(keys::membership(user, id))?;
                    Ok(())
                })
        })?;
        self.replicate(id, &[user])?;
        self.store.commit().await?;
        let frame = membership_frame(Change::Removed, id, user, None, Some(actor.user_id));
        self.announce_membership(id, &frame, Some(user))
    }

    /// Changes a member's role (owners only); the last owner cannot be demoted.
    pub async fn change_role(
        &self,
        actor: &Actor,
        id: ConversationId,
        user: UserId,
        request: ChangeRoleRequest,
    ) -> Result<Participant> {
        let _guard = self.locks.lock(id).await;
        let (record, me) = require_participant(&self.store, id, actor.user_id)?;
        super::ensure_hosted_here(&record)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::forbidden("a DM's participants cannot change"));
        }
        if me.role != Role::Owner {
            return Err(Error::forbidden("only owners can change roles"));
        }
        let mut target = participant(&self.store, id, user)?.ok_or(Error::NotFound("participant"))?;
        if target.role == Role::Owner && request.role != Role::Owner && self.owner_count(id)? == 1 {
            return Err(Error::Conflict(
                "the last owner cannot be demoted; make another participant owner first".into(),
            ));
        }
        target.role = request.role;
        super::put_participant(&self.store, id, user, &target)?;
        self.replicate(id, &[])?;
        self.store.commit().await?;
        let frame = membership_frame(Change::Role, id, user, Some(target.role), Some(actor.user_id));
        self.announce_membership(id, &frame, None)?;
        self.profile(user, &target)
    }
}
