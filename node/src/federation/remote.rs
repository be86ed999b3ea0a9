//! Users of other nodes, addressed as `username@node-name`: resolving a handle asks the home node
//! (found through the DHT) and remembers where the user lives (`homes`), so later requests about that
//! user (its devices, its identity keys, claiming a key bundle) go straight to its home node.

use std::time::Duration;

use chrono::Utc;
use protocol::api::{
    DeviceKeyQuery, IdentityKey, KeyBundle, PublicDevice, PublicDeviceList, UserList, UserProfile, UserSearchQuery,
};
use protocol::federation::{NodeName, RemoteUser, Request, Response};
use protocol::{DeviceId, UserId};

use super::Error as FederationError;
use super::homes::{self, RemoteHome};
use super::outbox::Destination;
use crate::{Actor, Error, Result, Services, users, validate};

/// A remote user's device list is fetched again when older than this.
const DEVICE_LIST_MAX_AGE: Duration = Duration::from_secs(30);

/// A user found through a handle, with the node it belongs to.
#[derive(Debug, Clone)]
pub struct ResolvedUser {
    /// The user's home node.
    pub node: String,
    /// Whether that node is this one.
    pub local: bool,
    /// The user and its devices.
    pub user: RemoteUser,
}

pub(crate) fn unavailable(err: FederationError) -> Error {
    match err {
        FederationError::UnknownNode(name) => Error::invalid("handle", format!("no node named {name} was found")),
        other => Error::Unavailable(other.to_string()),
    }
}

impl Services {
    pub(crate) fn federation_client(&self) -> Result<&super::Client> {
        self.federation()
            .ok_or_else(|| Error::Unavailable("federation is not running".into()))
    }

    /// Resolves `username@node-name` (or a bare local username) to the user and its active devices.
    pub async fn resolve_handle(&self, handle: &str) -> Result<ResolvedUser> {
        let handle = validate::text("handle", handle, 1, 128)?;
        let (username, node) = match handle.rsplit_once('@') {
            Some((username, node)) => (username, Some(node)),
            None => (handle.as_str(), None),
        };
        let local = self.node_name.to_string();
        let node = node.map(str::to_lowercase).unwrap_or_else(|| local.clone());
        if node == local {
            let user = super::inbound::resolve_user(self, username)?.ok_or(Error::NotFound("user"))?;
            return Ok(ResolvedUser {
                node,
                local: true,
                user,
            });
        }
        let client = self.federation_client()?;
        let name = NodeName::new(node.as_str()).map_err(|err| Error::invalid("handle", err.to_string()))?;
        let username = validate::username(username)?;
        let peer = client.resolve(name.clone()).await.map_err(unavailable)?.peer_id;
        match client
            .request(peer, Request::ResolveUser { username })
            .await
            .map_err(unavailable)?
        {
            Response::User(user) => {
                homes::remember_user(&self.store, &Destination { node: name, peer }, &user)?;
                self.store.commit().await?;
                Ok(ResolvedUser {
                    node,
                    local: false,
                    user,
                })
            }
            Response::NotFound => Err(Error::NotFound("user")),
            other => Err(Error::Unavailable(format!("{node} refused the lookup: {other:?}"))),
        }
    }

    /// Resolves a user named by id or by handle to its id (handles of remote users are looked up at
    /// their home node, which is then remembered).
    pub async fn user_id_of(&self, user: &str) -> Result<UserId> {
        match user.parse::<uuid::Uuid>() {
            Ok(id) => Ok(UserId::from(id)),
            Err(_) => Ok(self.resolve_handle(user).await?.user.user_id),
        }
    }

    /// A remote user as its home node describes it now, or as last known when the home node is
    /// unreachable; `None` for users of no known home.
    pub(crate) async fn remote_user(&self, user: UserId) -> Result<Option<(RemoteHome, RemoteUser)>> {
        let Some(home) = homes::get(&self.store, user)? else {
            return Ok(None);
        };
        let age = (Utc::now() - home.fetched_at).to_std().unwrap_or_default();
        if home.devices.is_some() && age < DEVICE_LIST_MAX_AGE {
            let described = home.user(user);
            return Ok(Some((home, described)));
        }
        let to = home.destination()?;
        let fetched = match self.federation() {
            Some(client) => client.request(to.peer, Request::FetchUser { user_id: user }).await,
            None => Err(FederationError::Stopped),
        };
        match fetched {
            // A node speaks only for its own users.
            Ok(Response::User(fresh)) if fresh.user_id == user => {
                homes::remember_user(&self.store, &to, &fresh)?;
                let home = homes::get(&self.store, user)?.unwrap_or(home);
                Ok(Some((home, fresh)))
            }
            Ok(Response::NotFound) => Err(Error::NotFound("user")),
            answer => {
                tracing::debug!(%user, node = %home.node, ?answer, "refreshing a remote user failed; using what is known");
                let described = home.user(user);
                Ok(Some((home, described)))
            }
        }
    }

    /// Searches users: by prefix of username or display name on this node, or, for a query of the form
    /// `username@node-name`, exactly that user wherever it lives.
    pub async fn search_users(&self, query: UserSearchQuery) -> Result<UserList> {
        let text = query.query.trim();
        if !text.contains('@') {
            return self.users.search(query);
        }
        match self.resolve_handle(text).await {
            Ok(found) => Ok(UserList {
                users: vec![self.user_profile(found.user.user_id).await?],
            }),
            Err(Error::NotFound(_)) => Ok(UserList { users: Vec::new() }),
            Err(err) => Err(err),
        }
    }

    /// A user's profile, fetched from its home node when it lives elsewhere.
    pub async fn user_profile(&self, user: UserId) -> Result<UserProfile> {
        if users::get_user(&self.store, user)?.is_some() {
            return self.users.profile(user);
        }
        self.remote_user(user).await?.ok_or(Error::NotFound("user"))?;
        homes::cached_profile(&self.store, user)?.ok_or(Error::NotFound("user"))
    }

    /// A user's active devices, fetched from its home node when it lives elsewhere.
    pub async fn user_devices(&self, user: UserId) -> Result<PublicDeviceList> {
        if users::get_user(&self.store, user)?.is_some() {
            return self.users.public_devices(user);
        }
        let (_, remote) = self.remote_user(user).await?.ok_or(Error::NotFound("user"))?;
        Ok(PublicDeviceList {
            user_id: user,
            devices: remote
                .devices
                .iter()
                .map(|device| PublicDevice {
                    id: device.device_id,
                    has_active_keys: device.has_active_keys,
                })
                .collect(),
        })
    }

    /// A device's current identity key, as its home node publishes it.
    pub async fn device_identity(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<IdentityKey> {
        let Some(user) = query.user_id.filter(|user| *user != actor.user_id) else {
            return self.keys.identity(actor, query);
        };
        if users::get_user(&self.store, user)?.is_some() {
            return self.keys.identity(actor, query);
        }
        let device = query
            .device_id
            .ok_or_else(|| Error::invalid("device_id", "is required for a remote user"))?;
        let (_, remote) = self.remote_user(user).await?.ok_or(Error::NotFound("user"))?;
        remote
            .devices
            .into_iter()
            .find(|d| d.device_id == device)
            .and_then(|d| d.identity)
            .filter(|key| key.user_id == user && key.device_id == device)
            .ok_or(Error::NotFound("identity key"))
    }

    /// The owner of a device of another node, looking again at the participants' home nodes once
    /// when the device is new.
    pub(crate) async fn remote_device_owner(&self, device: DeviceId, candidates: &[UserId]) -> Result<Option<UserId>> {
        if let Some(owner) = homes::device_owner(&self.store, device)? {
            return Ok(Some(owner));
        }
        for user in candidates {
            if let Some((_, remote)) = self.remote_user(*user).await?
                && remote.devices.iter().any(|d| d.device_id == device)
            {
                return Ok(Some(*user));
            }
        }
        Ok(None)
    }

    /// Claims a key bundle: a local device's here, a remote user's (resolved earlier by handle) at its
    /// home node, where its one-time prekey is consumed exactly once.
    pub async fn claim_bundle(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<KeyBundle> {
        let Some(user) = query.user_id.filter(|user| *user != actor.user_id) else {
            return self.keys.bundle(actor, query).await;
        };
        if users::get_user(&self.store, user)?.is_some() {
            return self.keys.bundle(actor, query).await;
        }
        let Some(home) = homes::get(&self.store, user)? else {
            return Err(Error::NotFound("user"));
        };
        let device_id = query
            .device_id
            .ok_or_else(|| Error::invalid("device_id", "is required for a remote user"))?;
        let client = self.federation_client()?;
        match client
            .request(
                home.peer()?,
                Request::ClaimBundle {
                    user_id: user,
                    device_id,
                },
            )
            .await
            .map_err(unavailable)?
        {
            // A node speaks only for its own users and devices: anything else is refused.
            Response::Bundle(bundle) if bundle.user_id == user && bundle.device_id == device_id => Ok(bundle),
            Response::Bundle(_) => Err(Error::Unavailable(format!("{} answered for another device", home.node))),
            Response::NotFound => Err(Error::NotFound("device")),
            other => Err(Error::Unavailable(format!(
                "{} refused the claim: {other:?}",
                home.node
            ))),
        }
    }
}
