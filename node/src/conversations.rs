//! DMs and groups: membership, roles and the rules of who may change what. This node hosts the
//! conversations its users create; the sequence counter lives apart from the record (see `messages`).

use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    AddParticipantRequest, ChangeRoleRequest, Conversation, ConversationKind, ConversationList, ConversationPage,
    ConversationSearchQuery, CreateConversationRequest, DirectQuery, PageQuery, Participant, ParticipantList, Role,
    SequenceInfo, Timestamp, UpdateConversationRequest,
};
use protocol::{ConversationId, UserId};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::locks::ConversationLocks;
use crate::storage::{Store, decode, encode, keys};
use crate::{Actor, Error, Result, contacts, users, validate};

/// Most participants a conversation may have.
pub const MAX_PARTICIPANTS: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConversationRecord {
    pub(crate) id: ConversationId,
    pub(crate) kind: ConversationKind,
    pub(crate) subject: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) avatar_url: Option<String>,
    pub(crate) creator_id: UserId,
    pub(crate) participant_count: usize,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Activity {
    pub(crate) last_seq: u64,
    pub(crate) last_message_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ParticipantRecord {
    pub(crate) role: Role,
    pub(crate) joined_at: Timestamp,
}

pub(crate) fn get(store: &Store, id: ConversationId) -> Result<Option<ConversationRecord>> {
    store
        .trees
        .convid_conversation
        .get(id.as_bytes())?
        .map(|b| decode(&b))
        .transpose()
}

pub(crate) fn activity(store: &Store, id: ConversationId) -> Result<Activity> {
    Ok(store
        .trees
        .convid_activity
        .get(id.as_bytes())?
        .map(|b| decode(&b))
        .transpose()?
        .unwrap_or_default())
}

fn member_key(conversation: ConversationId, user: UserId) -> Vec<u8> {
    keys::join(&[conversation.as_bytes(), user.as_bytes()])
}

fn membership_key(user: UserId, conversation: ConversationId) -> Vec<u8> {
    keys::join(&[user.as_bytes(), conversation.as_bytes()])
}

fn dm_key(a: UserId, b: UserId) -> Vec<u8> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    keys::join(&[low.as_bytes(), high.as_bytes()])
}

pub(crate) fn participant(
    store: &Store,
    conversation: ConversationId,
    user: UserId,
) -> Result<Option<ParticipantRecord>> {
    store
        .trees
        .convuser_participant
        .get(member_key(conversation, user))?
        .map(|b| decode(&b))
        .transpose()
}

pub(crate) fn participants(store: &Store, conversation: ConversationId) -> Result<Vec<(UserId, ParticipantRecord)>> {
    let mut list = Vec::new();
    for entry in store.trees.convuser_participant.scan_prefix(conversation.as_bytes()) {
        let (key, value) = entry?;
        let Some(user) = keys::id_at(&key, 16).map(UserId::from_bytes) else {
            continue;
        };
        list.push((user, decode(&value)?));
    }
    Ok(list)
}

/// Loads a conversation the caller takes part in; others are refused, so only participants ever read it.
pub(crate) fn require_participant(
    store: &Store,
    conversation: ConversationId,
    user: UserId,
) -> Result<(ConversationRecord, ParticipantRecord)> {
    let record = get(store, conversation)?.ok_or(Error::NotFound("conversation"))?;
    let participant = participant(store, conversation, user)?
        .ok_or(Error::Forbidden("you are not a participant of this conversation"))?;
    Ok((record, participant))
}

/// Removes a deleted account from every conversation it belonged to.
pub(crate) fn forget_user(store: &Store, user: UserId) -> Result<()> {
    let t = &store.trees;
    for entry in t.userconv_membership.scan_prefix(user.as_bytes()) {
        let (key, _) = entry?;
        let Some(conversation) = keys::id_at(&key, 16).map(ConversationId::from_bytes) else {
            continue;
        };
        t.convuser_participant.remove(member_key(conversation, user))?;
        t.userconv_membership.remove(key)?;
        if let Some(mut record) = get(store, conversation)? {
            record.participant_count = record.participant_count.saturating_sub(1);
            t.convid_conversation.insert(conversation.as_bytes(), encode(&record))?;
        }
    }
    Ok(())
}

fn view(record: &ConversationRecord, activity: Activity) -> Conversation {
    Conversation {
        id: record.id,
        kind: record.kind,
        subject: record.subject.clone(),
        description: record.description.clone(),
        avatar_url: record.avatar_url.clone(),
        creator_id: record.creator_id,
        participant_count: record.participant_count,
        last_sequence: activity.last_seq,
        last_message_at: activity.last_message_at,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

/// The conversations service.
pub struct Conversations {
    store: Store,
    locks: Arc<ConversationLocks>,
}

impl Conversations {
    pub(crate) fn new(store: Store, locks: Arc<ConversationLocks>) -> Self {
        Self { store, locks }
    }

    fn view(&self, record: &ConversationRecord) -> Result<Conversation> {
        Ok(view(record, activity(&self.store, record.id)?))
    }

    /// Creates a DM or group. A DM that already exists between the two users is returned instead, with
    /// `false` for "not created".
    pub async fn create(&self, actor: &Actor, request: CreateConversationRequest) -> Result<(Conversation, bool)> {
        let mut others: Vec<UserId> = Vec::new();
        for user in request.participants.iter().copied().filter(|u| *u != actor.user_id) {
            if !others.contains(&user) {
                others.push(user);
            }
        }
        if others.len() + 1 > MAX_PARTICIPANTS {
            return Err(Error::invalid(
                "participants",
                format!("at most {MAX_PARTICIPANTS} participants"),
            ));
        }
        for user in &others {
            contacts::ensure_not_blocked_by(&self.store, *user, actor.user_id)?;
            if users::get_user(&self.store, *user)?.is_none() {
                return Err(Error::invalid("participants", format!("user {user} does not exist")));
            }
        }
        let now = Utc::now();
        let (subject, description, roles) = match request.kind {
            ConversationKind::Dm => {
                let [other] = others.as_slice() else {
                    return Err(Error::invalid("participants", "a DM names exactly one other user"));
                };
                if let Some(existing) = self.direct_between(actor.user_id, *other)? {
                    return Ok((self.view(&existing)?, false));
                }
                (None, None, vec![(actor.user_id, Role::Owner), (*other, Role::Owner)])
            }
            ConversationKind::Group => {
                let subject = validate::text("subject", request.subject.as_deref().unwrap_or(""), 1, 100)?;
                let description = validate::optional_text("description", request.description.as_deref(), 500)?;
                let mut roles = vec![(actor.user_id, Role::Owner)];
                roles.extend(others.iter().map(|u| (*u, Role::Member)));
                (Some(subject), description, roles)
            }
        };
        let record = ConversationRecord {
            id: ConversationId::random(),
            kind: request.kind,
            subject,
            description,
            avatar_url: None,
            creator_id: actor.user_id,
            participant_count: roles.len(),
            created_at: now,
            updated_at: now,
        };
        let t = &self.store.trees;
        let created = (
            &t.convid_conversation,
            &t.convuser_participant,
            &t.userconv_membership,
            &t.dmpair_convid,
        )
            .transaction(|(conversations, members, memberships, dms)| -> TxResult<bool> {
                if record.kind == ConversationKind::Dm {
                    let pair = dm_key(roles[0].0, roles[1].0);
                    if dms.get(&pair)?.is_some() {
                        return Ok(false);
                    }
                    dms.insert(pair, record.id.as_bytes())?;
                }
                conversations.insert(record.id.as_bytes(), encode(&record))?;
                for (user, role) in &roles {
                    let participant = ParticipantRecord {
                        role: *role,
                        joined_at: now,
                    };
                    members.insert(member_key(record.id, *user), encode(&participant))?;
                    memberships.insert(membership_key(*user, record.id), &[])?;
                }
                Ok(true)
            })?;
        if !created {
            let existing = self
                .direct_between(roles[0].0, roles[1].0)?
                .ok_or(Error::NotFound("conversation"))?;
            return Ok((self.view(&existing)?, false));
        }
        self.store.commit().await?;
        Ok((view(&record, Activity::default()), true))
    }

    fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationRecord>> {
        match self.store.trees.dmpair_convid.get(dm_key(a, b))? {
            Some(id) => match ConversationId::from_slice(&id) {
                Some(id) => get(&self.store, id),
                None => Err(Error::Corrupt("dm pair index".into())),
            },
            None => Ok(None),
        }
    }

    fn all_of(&self, user: UserId) -> Result<Vec<Conversation>> {
        let mut list = Vec::new();
        for entry in self.store.trees.userconv_membership.scan_prefix(user.as_bytes()) {
            let (key, _) = entry?;
            let Some(id) = keys::id_at(&key, 16).map(ConversationId::from_bytes) else {
                continue;
            };
            if let Some(record) = get(&self.store, id)? {
                list.push(self.view(&record)?);
            }
        }
        list.sort_by(|a, b| {
            let recent = |c: &Conversation| c.last_message_at.unwrap_or(c.created_at);
            recent(b).cmp(&recent(a))
        });
        Ok(list)
    }

    /// The caller's conversations, most recently active first.
    pub fn list(&self, actor: &Actor, page: PageQuery) -> Result<ConversationPage> {
        let limit = validate::limit(page.limit, 20, 100)?;
        let number = match page.page {
            Some(0) => return Err(Error::invalid("page", "must be at least 1")),
            Some(n) => n,
            None => 1,
        };
        let all = self.all_of(actor.user_id)?;
        let total = all.len();
        let conversations = all
            .into_iter()
            .skip((number as usize - 1) * limit)
            .take(limit)
            .collect();
        Ok(ConversationPage {
            conversations,
            total,
            page: number,
            limit: limit as u32,
        })
    }

    /// One conversation the caller takes part in.
    pub fn get(&self, actor: &Actor, id: ConversationId) -> Result<Conversation> {
        let (record, _) = require_participant(&self.store, id, actor.user_id)?;
        self.view(&record)
    }

    /// Changes a group's details (owners and admins).
    pub async fn update(
        &self,
        actor: &Actor,
        id: ConversationId,
        request: UpdateConversationRequest,
    ) -> Result<Conversation> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::Forbidden("a DM has no details to change"));
        }
        if me.role < Role::Admin {
            return Err(Error::Forbidden("only owners and admins can change the conversation"));
        }
        if let Some(subject) = &request.subject {
            record.subject = Some(validate::text("subject", subject, 1, 100)?);
        }
        if request.description.is_some() {
            record.description = validate::optional_text("description", request.description.as_deref(), 500)?;
        }
        if request.avatar_url.is_some() {
            record.avatar_url = validate::url("avatar_url", request.avatar_url.as_deref())?;
        }
        record.updated_at = Utc::now();
        self.store
            .trees
            .convid_conversation
            .insert(id.as_bytes(), encode(&record))?;
        self.store.commit().await?;
        self.view(&record)
    }

    /// Deletes a conversation for everyone, messages included (owners and admins).
    pub async fn delete(&self, actor: &Actor, id: ConversationId) -> Result<()> {
        let _guard = self.locks.lock(id).await;
        let (record, me) = require_participant(&self.store, id, actor.user_id)?;
        if me.role < Role::Admin {
            return Err(Error::Forbidden("only owners and admins can delete the conversation"));
        }
        let members = participants(&self.store, id)?;
        let t = &self.store.trees;
        (
            &t.convid_conversation,
            &t.convuser_participant,
            &t.userconv_membership,
            &t.dmpair_convid,
            &t.convid_activity,
        )
            .transaction(
                |(conversations, participants, memberships, dms, activities)| -> TxResult<()> {
                    conversations.remove(id.as_bytes())?;
                    activities.remove(id.as_bytes())?;
                    for (user, _) in &members {
                        participants.remove(member_key(id, *user))?;
                        memberships.remove(membership_key(*user, id))?;
                    }
                    if record.kind == ConversationKind::Dm
                        && let [(a, _), (b, _)] = members.as_slice()
                    {
                        dms.remove(dm_key(*a, *b))?;
                    }
                    Ok(())
                },
            )?;
        crate::messages::purge_conversation(&self.store, id, members.iter().map(|(u, _)| *u))?;
        self.store.commit().await
    }

    /// The members of a conversation the caller takes part in: owners, then admins, then members.
    pub fn participants(&self, actor: &Actor, id: ConversationId) -> Result<ParticipantList> {
        require_participant(&self.store, id, actor.user_id)?;
        let mut list = Vec::new();
        for (user_id, record) in participants(&self.store, id)? {
            let user = users::get_user(&self.store, user_id)?;
            list.push(Participant {
                user_id,
                username: user.as_ref().map(|u| u.username.clone()),
                display_name: user.map(|u| u.display_name),
                role: record.role,
                joined_at: record.joined_at,
            });
        }
        list.sort_by_key(|p| (std::cmp::Reverse(p.role), p.joined_at));
        Ok(ParticipantList { participants: list })
    }

    /// Adds a member to a group. Admins may add members; only owners may grant admin or owner.
    pub async fn add_participant(
        &self,
        actor: &Actor,
        id: ConversationId,
        request: AddParticipantRequest,
    ) -> Result<Participant> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::Forbidden("a DM's participants cannot change"));
        }
        if me.role < Role::Admin {
            return Err(Error::Forbidden("only owners and admins can add participants"));
        }
        let role = request.role.unwrap_or(Role::Member);
        if role > Role::Member && me.role < Role::Owner {
            return Err(Error::Forbidden("only owners can add admins or owners"));
        }
        contacts::ensure_not_blocked_by(&self.store, request.user_id, actor.user_id)?;
        let user = users::get_user(&self.store, request.user_id)?.ok_or(Error::NotFound("user"))?;
        if participant(&self.store, id, user.id)?.is_some() {
            return Err(Error::Conflict("user is already a participant".into()));
        }
        if record.participant_count >= MAX_PARTICIPANTS {
            return Err(Error::Conflict(format!(
                "a conversation holds at most {MAX_PARTICIPANTS} participants"
            )));
        }
        record.participant_count += 1;
        record.updated_at = Utc::now();
        let participant = ParticipantRecord {
            role,
            joined_at: record.updated_at,
        };
        let t = &self.store.trees;
        (&t.convid_conversation, &t.convuser_participant, &t.userconv_membership).transaction(
            |(conversations, members, memberships)| -> TxResult<()> {
                conversations.insert(id.as_bytes(), encode(&record))?;
                members.insert(member_key(id, user.id), encode(&participant))?;
                memberships.insert(membership_key(user.id, id), &[])?;
                Ok(())
            },
        )?;
        self.store.commit().await?;
        Ok(Participant {
            user_id: user.id,
            username: Some(user.username),
            display_name: Some(user.display_name),
            role,
            joined_at: participant.joined_at,
        })
    }

    /// Removes a member, or lets the caller leave. Owners remove anyone, admins remove members; the last
    /// owner cannot leave while others remain.
    pub async fn remove_participant(&self, actor: &Actor, id: ConversationId, user: UserId) -> Result<()> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::Forbidden("a DM's participants cannot change"));
        }
        let target = participant(&self.store, id, user)?.ok_or(Error::NotFound("participant"))?;
        if user != actor.user_id {
            let allowed = match me.role {
                Role::Owner => true,
                Role::Admin => target.role == Role::Member,
                Role::Member => false,
            };
            if !allowed {
                return Err(Error::Forbidden("your role does not allow removing this participant"));
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
        (&t.convid_conversation, &t.convuser_participant, &t.userconv_membership).transaction(
            |(conversations, members, memberships)| -> TxResult<()> {
                conversations.insert(id.as_bytes(), encode(&record))?;
                members.remove(member_key(id, user))?;
                memberships.remove(membership_key(user, id))?;
                Ok(())
            },
        )?;
        self.store.commit().await
    }

    fn owner_count(&self, id: ConversationId) -> Result<usize> {
        Ok(participants(&self.store, id)?
            .iter()
            .filter(|(_, p)| p.role == Role::Owner)
            .count())
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
        if record.kind == ConversationKind::Dm {
            return Err(Error::Forbidden("a DM's participants cannot change"));
        }
        if me.role != Role::Owner {
            return Err(Error::Forbidden("only owners can change roles"));
        }
        let mut target = participant(&self.store, id, user)?.ok_or(Error::NotFound("participant"))?;
        if target.role == Role::Owner && request.role != Role::Owner && self.owner_count(id)? == 1 {
            return Err(Error::Conflict(
                "the last owner cannot be demoted; make another participant owner first".into(),
            ));
        }
        target.role = request.role;
        self.store
            .trees
            .convuser_participant
            .insert(member_key(id, user), encode(&target))?;
        self.store.commit().await?;
        let profile = users::get_user(&self.store, user)?;
        Ok(Participant {
            user_id: user,
            username: profile.as_ref().map(|u| u.username.clone()),
            display_name: profile.map(|u| u.display_name),
            role: target.role,
            joined_at: target.joined_at,
        })
    }

    /// The DM between two users; the caller must be one of them.
    pub fn direct(&self, actor: &Actor, query: DirectQuery) -> Result<Conversation> {
        let other = if query.user_id_1 == actor.user_id {
            query.user_id_2
        } else if query.user_id_2 == actor.user_id {
            query.user_id_1
        } else {
            return Err(Error::Forbidden("you can only look up your own DMs"));
        };
        let record = self
            .direct_between(actor.user_id, other)?
            .ok_or(Error::NotFound("conversation"))?;
        self.view(&record)
    }

    /// The caller's conversations whose subject contains the query.
    pub fn search(&self, actor: &Actor, query: ConversationSearchQuery) -> Result<ConversationList> {
        let needle = validate::text("query", &query.query, 1, 100)?.to_lowercase();
        let limit = validate::limit(query.limit, 20, 100)?;
        let conversations = self
            .all_of(actor.user_id)?
            .into_iter()
            .filter(|c| c.subject.as_deref().is_some_and(|s| s.to_lowercase().contains(&needle)))
            .take(limit)
            .collect();
        Ok(ConversationList { conversations })
    }

    /// The newest sequence number of a conversation.
    pub fn sequence(&self, actor: &Actor, id: ConversationId) -> Result<SequenceInfo> {
        require_participant(&self.store, id, actor.user_id)?;
        Ok(SequenceInfo {
            sequence: activity(&self.store, id)?.last_seq,
        })
    }
}
