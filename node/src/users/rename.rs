//! Renaming an account. Every node that looked one of this node's users up keeps a copy of it (its
//! username among it) and answers the handle `username@this-node` from that copy while this node does
//! not answer (`remote::users`). So a rename is told to each of those nodes through the outbox, and
//! the old name stays held, refused to everyone else, until each of them has taken the news: a
//! newcomer given the name at once could otherwise be confused with the renamed user by a node that
//! still holds the old copy.

use chrono::Utc;
use libp2p::PeerId;
use protocol::UserId;
use protocol::api::Me;
use protocol::federation::{Event, NodeName, RenamedUser};
use serde::{Deserialize, Serialize};

use super::Users;
use super::records::get_user;
use crate::federation::Destination;
use crate::outbox::Outbox;
use crate::remote::{homes, speaks_for};
use crate::storage::{Store, decode, encode, keys};
use crate::{Actor, Error, Result, validate};

/// A username given up by a rename, held until the nodes that knew it have been told.
#[derive(Debug, Serialize, Deserialize)]
struct NameHold {
    user_id: UserId,
    /// Each node told, and the place of the news in its outbox queue.
    until_taken: Vec<(NodeName, u64)>,
}

/// Remembers that the node `peer` (named `name`, when it has said so yet) looked this node's `user`
/// up, and so keeps a copy of it.
pub(crate) fn remember_looker(store: &Store, user: UserId, peer: PeerId, name: Option<&NodeName>) -> Result<()> {
    let key = keys::join(&[user.as_bytes(), &peer.to_bytes()]);
    let known: Option<Option<NodeName>> = store
        .trees
        .userpeer_looker
        .get(&key)?
        .map(|bytes| decode(&bytes))
        .transpose()?;
    // Written only when it tells something new: a node refreshing its copy every half minute costs
    // no write each time, and a name learnt earlier is kept over a lookup that came before this
    // one's `Hello`.
    let news = match (known, name) {
        (None, _) => true,
        (Some(stored), Some(name)) => stored.as_ref() != Some(name),
        (Some(_), None) => false,
    };
    if news {
        store.trees.userpeer_looker.insert(key, encode(&name))?;
    }
    Ok(())
}

/// Forgets the nodes that looked `user` up (the account is gone).
pub(crate) fn forget_lookers(store: &Store, user: UserId) -> Result<()> {
    for entry in store.trees.userpeer_looker.scan_prefix(user.as_bytes()) {
        let (key, _) = entry?;
        store.trees.userpeer_looker.remove(key)?;
    }
    Ok(())
}

/// The nodes that looked `user` up, each with its name if it has said it (a lookup may arrive
/// before the asking node's `Hello`).
fn lookers(store: &Store, user: UserId) -> Result<Vec<(PeerId, Option<NodeName>)>> {
    let mut lookers = Vec::new();
    for entry in store.trees.userpeer_looker.scan_prefix(user.as_bytes()) {
        let (key, name) = entry?;
        let peer = key
            .get(16..)
            .and_then(|bytes| PeerId::from_bytes(bytes).ok())
            .ok_or_else(|| Error::Corrupt("looker key".into()))?;
        lookers.push((peer, decode(&name)?));
    }
    Ok(lookers)
}

/// Refuses a username held after a rename (unless `owner` is the one who gave it up), and lets go of
/// a hold whose news every node has taken.
pub(crate) fn check_not_held(store: &Store, username: &str, owner: Option<UserId>) -> Result<()> {
    let Some(bytes) = store.trees.username_hold.get(username.as_bytes())? else {
        return Ok(());
    };
    let hold: NameHold = decode(&bytes)?;
    if Some(hold.user_id) != owner {
        for (node, position) in &hold.until_taken {
            if Outbox::is_queued(store, node, *position)? {
                return Err(Error::Conflict(format!(
                    "username was given up moments ago and is held until node {node} has learnt of it; \
                     try again later"
                )));
            }
        }
    }
    store.trees.username_hold.remove(username.as_bytes())?;
    Ok(())
}

impl Users {
    /// Gives the caller's account a new username; the old one stays held until the nodes that looked
    /// the user up have learnt the new one (see the module's doc).
    pub async fn rename(&self, actor: &Actor, username: &str) -> Result<Me> {
        let username = validate::username(username)?;
        let _guard = self.auth.accounts_lock().await;
        let mut user = get_user(&self.store, actor.user_id)?.ok_or(Error::NotFound("user"))?;
        if user.username == username {
            return Ok(user.me());
        }
        let t = &self.store.trees;
        if t.username_userid.contains_key(username.as_bytes())? {
            return Err(Error::Conflict("username is already taken".into()));
        }
        check_not_held(&self.store, &username, Some(user.id))?;
        let news = Event::Renamed(RenamedUser {
            user_id: user.id,
            username: username.clone(),
        });
        let mut until_taken = Vec::new();
        for to in self.named(lookers(&self.store, user.id)?).await {
            until_taken.push((to.node.clone(), self.outbox.push(&to, &news)?));
        }
        if !until_taken.is_empty() {
            let hold = NameHold {
                user_id: user.id,
                until_taken,
            };
            t.username_hold.insert(user.username.as_bytes(), encode(&hold))?;
        }
        t.username_userid.remove(user.username.as_bytes())?;
        t.username_userid.insert(username.as_bytes(), user.id.as_bytes())?;
        let old = std::mem::replace(&mut user.username, username);
        user.updated_at = Utc::now();
        t.userid_user.insert(user.id.as_bytes(), encode(&user))?;
        self.store.commit().await?;
        tracing::info!(user = %user.id, %old, new = %user.username, "account renamed");
        Ok(user.me())
    }

    /// The lookers as destinations, names missing from the store asked of the network (which has
    /// learnt them from the nodes' `Hello`s since). A node whose name is still unknown is skipped: it
    /// has not said who it is, so it cannot be written to by name.
    async fn named(&self, lookers: Vec<(PeerId, Option<NodeName>)>) -> Vec<Destination> {
        let known = match self.remote.network() {
            Some(client) if lookers.iter().any(|(_, name)| name.is_none()) => client.peers().await.unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut named = Vec::with_capacity(lookers.len());
        for (peer, name) in lookers {
            let name = name.or_else(|| {
                known
                    .iter()
                    .find(|info| info.peer_id == peer.to_string())
                    .and_then(|info| NodeName::new(info.name.as_deref()?).ok())
            });
            match name {
                Some(node) => named.push(Destination { node, peer }),
                None => tracing::warn!(%peer, "a node that looked a renamed user up never said its name; not told"),
            }
        }
        named
    }

    /// A rename of another node's user, from that node: the copy kept here follows.
    pub(crate) fn apply_rename(&self, peer: PeerId, renamed: &RenamedUser) -> Result<()> {
        speaks_for(&self.store, peer, renamed.user_id)?;
        let username = validate::username(&renamed.username)?;
        homes::rename(&self.store, renamed.user_id, username)
    }
}
