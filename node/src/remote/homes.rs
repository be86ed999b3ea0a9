//! Where other nodes' users live. Resolving a handle, fetching a user, or learning a conversation's
//! members from its host records a remote user's home node (name and PeerId) with what is known of its
//! profile and devices, so later requests about that user go straight to its home node.

use std::collections::BTreeMap;

use chrono::Utc;
use libp2p::PeerId;
use protocol::api::{KeyBundle, Timestamp, UserProfile};
use protocol::federation::{NodeName, RemoteDevice, RemoteUser};
use protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::federation::{Destination, peer_id_text};
use crate::storage::{Store, decode, encode};
use crate::users::records::is_local;

/// A remote user's home and last known profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RemoteHome {
    pub(crate) node: NodeName,
    #[serde(with = "peer_id_text")]
    pub(crate) peer_id: PeerId,
    /// When `devices` were fetched from the home node (or when the home was learnt, without them).
    pub(crate) fetched_at: Timestamp,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    /// `None` until the home node was asked.
    #[serde(default)]
    pub(crate) devices: Option<Vec<RemoteDevice>>,
}

impl RemoteHome {
    pub(crate) fn destination(&self) -> Destination {
        Destination {
            node: self.node.clone(),
            peer: self.peer_id,
        }
    }

    /// The user's public profile as known here, with its handle as username; `stale` when its home
    /// node was just asked and did not answer.
    pub(crate) fn profile(&self, user: UserId, stale: bool) -> UserProfile {
        UserProfile {
            id: user,
            username: format!("{}@{}", self.username.as_deref().unwrap_or_default(), self.node),
            display_name: self.display_name.clone().unwrap_or_default(),
            avatar_url: None,
            status: None,
            bio: None,
            location: None,
            last_seen: None,
            is_online: false,
            created_at: self.fetched_at,
            stale,
        }
    }

    /// The user as the home node last described it (no devices when never fetched).
    pub(crate) fn user(&self, user_id: UserId) -> RemoteUser {
        RemoteUser {
            user_id,
            username: self.username.clone().unwrap_or_default(),
            display_name: self.display_name.clone().unwrap_or_default(),
            devices: self.devices.clone().unwrap_or_default(),
        }
    }
}

/// A remote user's profile as last known, shown with its handle as username.
pub(crate) fn cached_profile(store: &Store, user: UserId) -> Result<Option<UserProfile>> {
    Ok(get(store, user)?.map(|home| home.profile(user, false)))
}

pub(crate) fn get(store: &Store, user: UserId) -> Result<Option<RemoteHome>> {
    store
        .trees
        .remoteuserid_home
        .get(user.as_bytes())?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// Records a user fetched from its home node, devices included.
pub(crate) fn remember_user(store: &Store, to: &Destination, user: &RemoteUser) -> Result<()> {
    let home = RemoteHome {
        node: to.node.clone(),
        peer_id: to.peer,
        fetched_at: Utc::now(),
        username: Some(user.username.clone()),
        display_name: Some(user.display_name.clone()),
        devices: Some(user.devices.clone()),
    };
    for device in &user.devices {
        store
            .trees
            .remotedeviceid_userid
            .insert(device.device_id.as_bytes(), user.user_id.as_bytes())?;
    }
    store
        .trees
        .remoteuserid_home
        .insert(user.user_id.as_bytes(), encode(&home))?;
    Ok(())
}

/// Records where a user lives and its names, keeping known devices unless it moved.
pub(crate) fn remember_home(
    store: &Store,
    user: UserId,
    to: &Destination,
    username: &str,
    display_name: &str,
) -> Result<()> {
    let mut home = match get(store, user)? {
        Some(home) if home.node == to.node && home.peer_id == to.peer => home,
        _ => RemoteHome {
            node: to.node.clone(),
            peer_id: to.peer,
            fetched_at: Utc::now(),
            username: None,
            display_name: None,
            devices: None,
        },
    };
    home.username = Some(username.to_owned());
    home.display_name = Some(display_name.to_owned());
    store.trees.remoteuserid_home.insert(user.as_bytes(), encode(&home))?;
    Ok(())
}

/// The user known here as `username` of `node`, with what is known of it: the copy a handle's lookup
/// falls back on when that node does not answer. A walk over every remote user, taken only then.
pub(crate) fn find_by_handle(store: &Store, node: &NodeName, username: &str) -> Result<Option<(UserId, RemoteHome)>> {
    for entry in store.trees.remoteuserid_home.iter() {
        let (key, value) = entry?;
        let home: RemoteHome = decode(&value)?;
        if home.node == *node
            && home
                .username
                .as_deref()
                .is_some_and(|known| known.eq_ignore_ascii_case(username))
            && let Some(user) = UserId::from_slice(&key)
        {
            return Ok(Some((user, home)));
        }
    }
    Ok(None)
}

/// Keeps a bundle claimed from another node, without its one-time prekey (spent on this claim), to
/// stand in for the next claim while that node does not answer.
pub(crate) fn remember_bundle(store: &Store, bundle: &KeyBundle) -> Result<()> {
    let kept = KeyBundle {
        one_time_prekey: None,
        stale: true,
        ..bundle.clone()
    };
    store
        .trees
        .remotedeviceid_bundle
        .insert(bundle.device_id.as_bytes(), encode(&kept))?;
    Ok(())
}

/// The bundle last claimed for another node's device, marked stale.
pub(crate) fn kept_bundle(store: &Store, device: DeviceId) -> Result<Option<KeyBundle>> {
    store
        .trees
        .remotedeviceid_bundle
        .get(device.as_bytes())?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// Records a remote user's new username, told by its home node.
pub(crate) fn rename(store: &Store, user: UserId, username: String) -> Result<()> {
    if let Some(mut home) = get(store, user)? {
        home.username = Some(username);
        store.trees.remoteuserid_home.insert(user.as_bytes(), encode(&home))?;
    }
    Ok(())
}

/// The owner of another node's device, as learnt from its device list.
pub(crate) fn device_owner(store: &Store, device: DeviceId) -> Result<Option<UserId>> {
    Ok(store
        .trees
        .remotedeviceid_userid
        .get(device.as_bytes())?
        .and_then(|bytes| UserId::from_slice(&bytes)))
}

/// The home nodes of remote `members` (of a conversation, of a call), each with the members living there.
pub(crate) fn of_members(store: &Store, members: &[UserId]) -> Result<BTreeMap<NodeName, (Destination, Vec<UserId>)>> {
    let mut by_node: BTreeMap<NodeName, (Destination, Vec<UserId>)> = BTreeMap::new();
    for user in members {
        if is_local(store, *user)? {
            continue;
        }
        let Some(home) = get(store, *user)? else {
            tracing::warn!(%user, "a member's home node is unknown; it receives nothing");
            continue;
        };
        let destination = home.destination();
        by_node
            .entry(home.node.clone())
            .or_insert_with(|| (destination, Vec::new()))
            .1
            .push(*user);
    }
    Ok(by_node)
}
