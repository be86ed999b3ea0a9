//! Users of other nodes, addressed as `username@node-name`: resolving a handle asks the home node
//! (found through the DHT) and remembers where the user lives, so later requests about that user (such as
//! claiming one of its devices' key bundles) go straight to its home node.

use chrono::Utc;
use protocol::UserId;
use protocol::api::{DeviceKeyQuery, KeyBundle, Timestamp};
use protocol::federation::{NodeName, RemoteUser, Request, Response};
use serde::{Deserialize, Serialize};

use super::{Error as FederationError, PeerId};
use crate::storage::{decode, encode};
use crate::{Actor, Error, Result, Services, users, validate};

/// Where a remote user lives, as last resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RemoteHome {
    node: String,
    peer_id: String,
    fetched_at: Timestamp,
}

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

fn unavailable(err: FederationError) -> Error {
    match err {
        FederationError::UnknownNode(name) => Error::invalid("handle", format!("no node named {name} was found")),
        other => Error::Unavailable(other.to_string()),
    }
}

impl Services {
    fn federation_client(&self) -> Result<&super::Client> {
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
        let client = self.federation_client()?;
        let local = client.local_node().await.map_err(unavailable)?.name;
        let node = node.map(str::to_lowercase).unwrap_or_else(|| local.clone());
        if node == local {
            let user = super::inbound::resolve_user(self, username)?.ok_or(Error::NotFound("user"))?;
            return Ok(ResolvedUser {
                node,
                local: true,
                user,
            });
        }
        let name = NodeName::new(node.as_str()).map_err(|err| Error::invalid("handle", err.to_string()))?;
        let username = validate::username(username)?;
        let peer = client.resolve(name).await.map_err(unavailable)?.peer_id;
        match client
            .request(peer, Request::ResolveUser { username })
            .await
            .map_err(unavailable)?
        {
            Response::User(user) => {
                let home = RemoteHome {
                    node: node.clone(),
                    peer_id: peer.to_string(),
                    fetched_at: Utc::now(),
                };
                self.store
                    .trees
                    .remoteuserid_home
                    .insert(user.user_id.as_bytes(), encode(&home))?;
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

    fn remote_home(&self, user: UserId) -> Result<Option<(RemoteHome, PeerId)>> {
        let Some(bytes) = self.store.trees.remoteuserid_home.get(user.as_bytes())? else {
            return Ok(None);
        };
        let home: RemoteHome = decode(&bytes)?;
        let peer = home
            .peer_id
            .parse()
            .map_err(|_| Error::Corrupt("remote home peer id".into()))?;
        Ok(Some((home, peer)))
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
        let Some((home, peer)) = self.remote_home(user)? else {
            return Err(Error::NotFound("user"));
        };
        let device_id = query
            .device_id
            .ok_or_else(|| Error::invalid("device_id", "is required for a remote user"))?;
        let client = self.federation_client()?;
        match client
            .request(
                peer,
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
