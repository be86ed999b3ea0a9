//! Stored conversations, their members and the lookups every service shares.

use chrono::{DateTime, Utc};
use protocol::api::{Conversation, ConversationKind, GroupSettings, Role, Timestamp};
use protocol::{ConversationId, UserId};
use serde::{Deserialize, Serialize};

use crate::federation::Destination;
use crate::storage::{Store, decode, encode, keys};
use crate::{Error, Result};

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
    #[serde(default)]
    pub(crate) settings: GroupSettings,
    #[serde(default)]
    pub(crate) invite_code: Option<String>,
    /// The node hosting the conversation when it is not this one.
    #[serde(default)]
    pub(crate) host: Option<Destination>,
    /// The host this node took the conversation over from (see `rehome`).
    #[serde(default)]
    pub(crate) moved_from: Option<Destination>,
}

impl ConversationRecord {
    /// Retention in seconds, if any.
    pub(crate) fn retention_secs(&self) -> Option<u64> {
        let settings = &self.settings;
        settings
            .message_retention_seconds
            .or(settings.message_retention_days.map(|days| u64::from(days) * 86_400))
    }
}

/// The sequence counter and latest activity; written only with the messages it counts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Activity {
    pub(crate) last_seq: u64,
    pub(crate) last_message_at: Option<Timestamp>,
    /// Messages of the conversation in the store, which the node's total is summed from when it opens
    /// (`messages::totals`); none in a record written before it was kept.
    #[serde(default)]
    pub(crate) stored: Option<u64>,
}

/// A member and its personal view of the conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ParticipantRecord {
    pub(crate) role: Role,
    pub(crate) joined_at: Timestamp,
    #[serde(default)]
    pub(crate) muted_until: Option<Timestamp>,
    #[serde(default)]
    pub(crate) pinned: bool,
    #[serde(default)]
    pub(crate) archived: bool,
    #[serde(default)]
    pub(crate) favorite: bool,
    /// Messages up to here were deleted "for me" and are hidden from this member.
    #[serde(default)]
    pub(crate) cleared_through: u64,
    /// Messages up to here are read.
    #[serde(default)]
    pub(crate) read_through: u64,
}

impl ParticipantRecord {
    pub(crate) fn new(role: Role, joined_at: Timestamp) -> Self {
        Self {
            role,
            joined_at,
            muted_until: None,
            pinned: false,
            archived: false,
            favorite: false,
            cleared_through: 0,
            read_through: 0,
        }
    }
}

pub(crate) fn get(store: &Store, id: ConversationId) -> Result<Option<ConversationRecord>> {
    read(store, id)
}

/// A conversation's record decoded as `T`: the whole record, or the part of it a path needs.
fn read<T: serde::de::DeserializeOwned>(store: &Store, id: ConversationId) -> Result<Option<T>> {
    store
        .trees
        .convid_conversation
        .get(id.as_bytes())?
        .map(|b| decode(&b))
        .transpose()
}

/// Saves a conversation record and keeps the index of conversations with a retention in step.
pub(crate) fn put(store: &Store, record: &ConversationRecord) -> Result<()> {
    store
        .trees
        .convid_conversation
        .insert(record.id.as_bytes(), encode(record))?;
    if record.retention_secs().is_some() {
        store.trees.retention_convid.insert(record.id.as_bytes(), &[])?;
    } else {
        store.trees.retention_convid.remove(record.id.as_bytes())?;
    }
    Ok(())
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

pub(crate) fn participant(
    store: &Store,
    conversation: ConversationId,
    user: UserId,
) -> Result<Option<ParticipantRecord>> {
    store
        .trees
        .convuser_participant
        .get(keys::member(conversation, user))?
        .map(|b| decode(&b))
        .transpose()
}

pub(crate) fn put_participant(
    store: &Store,
    conversation: ConversationId,
    user: UserId,
    record: &ParticipantRecord,
) -> Result<()> {
    store
        .trees
        .convuser_participant
        .insert(keys::member(conversation, user), encode(record))?;
    Ok(())
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

/// The users taking part in a conversation, read from the keys alone (a message to a group of 200
/// asks for them with every send).
pub(crate) fn member_ids(store: &Store, conversation: ConversationId) -> Result<Vec<UserId>> {
    let mut ids = Vec::new();
    for key in store
        .trees
        .convuser_participant
        .scan_prefix(conversation.as_bytes())
        .keys()
    {
        ids.extend(keys::id_at(&key?, 16).map(UserId::from_bytes));
    }
    Ok(ids)
}

/// The conversations a user belongs to.
pub(crate) fn memberships(store: &Store, user: UserId) -> Result<Vec<ConversationId>> {
    let mut ids = Vec::new();
    for entry in store.trees.userconv_membership.scan_prefix(user.as_bytes()) {
        let (key, _) = entry?;
        ids.extend(keys::id_at(&key, 16).map(ConversationId::from_bytes));
    }
    Ok(ids)
}

/// Loads a conversation the caller takes part in; others are refused, so only participants ever read it.
pub(crate) fn require_participant(
    store: &Store,
    conversation: ConversationId,
    user: UserId,
) -> Result<(ConversationRecord, ParticipantRecord)> {
    let record = get(store, conversation)?.ok_or(Error::NotFound("conversation"))?;
    let participant = participant(store, conversation, user)?.ok_or_else(not_a_participant)?;
    Ok((record, participant))
}

fn not_a_participant() -> Error {
    Error::forbidden("you are not a participant of this conversation")
}

/// Where a conversation is hosted, read from its record without decoding the rest (texts, settings,
/// timestamps): a send and a delivery receipt need nothing else of it first, once per message.
#[derive(Debug, Deserialize)]
pub(crate) struct Hosting {
    #[serde(default)]
    pub(crate) host: Option<Destination>,
}

/// Where a conversation is hosted, for a path that decides by that alone.
pub(crate) fn hosting(store: &Store, conversation: ConversationId) -> Result<Hosting> {
    read(store, conversation)?.ok_or(Error::NotFound("conversation"))
}

/// [`require_participant`] for a path that needs only where the conversation is hosted.
pub(crate) fn require_member(store: &Store, conversation: ConversationId, user: UserId) -> Result<Hosting> {
    let hosting = hosting(store, conversation)?;
    ensure_participant(store, conversation, user)?;
    Ok(hosting)
}

/// Refuses a user who is not a participant, from the membership key alone (no record decoded), for a
/// path that has read the conversation already.
pub(crate) fn ensure_participant(store: &Store, conversation: ConversationId, user: UserId) -> Result<()> {
    match store
        .trees
        .convuser_participant
        .contains_key(keys::member(conversation, user))?
    {
        true => Ok(()),
        false => Err(not_a_participant()),
    }
}

/// Removes a deleted account from every conversation it belonged to.
pub(crate) fn forget_user(store: &Store, user: UserId) -> Result<()> {
    let t = &store.trees;
    for conversation in memberships(store, user)? {
        t.convuser_participant.remove(keys::member(conversation, user))?;
        t.userconv_membership.remove(keys::membership(user, conversation))?;
        if let Some(mut record) = get(store, conversation)? {
            record.participant_count = record.participant_count.saturating_sub(1);
            put(store, &record)?;
        }
    }
    Ok(())
}

/// "Muted indefinitely" is stored as the far future so one comparison answers "muted now?".
/// Most participants a conversation may hold.
pub(crate) const MAX_PARTICIPANTS: usize = 1024;

const LINK_PREFIX: &str = "parley://invite/";

/// The shareable form of an invite code.
pub(crate) fn link(code: &str) -> String {
    format!("{LINK_PREFIX}{code}")
}

pub(crate) fn forever() -> Timestamp {
    // 9999-12-31T23:59:59Z: far enough, and still a four-digit RFC 3339 year for clients.
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A conversation as one participant sees it.
pub(crate) fn view(record: &ConversationRecord, activity: Activity, me: &ParticipantRecord) -> Conversation {
    let can_see_invite = me.role >= Role::Admin && record.settings.allow_invites;
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
        settings: record.settings.clone(),
        invite_link: record.invite_code.as_deref().filter(|_| can_see_invite).map(link),
        role: me.role,
        muted_until: me.muted_until.filter(|until| *until > Utc::now()),
        is_pinned: me.pinned,
        is_archived: me.archived,
        is_favorite: me.favorite,
        host: record.host.as_ref().map(|host| host.node.to_string()),
    }
}
