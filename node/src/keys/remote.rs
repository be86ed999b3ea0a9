//! Keys of other nodes' devices, asked of their home nodes: a device's identity key (as last described
//! by its home node) and key bundles, whose one-time prekeys are consumed there exactly once.

use protocol::api::{DeviceKeyQuery, IdentityKey, KeyBundle};
use protocol::federation::{Request, Response};

use super::Keys;
use crate::remote::{homes, unavailable};
use crate::users::records::get_user;
use crate::{Actor, Error, Result};

impl Keys {
    /// A device's current identity key, as its home node publishes it.
    pub async fn identity(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<IdentityKey> {
        let Some(user) = query.user_id.filter(|user| *user != actor.user_id) else {
            return self.identity_here(actor, query);
        };
        if get_user(&self.store, user)?.is_some() {
            return self.identity_here(actor, query);
        }
        if homes::get(&self.store, user)?.is_none() {
            return Err(Error::NotFound("user"));
        }
        let device = query
            .device_id
            .ok_or_else(|| Error::invalid("device_id", "is required for a remote user"))?;
        let known = self.remote.user_with_devices(user).await?;
        known
            .user
            .devices
            .into_iter()
            .find(|d| d.device_id == device)
            .and_then(|d| d.identity)
            .filter(|key| key.user_id == user && key.device_id == device)
            .ok_or(Error::NotFound("identity key"))
    }

    /// Claims a key bundle: a local device's here, a remote user's (resolved earlier by handle) at its
    /// home node, where its one-time prekey is consumed exactly once. The claim is durable before the
    /// answer, so a crash cannot hand a key out twice.
    pub async fn bundle(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<KeyBundle> {
        let Some(user) = query.user_id.filter(|user| *user != actor.user_id) else {
            return self.bundle_here(actor, query).await;
        };
        if get_user(&self.store, user)?.is_some() {
            return self.bundle_here(actor, query).await;
        }
        let Some(home) = homes::get(&self.store, user)? else {
            return Err(Error::NotFound("user"));
        };
        let device_id = query
            .device_id
            .ok_or_else(|| Error::invalid("device_id", "is required for a remote user"))?;
        let request = Request::ClaimBundle {
            user_id: user,
            device_id,
        };
        let kept = homes::kept_bundle(&self.store, device_id)?.filter(|kept| kept.user_id == user);
        let claiming = async {
            let network = self.remote.require_network()?;
            network.request(home.peer_id, request).await.map_err(unavailable)
        };
        match self.remote.within(kept.is_some(), claiming).await {
            // A node speaks only for its own users and devices: anything else is refused.
            Ok(Response::Bundle(bundle)) if bundle.user_id == user && bundle.device_id == device_id => {
                homes::remember_bundle(&self.store, &bundle)?;
                Ok(KeyBundle { stale: false, ..bundle })
            }
            Ok(Response::Bundle(_)) => Err(Error::Unavailable(format!("{} answered for another device", home.node))),
            Ok(Response::NotFound) => Err(Error::NotFound("device")),
            Ok(other) => Err(Error::Unavailable(format!(
                "{} refused the claim: {other:?}",
                home.node
            ))),
            Err(Error::Unavailable(why)) if let Some(kept) = kept => {
                tracing::info!(node = %home.node, %why, "the device's node did not answer; handing out the bundle kept here");
                Ok(kept)
            }
            Err(err) => Err(err),
        }
    }
}
