//! DMs, groups and channels: membership, roles and the rules of who may change what, plus each member's
//! personal view (mute, pin, archive, favourite, cleared history, read marker). This node hosts the
//! conversations its users create; the sequence counter lives apart from the record (see `messages`).

mod invites;
mod members;
mod personal;
pub(crate) mod records;
mod rehome;
mod replica;

use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    Conversation, ConversationKind, ConversationList, ConversationListQuery, ConversationPage, ConversationSearchQuery,
    CreateConversationRequest, DeleteConversationQuery, DirectQuery, GroupSettings, Role, SequenceInfo,
    UpdateConversationRequest, UpdateSettings,
};
use protocol::webhooks::WebhookEvent;
use protocol::{ConversationId, UserId};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

pub use self::personal::PersonalChange;
pub(crate) use self::records::{
    Activity, ConversationRecord, ParticipantRecord, activity, get, member_ids, memberships, participant, participants,
    put_participant, require_participant,
};

use self::records::{put, view};
use self::replica::{ensure_hosted_here, known_user};
use crate::locks::ConversationLocks;
use crate::outbox::Outbox;
use crate::realtime::Hub;
use crate::remote::Remote;
use crate::storage::{Store, TreeId, WriteSet, encode, keys};
use crate::webhooks::Webhooks;
use crate::{Actor, Error, Result, contacts, validate};

pub(crate) use self::records::MAX_PARTICIPANTS;
pub(crate) use self::rehome::concerns;
/// Longest retention that may be set.
pub(crate) const MAX_RETENTION_DAYS: u32 = 3650;

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

/// Applies a settings change, checking each field.
fn apply_settings(settings: &mut GroupSettings, update: &UpdateSettings) -> Result<()> {
    if let Some(private) = update.is_private {
        settings.is_private = private;
    }
    if let Some(allow) = update.allow_invites {
        settings.allow_invites = allow;
    }
    match update.message_retention_days {
        Some(0) => settings.message_retention_days = None,
        Some(days) if days > MAX_RETENTION_DAYS => {
            return Err(Error::invalid(
                "message_retention_days",
                format!("must be at most {MAX_RETENTION_DAYS}"),
            ));
        }
        Some(days) => settings.message_retention_days = Some(days),
        None => {}
    }
    match update.message_retention_seconds {
        Some(0) => settings.message_retention_seconds = None,
        Some(secs) if secs > u64::from(MAX_RETENTION_DAYS) * 86_400 => {
            return Err(Error::invalid("message_retention_seconds", "must be at most ten years"));
        }
        Some(secs) => settings.message_retention_seconds = Some(secs),
        None => {}
    }
    Ok(())
}

/// The conversations service.
pub struct Conversations {
    store: Store,
    hub: Arc<Hub>,
    locks: Arc<ConversationLocks>,
    webhooks: Arc<Webhooks>,
    outbox: Arc<Outbox>,
    remote: Arc<Remote>,
}

impl Conversations {
    pub(crate) fn new(
        store: Store,
        hub: Arc<Hub>,
        locks: Arc<ConversationLocks>,
        webhooks: Arc<Webhooks>,
        outbox: Arc<Outbox>,
        remote: Arc<Remote>,
    ) -> Self {
        Self {
            store,
            hub,
            locks,
            webhooks,
            outbox,
            remote,
        }
    }

    /// Tells the participants' webhooks that a conversation's details or settings changed.
    fn announce_update(&self, actor: &Actor, record: &ConversationRecord) -> Result<()> {
        let data = || {
            serde_json::json!({
                "conversation_id": record.id,
                "type": record.kind,
                "subject": record.subject,
                "updated_by": actor.user_id,
                "updated_at": record.updated_at,
            })
        };
        self.webhooks.emit(
            member_ids(&self.store, record.id)?,
            WebhookEvent::ConversationUpdated,
            data,
        );
        Ok(())
    }

    fn view_for(&self, record: &ConversationRecord, user: UserId) -> Result<Conversation> {
        let me = participant(&self.store, record.id, user)?.ok_or(Error::NotFound("conversation"))?;
        Ok(view(record, activity(&self.store, record.id)?, &me))
    }

    /// Creates a DM, group or channel. A DM that already exists between the two users is returned
    /// instead, with `false` for "not created".
    /// Participants may be named by id or by handle, on any node.
    pub async fn create(&self, actor: &Actor, mut request: CreateConversationRequest) -> Result<(Conversation, bool)> {
        self.remote.resolve_refs(&mut request.participants).await?;
        let mut others: Vec<UserId> = Vec::new();
        for named in &request.participants {
            let user = named.id().ok_or(Error::NotFound("user"))?;
            if user != actor.user_id && !others.contains(&user) {
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
            if !known_user(&self.store, *user)? {
                return Err(Error::NotFound("user"));
            }
            contacts::ensure_not_blocked_by(&self.store, *user, actor.user_id)?;
        }
        let now = Utc::now();
        let mut settings = GroupSettings {
            allow_invites: true,
            ..GroupSettings::default()
        };
        let (subject, description, roles) = match request.kind {
            ConversationKind::Dm => {
                let [other] = others.as_slice() else {
                    return Err(Error::invalid("participants", "a DM names exactly one other user"));
                };
                if request.settings.is_some() {
                    return Err(Error::invalid("settings", "a DM has no settings"));
                }
                if let Some(existing) = self.direct_between(actor.user_id, *other)? {
                    return Ok((self.view_for(&existing, actor.user_id)?, false));
                }
                settings.allow_invites = false;
                (None, None, vec![(actor.user_id, Role::Owner), (*other, Role::Owner)])
            }
            ConversationKind::Group | ConversationKind::Channel => {
                let subject = validate::text("subject", request.subject.as_deref().unwrap_or(""), 1, 100)?;
                let description = validate::optional_text("description", request.description.as_deref(), 500)?;
                if let Some(update) = &request.settings {
                    apply_settings(&mut settings, update)?;
                }
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
            settings,
            invite_code: None,
            host: None,
            moved_from: None,
        };
        let t = &self.store.trees;
        let created = t.gated(|| {
            (
                t.convid_conversation.sled(),
                t.convuser_participant.sled(),
                t.userconv_membership.sled(),
                t.dmpair_convid.sled(),
            )
                .transaction(|(conversations, members, memberships, dms)| -> TxResult<bool> {
                    if record.kind == ConversationKind::Dm {
                        let pair = keys::dm_pair(roles[0].0, roles[1].0);
                        if dms.get(&pair)?.is_some() {
                            return Ok(false);
                        }
                        dms.insert(pair, record.id.as_bytes())?;
                    }
                    conversations.insert(record.id.as_bytes(), encode(&record))?;
                    for (user, role) in &roles {
                        members.insert(
                            keys::member(record.id, *user),
                            encode(&ParticipantRecord::new(*role, now)),
                        )?;
                        memberships.insert(keys::membership(*user, record.id), &[])?;
                    }
                    Ok(true)
                })
        })?;
        if !created {
            let existing = self
                .direct_between(roles[0].0, roles[1].0)?
                .ok_or(Error::NotFound("conversation"))?;
            return Ok((self.view_for(&existing, actor.user_id)?, false));
        }
        if record.retention_secs().is_some() {
            self.store.trees.retention_convid.insert(record.id.as_bytes(), &[])?;
        }
        self.replicate(record.id, &[])?;
        self.store.commit().await?;
        Ok((
            view(&record, Activity::default(), &ParticipantRecord::new(Role::Owner, now)),
            true,
        ))
    }

    fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationRecord>> {
        match self.store.trees.dmpair_convid.get(keys::dm_pair(a, b))? {
            Some(id) => match ConversationId::from_slice(&id) {
                Some(id) => get(&self.store, id),
                None => Err(Error::Corrupt("dm pair index".into())),
            },
            None => Ok(None),
        }
    }

    /// Every conversation the user sees in its list: pinned first, then by latest activity. One the
    /// user deleted "for me" stays hidden until a newer message arrives.
    fn all_of(&self, user: UserId) -> Result<Vec<Conversation>> {
        let mut list = Vec::new();
        for id in memberships(&self.store, user)? {
            let (Some(record), Some(me)) = (get(&self.store, id)?, participant(&self.store, id, user)?) else {
                continue;
            };
            let activity = activity(&self.store, id)?;
            if me.cleared_through > 0 && activity.last_seq <= me.cleared_through {
                continue;
            }
            list.push(view(&record, activity, &me));
        }
        list.sort_by(|a, b| {
            let recent = |c: &Conversation| c.last_message_at.unwrap_or(c.created_at);
            b.is_pinned.cmp(&a.is_pinned).then_with(|| recent(b).cmp(&recent(a)))
        });
        Ok(list)
    }

    /// A page of the caller's conversations, optionally filtered by archived, pinned or favourite.
    pub fn list(&self, actor: &Actor, query: ConversationListQuery) -> Result<ConversationPage> {
        let limit = validate::limit(query.limit, 20, 100)?;
        let number = validate::page(query.page)?;
        let wanted = |flag: Option<bool>, value: bool| flag.is_none_or(|flag| flag == value);
        let all: Vec<Conversation> = self
            .all_of(actor.user_id)?
            .into_iter()
            .filter(|c| {
                wanted(query.archived, c.is_archived)
                    && wanted(query.pinned, c.is_pinned)
                    && wanted(query.favorite, c.is_favorite)
            })
            .collect();
        let total = all.len();
        let conversations = all.into_iter().skip((number - 1) * limit).take(limit).collect();
        Ok(ConversationPage {
            conversations,
            total,
            page: number as u32,
            limit: limit as u32,
        })
    }

    /// One conversation the caller takes part in.
    pub fn get(&self, actor: &Actor, id: ConversationId) -> Result<Conversation> {
        let (record, me) = require_participant(&self.store, id, actor.user_id)?;
        Ok(view(&record, activity(&self.store, id)?, &me))
    }

    fn manageable(&self, actor: &Actor, id: ConversationId) -> Result<(ConversationRecord, ParticipantRecord)> {
        let (record, me) = require_participant(&self.store, id, actor.user_id)?;
        ensure_hosted_here(&record)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::forbidden("a DM has no details to change"));
        }
        if me.role < Role::Admin {
            return Err(Error::forbidden("only owners and admins can change the conversation"));
        }
        Ok((record, me))
    }

    /// Stores a change to a conversation's details or settings: durable, sent to the other members'
    /// nodes, and announced to webhooks.
    async fn save_change(&self, actor: &Actor, record: &mut ConversationRecord) -> Result<()> {
        record.updated_at = Utc::now();
        put(&self.store, record)?;
        self.replicate(record.id, &[])?;
        self.store.commit().await?;
        self.announce_update(actor, record)
    }

    /// Changes a group's or channel's details (owners and admins).
    pub async fn update(
        &self,
        actor: &Actor,
        id: ConversationId,
        request: UpdateConversationRequest,
    ) -> Result<Conversation> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = self.manageable(actor, id)?;
        if let Some(subject) = &request.subject {
            record.subject = Some(validate::text("subject", subject, 1, 100)?);
        }
        if request.description.is_some() {
            record.description = validate::optional_text("description", request.description.as_deref(), 500)?;
        }
        if request.avatar_url.is_some() {
            record.avatar_url = validate::url("avatar_url", request.avatar_url.as_deref())?;
        }
        self.save_change(actor, &mut record).await?;
        Ok(view(&record, activity(&self.store, id)?, &me))
    }

    /// Points a group's or channel's avatar at a stored picture (owners and admins); returns the
    /// conversation and the previous URL.
    pub async fn set_avatar(
        &self,
        actor: &Actor,
        id: ConversationId,
        url: String,
    ) -> Result<(Conversation, Option<String>)> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = self.manageable(actor, id)?;
        let previous = record.avatar_url.replace(url);
        self.save_change(actor, &mut record).await?;
        Ok((view(&record, activity(&self.store, id)?, &me), previous))
    }

    /// Changes a group's or channel's settings (owners and admins). Turning invites off revokes the link.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        id: ConversationId,
        update: UpdateSettings,
    ) -> Result<Conversation> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = self.manageable(actor, id)?;
        apply_settings(&mut record.settings, &update)?;
        if !record.settings.allow_invites {
            self.drop_invite(&mut record)?;
        }
        self.save_change(actor, &mut record).await?;
        Ok(view(&record, activity(&self.store, id)?, &me))
    }

    /// Deletes a conversation for everyone (owners and admins), or only for the caller.
    pub async fn delete(&self, actor: &Actor, id: ConversationId, query: DeleteConversationQuery) -> Result<()> {
        if query.for_all == Some(false) {
            return self.delete_for_me(actor, id).await;
        }
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        ensure_hosted_here(&record)?;
        if me.role < Role::Admin {
            return Err(Error::forbidden(
                "only owners and admins can delete the conversation for everyone",
            ));
        }
        self.drop_invite(&mut record)?;
        let members = participants(&self.store, id)?;
        let stored = activity(&self.store, id)?.stored.unwrap_or_default();
        // One write set, as every write of the activity record is: a message's set replayed after a
        // crash then comes before the deletion, never after it.
        let mut set = WriteSet::new(&self.store);
        set.remove(TreeId::convid_conversation, id.as_bytes());
        set.remove(TreeId::convid_activity, id.as_bytes());
        for (user, _) in &members {
            set.remove(TreeId::convuser_participant, keys::member(id, *user));
            set.remove(TreeId::userconv_membership, keys::membership(*user, id));
        }
        if record.kind == ConversationKind::Dm
            && let [(a, _), (b, _)] = members.as_slice()
        {
            set.remove(TreeId::dmpair_convid, keys::dm_pair(*a, *b));
        }
        // Its messages leave the total with its activity record, which counted them.
        set.count_messages(-i64::try_from(stored).unwrap_or(i64::MAX));
        set.apply()?;
        self.store.trees.retention_convid.remove(id.as_bytes())?;
        crate::messages::purge_conversation(&self.store, id)?;
        self.retire(&record, &members.iter().map(|(u, _)| *u).collect::<Vec<_>>())?;
        self.store.commit().await
    }

    /// The DM between two users; the caller must be one of them.
    pub fn direct(&self, actor: &Actor, query: DirectQuery) -> Result<Conversation> {
        let other = if query.user_id_1 == actor.user_id {
            query.user_id_2
        } else if query.user_id_2 == actor.user_id {
            query.user_id_1
        } else {
            return Err(Error::forbidden("you can only look up your own DMs"));
        };
        let record = self
            .direct_between(actor.user_id, other)?
            .ok_or(Error::NotFound("conversation"))?;
        self.view_for(&record, actor.user_id)
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
