//! Contacts and blocks. A block is one-sided and private to the blocker: the blocked user cannot open
//! a DM with the blocker, add them to a group, message them in a DM, or reach them with typing,
//! presence or calls.

use std::sync::Arc;

use chrono::Utc;
use protocol::UserId;
use protocol::api::{AddContactRequest, BlockedList, Contact, ContactList, Timestamp, UserProfile};
use serde::{Deserialize, Serialize};

use crate::realtime::Hub;
use crate::remote::{Remote, homes};
use crate::storage::{Store, decode, encode, keys};
use crate::users::records::get_user;
use crate::{Actor, Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContactRecord {
    added_at: Timestamp,
}

/// Whether `blocker` has blocked `user`.
pub(crate) fn has_blocked(store: &Store, blocker: UserId, user: UserId) -> Result<bool> {
    Ok(store
        .trees
        .userid_blockedid
        .contains_key(keys::user_pair(blocker, user))?)
}

/// Refuses when `target` has blocked `actor`.
pub(crate) fn ensure_not_blocked_by(store: &Store, target: UserId, actor: UserId) -> Result<()> {
    if has_blocked(store, target, actor)? {
        return Err(Error::forbidden("this user does not accept contact from you"));
    }
    Ok(())
}

/// Drops a deleted account's own lists.
pub(crate) fn forget_user(store: &Store, user: UserId) -> Result<()> {
    for tree in [&store.trees.userid_contactid, &store.trees.userid_blockedid] {
        for entry in tree.scan_prefix(user.as_bytes()) {
            tree.remove(entry?.0)?;
        }
    }
    Ok(())
}

/// The contacts service.
pub struct Contacts {
    store: Store,
    hub: Arc<Hub>,
    remote: Arc<Remote>,
}

impl Contacts {
    pub(crate) fn new(store: Store, hub: Arc<Hub>, remote: Arc<Remote>) -> Self {
        Self { store, hub, remote }
    }

    fn listed(&self, tree: &sled::Tree, owner: UserId) -> Result<Vec<Contact>> {
        let mut list = Vec::new();
        for entry in tree.scan_prefix(owner.as_bytes()) {
            let (key, value) = entry?;
            let Some(other) = keys::id_at(&key, 16).map(UserId::from_bytes) else {
                continue;
            };
            let record: ContactRecord = decode(&value)?;
            if let Some(profile) = self.profile(other)? {
                list.push(Contact {
                    profile,
                    added_at: record.added_at,
                });
            }
        }
        list.sort_by(|a, b| a.profile.username.cmp(&b.profile.username));
        Ok(list)
    }

    /// A local user's profile, or another node's user's as last known.
    fn profile(&self, user: UserId) -> Result<Option<UserProfile>> {
        match get_user(&self.store, user)? {
            Some(local) => Ok(Some(local.profile(&self.hub))),
            None => homes::cached_profile(&self.store, user),
        }
    }

    fn other_user(&self, actor: &Actor, other: UserId) -> Result<()> {
        if other == actor.user_id {
            return Err(Error::Conflict("the user is yourself".into()));
        }
        self.profile(other)?.ok_or(Error::NotFound("user"))?;
        Ok(())
    }

    /// The caller's contacts, by username.
    pub fn list(&self, actor: &Actor) -> Result<ContactList> {
        Ok(ContactList {
            contacts: self.listed(&self.store.trees.userid_contactid, actor.user_id)?,
        })
    }

    /// Adds a contact named by id or handle (a user of any node).
    pub async fn add(&self, actor: &Actor, mut request: AddContactRequest) -> Result<Contact> {
        self.remote
            .resolve_refs(std::slice::from_mut(&mut request.contact_user_id))
            .await?;
        let other = request
            .contact_user_id
            .id()
            .ok_or_else(|| Error::invalid("contact_user_id", "unknown user"))?;
        self.other_user(actor, other)?;
        let record = ContactRecord { added_at: Utc::now() };
        let previous = self.store.trees.userid_contactid.compare_and_swap(
            keys::user_pair(actor.user_id, other),
            None as Option<&[u8]>,
            Some(encode(&record)),
        )?;
        if previous.is_err() {
            return Err(Error::Conflict("already a contact".into()));
        }
        self.store.commit().await?;
        Ok(Contact {
            profile: self.profile(other)?.ok_or(Error::NotFound("user"))?,
            added_at: record.added_at,
        })
    }

    /// Removes a contact.
    pub async fn remove(&self, actor: &Actor, other: UserId) -> Result<()> {
        if self
            .store
            .trees
            .userid_contactid
            .remove(keys::user_pair(actor.user_id, other))?
            .is_none()
        {
            return Err(Error::NotFound("contact"));
        }
        self.store.commit().await
    }

    /// Blocks a user (idempotent).
    pub async fn block(&self, actor: &Actor, other: UserId) -> Result<()> {
        self.other_user(actor, other)?;
        let key = keys::user_pair(actor.user_id, other);
        if !self.store.trees.userid_blockedid.contains_key(&key)? {
            let record = ContactRecord { added_at: Utc::now() };
            self.store.trees.userid_blockedid.insert(key, encode(&record))?;
            self.store.commit().await?;
        }
        Ok(())
    }

    /// Lifts a block (idempotent).
    pub async fn unblock(&self, actor: &Actor, other: UserId) -> Result<()> {
        if self
            .store
            .trees
            .userid_blockedid
            .remove(keys::user_pair(actor.user_id, other))?
            .is_some()
        {
            self.store.commit().await?;
        }
        Ok(())
    }

    /// The users the caller has blocked.
    pub fn blocked(&self, actor: &Actor) -> Result<BlockedList> {
        Ok(BlockedList {
            blocked: self.listed(&self.store.trees.userid_blockedid, actor.user_id)?,
        })
    }
}
