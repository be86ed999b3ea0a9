//! Users of other nodes, addressed as `username@node-name`: resolving a handle asks the home node
//! (found through the DHT) and remembers where the user lives (`homes`), so later requests about that
//! user (its devices, its identity keys, claiming a key bundle) go straight to its home node.

use chrono::Utc;
use protocol::api::UserRef;
use protocol::federation::{NodeName, RemoteDevice, RemoteUser, Request, Response};
use protocol::{DeviceId, UserId};

use super::Remote;
use super::homes::{self, RemoteHome};
use crate::federation::{Destination, Error as FederationError};
use crate::keys::records::published_identity;
use crate::storage::Store;
use crate::users::records::{devices_of, get_user};
use crate::{Error, Result, validate};

/// A user found through a handle, with the node it belongs to.
#[derive(Debug, Clone)]
pub struct ResolvedUser {
    /// The user's home node.
    pub node: String,
    /// Whether that node is this one.
    pub local: bool,
    /// The user and its devices.
    pub user: RemoteUser,
    /// The home node did not answer in time: `user` is the copy this node keeps.
    pub stale: bool,
}

/// A remote user as this node knows it now.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub(crate) home: RemoteHome,
    pub(crate) user: RemoteUser,
    /// The home node did not answer in time: this is the copy kept here.
    pub(crate) stale: bool,
}

pub(crate) fn unavailable(err: FederationError) -> Error {
    match err {
        // A well-formed name that no node has taken: as a user that does not exist, not a bad request.
        FederationError::UnknownNode(_) => Error::NotFound("node"),
        other => Error::Unavailable(other.to_string()),
    }
}

/// A local user found by username, as other nodes see it (`Request::ResolveUser`).
pub(crate) fn resolve_local(store: &Store, username: &str) -> Result<Option<RemoteUser>> {
    let username = validate::username(username)?;
    match store.trees.username_userid.get(username.as_bytes())? {
        Some(id) => match UserId::from_slice(&id) {
            Some(id) => describe_local(store, id),
            None => Err(Error::Corrupt("username index".into())),
        },
        None => Ok(None),
    }
}

/// A local user as other nodes see it: profile names and active devices with their identity keys.
pub(crate) fn describe_local(store: &Store, id: UserId) -> Result<Option<RemoteUser>> {
    let Some(user) = get_user(store, id)? else {
        return Ok(None);
    };
    let mut devices = Vec::new();
    for device in devices_of(store, id)?.into_iter().filter(|device| device.active) {
        devices.push(RemoteDevice {
            device_id: device.id,
            has_active_keys: crate::keys::records::has_active_keys(store, device.id)?,
            identity: published_identity(store, device.id)?,
        });
    }
    Ok(Some(RemoteUser {
        user_id: id,
        username: user.username,
        display_name: user.display_name,
        devices,
    }))
}

impl Remote {
    /// Resolves `username@node-name` (or a bare local username) to the user and its active devices.
    pub(crate) async fn resolve_handle(&self, handle: &str) -> Result<ResolvedUser> {
        let handle = validate::text("handle", handle, 1, 128)?;
        let (username, node) = match handle.rsplit_once('@') {
            // White space may stand before the `@`; the username's own length leaves it out.
            Some((username, node)) => (username.trim_end(), Some(node)),
            None => (handle.as_str(), None),
        };
        let local = self.local.node.to_string();
        let node = node.map(str::to_lowercase).unwrap_or_else(|| local.clone());
        if node == local {
            let user = resolve_local(&self.store, username)?.ok_or(Error::NotFound("user"))?;
            return Ok(ResolvedUser {
                node,
                local: true,
                user,
                stale: false,
            });
        }
        let name = NodeName::new(node.as_str()).map_err(|err| Error::invalid("handle", err.to_string()))?;
        let username = validate::username(username)?;
        let copy = homes::find_by_handle(&self.store, &name, &username)?;
        let asked = self.within(copy.is_some(), self.ask_for_handle(name, username)).await;
        match (asked, copy) {
            (Ok(user), _) => Ok(ResolvedUser {
                node,
                local: false,
                user,
                stale: false,
            }),
            (Err(Error::Unavailable(why)), Some((id, home))) => {
                tracing::info!(%node, %why, "the handle's node did not answer; using the copy kept here");
                Ok(ResolvedUser {
                    node,
                    local: false,
                    user: home.user(id),
                    stale: true,
                })
            }
            (Err(err), _) => Err(err),
        }
    }

    /// Asks `name`'s node for its user `username`, and remembers where that user lives.
    async fn ask_for_handle(&self, name: NodeName, username: String) -> Result<RemoteUser> {
        let client = self.require_network()?;
        let peer = client.resolve(name.clone()).await.map_err(unavailable)?.peer_id;
        match client
            .request(peer, Request::ResolveUser { username })
            .await
            .map_err(unavailable)?
        {
            Response::User(user) => {
                homes::remember_user(&self.store, &Destination { node: name, peer }, &user)?;
                self.store.commit().await?;
                Ok(user)
            }
            Response::NotFound => Err(Error::NotFound("user")),
            other => Err(Error::Unavailable(format!("{name} refused the lookup: {other:?}"))),
        }
    }

    /// Waits for another node's answer, for at most the lookup timeout when a copy kept here can stand
    /// in for it (`has_copy`); a lookup with nothing to fall back on waits for the answer.
    pub(crate) async fn within<T>(&self, has_copy: bool, asking: impl Future<Output = Result<T>>) -> Result<T> {
        if !has_copy {
            return asking.await;
        }
        tokio::time::timeout(self.lookups.timeout, asking)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Unavailable(format!(
                    "no answer within {} ms",
                    self.lookups.timeout.as_millis()
                )))
            })
    }

    /// Names every user of a request by id, looking handles up (at their home nodes when remote).
    pub(crate) async fn resolve_refs(&self, refs: &mut [UserRef]) -> Result<()> {
        for named in refs {
            if let UserRef::Handle(handle) = named {
                *named = UserRef::Id(self.resolve_handle(handle).await?.user.user_id);
            }
        }
        Ok(())
    }

    /// A remote user as its home node describes it now, or as last known (`stale`) when the home node
    /// does not answer in time; `None` for users of no known home.
    pub(crate) async fn user(&self, user: UserId) -> Result<Option<Known>> {
        let Some(home) = homes::get(&self.store, user)? else {
            return Ok(None);
        };
        let age = (Utc::now() - home.fetched_at).to_std().unwrap_or_default();
        if home.devices.is_some() && age < self.lookups.max_age {
            return Ok(Some(Known {
                user: home.user(user),
                home,
                stale: false,
            }));
        }
        let to = home.destination();
        let fetching = async {
            let client = self.require_network()?;
            client
                .request(to.peer, Request::FetchUser { user_id: user })
                .await
                .map_err(unavailable)
        };
        match self.within(home.devices.is_some(), fetching).await {
            // A node speaks only for its own users.
            Ok(Response::User(fresh)) if fresh.user_id == user => {
                homes::remember_user(&self.store, &to, &fresh)?;
                let home = homes::get(&self.store, user)?.unwrap_or(home);
                Ok(Some(Known {
                    home,
                    user: fresh,
                    stale: false,
                }))
            }
            Ok(Response::NotFound) => Err(Error::NotFound("user")),
            answer => {
                tracing::debug!(%user, node = %home.node, ?answer, "refreshing a remote user failed; using what is known");
                Ok(Some(Known {
                    user: home.user(user),
                    home,
                    stale: true,
                }))
            }
        }
    }

    /// A remote user with their devices, for callers that address those devices (to encrypt to them,
    /// to check their keys). A list that is empty only because the home node was never asked and
    /// cannot be reached now would silently leave the user out of a message, so that is an error.
    pub(crate) async fn user_with_devices(&self, user: UserId) -> Result<Known> {
        let known = self.user(user).await?.ok_or(Error::NotFound("user"))?;
        if known.home.devices.is_none() {
            let node = &known.home.node;
            return Err(Error::Unavailable(format!(
                "the devices of this user of {node} are not known here yet and {node} cannot be reached; retry later"
            )));
        }
        Ok(known)
    }

    /// The owner of a device of another node, looking again at the `candidates`' home nodes once when
    /// the device is new. A device none of them lists is no one's only if every home answered: while
    /// one cannot be reached the device may be its user's, and saying "no one's" would have a message
    /// to it refused for good (a 100-node simulation lost a message so: its host, cut off from a
    /// member's home by a partition, refused a submission the sender's node had addressed correctly).
    pub(crate) async fn device_owner(&self, device: DeviceId, candidates: &[UserId]) -> Result<Option<UserId>> {
        if let Some(owner) = homes::device_owner(&self.store, device)? {
            return Ok(Some(owner));
        }
        let mut unreachable = None;
        for user in candidates {
            let Some(known) = self.user(*user).await? else {
                continue;
            };
            if known.user.devices.iter().any(|d| d.device_id == device) {
                return Ok(Some(*user));
            }
            if known.stale {
                unreachable = Some(known.home.node);
            }
        }
        match unreachable {
            Some(node) => Err(Error::Unavailable(format!(
                "device {device} may be a device of a user of {node}, which cannot be reached; retry later"
            ))),
            None => Ok(None),
        }
    }
}
