//! Stored device keys and the reads other domains need of them (whether a device can be reached, the
//! identity key other nodes are told of), apart from the `Keys` service so those domains need not
//! depend on it.

use protocol::api::{IdentityKey, SignedPreKey, Timestamp};
use protocol::{DeviceId, IdentityKeyId, IdentityPublicKey, PreKeyPublic, PreKeySignature, UserId};
use serde::{Deserialize, Serialize};

use crate::storage::{Store, decode};
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IdentityKeyRecord {
    pub(crate) id: IdentityKeyId,
    pub(crate) user_id: UserId,
    pub(crate) device_id: DeviceId,
    pub(crate) public_key: [u8; 32],
    pub(crate) active: bool,
    pub(crate) created_at: Timestamp,
}

impl IdentityKeyRecord {
    pub(crate) fn api(&self) -> IdentityKey {
        IdentityKey {
            id: self.id,
            user_id: self.user_id,
            device_id: self.device_id,
            public_key: IdentityPublicKey(self.public_key),
            is_active: self.active,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignedPreKeyRecord {
    pub(crate) user_id: UserId,
    pub(crate) device_id: DeviceId,
    pub(crate) key_id: u32,
    pub(crate) public_key: [u8; 32],
    pub(crate) signature: Vec<u8>,
    pub(crate) active: bool,
    pub(crate) created_at: Timestamp,
}

impl SignedPreKeyRecord {
    pub(crate) fn signature(&self) -> Result<PreKeySignature> {
        self.signature
            .as_slice()
            .try_into()
            .map(PreKeySignature)
            .map_err(|_| Error::Corrupt("signed prekey signature length".into()))
    }

    pub(crate) fn api(&self) -> Result<SignedPreKey> {
        Ok(SignedPreKey {
            user_id: self.user_id,
            device_id: self.device_id,
            key_id: self.key_id,
            public_key: PreKeyPublic(self.public_key),
            signature: self.signature()?,
            is_active: self.active,
            created_at: self.created_at,
        })
    }
}

pub(crate) fn current_identity(store: &Store, device: DeviceId) -> Result<Option<IdentityKeyRecord>> {
    let Some(id) = store.trees.deviceid_identitykeyid.get(device.as_bytes())? else {
        return Ok(None);
    };
    store
        .trees
        .identitykeyid_identitykey
        .get(&id)?
        .map(|b| decode(&b))
        .transpose()
}

/// A device's active identity key as other nodes are told of it.
pub(crate) fn published_identity(store: &Store, device: DeviceId) -> Result<Option<IdentityKey>> {
    Ok(current_identity(store, device)?
        .filter(|key| key.active)
        .map(|key| key.api()))
}

pub(crate) fn signed_prekeys(store: &Store, device: DeviceId) -> Result<Vec<SignedPreKeyRecord>> {
    store
        .trees
        .devicekeyid_signedprekey
        .scan_prefix(device.as_bytes())
        .map(|entry| decode(&entry?.1))
        .collect()
}

pub(crate) fn active_signed_prekey(store: &Store, device: DeviceId) -> Result<Option<SignedPreKeyRecord>> {
    Ok(signed_prekeys(store, device)?.into_iter().find(|k| k.active))
}

/// Whether the device can be reached by X3DH: an active identity key and an active signed prekey.
pub(crate) fn has_active_keys(store: &Store, device: DeviceId) -> Result<bool> {
    Ok(current_identity(store, device)?.is_some_and(|k| k.active) && active_signed_prekey(store, device)?.is_some())
}

/// Deletes every key of a device, for deactivation and account deletion.
pub(crate) fn purge_device(store: &Store, device: DeviceId) -> Result<()> {
    if let Some(id) = store.trees.deviceid_identitykeyid.remove(device.as_bytes())? {
        store.trees.identitykeyid_identitykey.remove(id)?;
    }
    purge_prekeys(store, device)
}

pub(crate) fn purge_prekeys(store: &Store, device: DeviceId) -> Result<()> {
    for tree in [
        &store.trees.devicekeyid_signedprekey,
        &store.trees.devicekeyid_onetimeprekey,
    ] {
        for entry in tree.scan_prefix(device.as_bytes()) {
            tree.remove(entry?.0)?;
        }
    }
    Ok(())
}
