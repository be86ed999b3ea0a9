//! Published device keys in the Signal model: one identity key, signed prekeys (signature checked here)
//! and a pool of one-time prekeys, each handed out at most once. Only a device's own session may change
//! its keys; anyone authenticated may read them or claim a bundle, which is how X3DH starts.

pub(crate) mod records;
mod remote;

use std::sync::Arc;

use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use protocol::api::{
    ActiveKeys, BundleSignedPreKey, DeviceKeyQuery, IdentityKey, KeyBundle, MAX_ONE_TIME_PREKEYS,
    MAX_ONE_TIME_PREKEYS_PER_UPLOAD, OneTimePreKey, PreKeyCount, RotateSignedPreKeyRequest, SignedPreKey,
    SignedPreKeyUpload, UploadIdentityKeyRequest, UploadOneTimePreKeysRequest, UploadedCount,
};
use protocol::{DeviceId, IdentityKeyId, IdentityPublicKey, PreKeyPublic, UserId, verify_signed_prekey};

use self::records::{
    IdentityKeyRecord, SignedPreKeyRecord, active_signed_prekey, current_identity, has_active_keys, purge_device,
    purge_prekeys, signed_prekeys,
};
use crate::remote::Remote;
use crate::storage::{Store, decode, encode, keys};
use crate::users::records::{self as users, DeviceRecord};
use crate::{Actor, Error, Result};

/// Signed prekeys kept per device (the active one and recent ones for late initial messages).
const KEPT_SIGNED_PREKEYS: usize = 5;

/// Refuses a body that names another user or device than the token's: keys are only ever written for
/// the caller's own device.
fn ensure_own(actor: &Actor, user: Option<UserId>, device: Option<DeviceId>) -> Result<()> {
    if user.is_some_and(|user| user != actor.user_id) {
        return Err(Error::forbidden("keys can only be changed for your own account"));
    }
    if device.is_some_and(|device| device != actor.device_id) {
        return Err(Error::forbidden(
            "keys can only be changed for the device of this session",
        ));
    }
    Ok(())
}

/// The keys service.
pub struct Keys {
    store: Store,
    remote: Arc<Remote>,
}

impl Keys {
    pub(crate) fn new(store: Store, remote: Arc<Remote>) -> Self {
        Self { store, remote }
    }

    /// Resolves which device a read names: the caller's own by default; another user's needs its device.
    /// A user who does not exist is 404 before anything else: no device could make the request good.
    fn target(&self, actor: &Actor, user: Option<UserId>, device: Option<DeviceId>) -> Result<DeviceRecord> {
        let device = match (user, device) {
            (None, None) => actor.device_id,
            (Some(user), None) if user == actor.user_id => actor.device_id,
            (Some(user), None) if users::get_user(&self.store, user)?.is_none() => {
                return Err(Error::NotFound("user"));
            }
            (Some(_), None) => {
                return Err(Error::invalid(
                    "device_id",
                    "is required when user_id names another user",
                ));
            }
            (_, Some(device)) => device,
        };
        match users::get_device(&self.store, device)? {
            Some(record) if record.active && user.is_none_or(|user| user == record.user_id) => Ok(record),
            _ => Err(Error::NotFound("device")),
        }
    }

    /// Publishes the caller's device identity key. Uploading the same key again is a no-op; a different
    /// key replaces the old one and drops the prekeys it had signed.
    pub async fn upload_identity(&self, actor: &Actor, request: UploadIdentityKeyRequest) -> Result<IdentityKey> {
        ensure_own(actor, request.user_id, request.device_id)?;
        let key = VerifyingKey::from_bytes(request.public_key.as_bytes())
            .map_err(|_| Error::invalid("public_key", "is not a valid Ed25519 public key"))?;
        if key.is_weak() {
            return Err(Error::invalid("public_key", "is a weak (small-order) key"));
        }
        if let Some(existing) = current_identity(&self.store, actor.device_id)? {
            if existing.public_key == request.public_key.0 && existing.active {
                return Ok(existing.api());
            }
            self.store
                .trees
                .identitykeyid_identitykey
                .remove(existing.id.as_bytes())?;
            purge_prekeys(&self.store, actor.device_id)?;
        }
        let record = IdentityKeyRecord {
            id: IdentityKeyId::random(),
            user_id: actor.user_id,
            device_id: actor.device_id,
            public_key: request.public_key.0,
            active: true,
            created_at: Utc::now(),
        };
        let t = &self.store.trees;
        t.identitykeyid_identitykey
            .insert(record.id.as_bytes(), encode(&record))?;
        t.deviceid_identitykeyid
            .insert(actor.device_id.as_bytes(), record.id.as_bytes())?;
        self.store.commit().await?;
        Ok(record.api())
    }

    /// A device's current identity key, of this node's devices.
    fn identity_here(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<IdentityKey> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        current_identity(&self.store, device.id)?
            .map(|k| k.api())
            .ok_or(Error::NotFound("identity key"))
    }

    fn own_identity(&self, actor: &Actor, id: IdentityKeyId) -> Result<IdentityKeyRecord> {
        let record: IdentityKeyRecord = self
            .store
            .trees
            .identitykeyid_identitykey
            .get(id.as_bytes())?
            .map(|b| decode(&b))
            .transpose()?
            .ok_or(Error::NotFound("identity key"))?;
        if record.user_id != actor.user_id || record.device_id != actor.device_id {
            return Err(Error::forbidden(
                "identity keys can only be changed by their own device",
            ));
        }
        Ok(record)
    }

    /// Marks the caller's identity key inactive: bundles are no longer served for the device.
    pub async fn deactivate_identity(&self, actor: &Actor, id: IdentityKeyId) -> Result<IdentityKey> {
        let mut record = self.own_identity(actor, id)?;
        record.active = false;
        self.store
            .trees
            .identitykeyid_identitykey
            .insert(id.as_bytes(), encode(&record))?;
        self.store.commit().await?;
        Ok(record.api())
    }

    /// Deletes the caller's identity key and the prekeys it signed.
    pub async fn delete_identity(&self, actor: &Actor, id: IdentityKeyId) -> Result<()> {
        let record = self.own_identity(actor, id)?;
        purge_device(&self.store, record.device_id)?;
        self.store.commit().await
    }

    /// Publishes a signed prekey after checking its signature against the device's identity key; it
    /// becomes the device's active signed prekey.
    pub async fn upload_signed_prekey(&self, actor: &Actor, upload: SignedPreKeyUpload) -> Result<SignedPreKey> {
        ensure_own(actor, upload.user_id, upload.device_id)?;
        let identity = match current_identity(&self.store, actor.device_id)? {
            Some(identity) if identity.active => identity,
            _ => {
                return Err(Error::Conflict(
                    "upload an active identity key for this device first".into(),
                ));
            }
        };
        verify_signed_prekey(
            &IdentityPublicKey(identity.public_key),
            &upload.public_key,
            &upload.signature,
        )
        .map_err(|err| Error::invalid("signature", err.to_string()))?;
        let tree = &self.store.trees.devicekeyid_signedprekey;
        let key = keys::id_u32(actor.device_id.as_bytes(), upload.key_id);
        if tree.contains_key(&key)? {
            return Err(Error::Conflict(format!(
                "key_id {} is already used by this device",
                upload.key_id
            )));
        }
        let mut previous = signed_prekeys(&self.store, actor.device_id)?;
        previous.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        for (index, mut old) in previous.into_iter().enumerate() {
            let old_key = keys::id_u32(actor.device_id.as_bytes(), old.key_id);
            if index + 1 >= KEPT_SIGNED_PREKEYS {
                tree.remove(old_key)?;
            } else if old.active {
                old.active = false;
                tree.insert(old_key, encode(&old))?;
            }
        }
        let record = SignedPreKeyRecord {
            user_id: actor.user_id,
            device_id: actor.device_id,
            key_id: upload.key_id,
            public_key: upload.public_key.0,
            signature: upload.signature.0.to_vec(),
            active: true,
            created_at: Utc::now(),
        };
        tree.insert(key, encode(&record))?;
        self.store.commit().await?;
        record.api()
    }

    /// Replaces the active signed prekey.
    pub async fn rotate_signed_prekey(
        &self,
        actor: &Actor,
        request: RotateSignedPreKeyRequest,
    ) -> Result<SignedPreKey> {
        ensure_own(actor, request.user_id, request.device_id)?;
        self.upload_signed_prekey(actor, request.key).await
    }

    /// One signed prekey of a device, by key id.
    pub fn signed_prekey(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<SignedPreKey> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        let Some(key_id) = query.key_id else {
            return active_signed_prekey(&self.store, device.id)?
                .ok_or(Error::NotFound("signed prekey"))?
                .api();
        };
        let record: SignedPreKeyRecord = self
            .store
            .trees
            .devicekeyid_signedprekey
            .get(keys::id_u32(device.id.as_bytes(), key_id))?
            .map(|b| decode(&b))
            .transpose()?
            .ok_or(Error::NotFound("signed prekey"))?;
        record.api()
    }

    /// A device's active signed prekey.
    pub fn active_signed_prekey(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<SignedPreKey> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        active_signed_prekey(&self.store, device.id)?
            .ok_or(Error::NotFound("signed prekey"))?
            .api()
    }

    /// Adds one-time prekeys to the caller's device pool; ids already present are skipped.
    pub async fn upload_one_time_prekeys(
        &self,
        actor: &Actor,
        request: UploadOneTimePreKeysRequest,
    ) -> Result<UploadedCount> {
        if request.keys.is_empty() {
            return Err(Error::invalid("keys", "must contain at least one key"));
        }
        if request.keys.len() > MAX_ONE_TIME_PREKEYS_PER_UPLOAD {
            return Err(Error::invalid(
                "keys",
                format!("must contain at most {MAX_ONE_TIME_PREKEYS_PER_UPLOAD} keys"),
            ));
        }
        for key in &request.keys {
            ensure_own(actor, key.user_id, key.device_id)?;
        }
        let tree = &self.store.trees.devicekeyid_onetimeprekey;
        let held = tree.scan_prefix(actor.device_id.as_bytes()).count();
        let mut batch = sled::Batch::default();
        let mut fresh = std::collections::HashSet::new();
        for key in &request.keys {
            let storage_key = keys::id_u32(actor.device_id.as_bytes(), key.key_id);
            if !tree.contains_key(&storage_key)? && fresh.insert(key.key_id) {
                batch.insert(storage_key, key.public_key.0.to_vec());
            }
        }
        if held + fresh.len() > MAX_ONE_TIME_PREKEYS {
            return Err(Error::invalid(
                "keys",
                format!("a device may hold at most {MAX_ONE_TIME_PREKEYS} one-time prekeys ({held} held)"),
            ));
        }
        tree.apply_batch(batch)?;
        self.store.commit().await?;
        Ok(UploadedCount { uploaded: fresh.len() })
    }

    /// How many one-time prekeys a device has left.
    pub fn one_time_prekey_count(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<PreKeyCount> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        let count = self
            .store
            .trees
            .devicekeyid_onetimeprekey
            .scan_prefix(device.id.as_bytes())
            .count();
        Ok(PreKeyCount { count })
    }

    /// Removes and returns one of the device's one-time prekeys. Each key is handed out once: removal is
    /// a compare-and-swap, so concurrent claimers that race for the same key retry with the next one.
    fn claim(&self, device: DeviceId) -> Result<Option<OneTimePreKey>> {
        let tree = &self.store.trees.devicekeyid_onetimeprekey;
        loop {
            let Some(entry) = tree.scan_prefix(device.as_bytes()).next() else {
                return Ok(None);
            };
            let (key, value) = entry?;
            if tree.compare_and_swap(&key, Some(&value), None::<&[u8]>)?.is_err() {
                continue;
            }
            let key_id = keys::trailing_u32(&key).ok_or_else(|| Error::Corrupt("one-time prekey key".into()))?;
            let public_key =
                <[u8; 32]>::try_from(value.as_ref()).map_err(|_| Error::Corrupt("one-time prekey length".into()))?;
            return Ok(Some(OneTimePreKey {
                key_id,
                public_key: PreKeyPublic(public_key),
            }));
        }
    }

    /// Claims one one-time prekey of a device without the rest of the bundle.
    pub async fn consume_one_time_prekey(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<OneTimePreKey> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        let key = self.claim(device.id)?.ok_or(Error::NotFound("one-time prekey"))?;
        self.store.commit().await?;
        Ok(key)
    }

    /// Everything needed to open a session with a device, consuming one of its one-time prekeys when
    /// any remain. The claim is made durable before the answer so a crash cannot hand the key out twice.
    async fn bundle_here(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<KeyBundle> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        self.bundle_of(device).await
    }

    /// A bundle claimed by another node for one of this node's devices: the same single-use claim.
    pub async fn bundle_for_peer(&self, user: UserId, device: DeviceId) -> Result<KeyBundle> {
        match users::get_device(&self.store, device)? {
            Some(record) if record.active && record.user_id == user => self.bundle_of(record).await,
            _ => Err(Error::NotFound("device")),
        }
    }

    async fn bundle_of(&self, device: DeviceRecord) -> Result<KeyBundle> {
        let identity = match current_identity(&self.store, device.id)? {
            Some(identity) if identity.active => identity,
            _ => return Err(Error::NotFound("active identity key")),
        };
        let signed = active_signed_prekey(&self.store, device.id)?.ok_or(Error::NotFound("signed prekey"))?;
        let one_time_prekey = self.claim(device.id)?;
        if one_time_prekey.is_some() {
            self.store.commit().await?;
        }
        Ok(KeyBundle {
            user_id: device.user_id,
            device_id: device.id,
            identity_key: IdentityPublicKey(identity.public_key),
            signed_prekey: BundleSignedPreKey {
                key_id: signed.key_id,
                public_key: PreKeyPublic(signed.public_key),
                signature: signed.signature()?,
            },
            one_time_prekey,
            stale: false,
        })
    }

    /// Whether a device has an active identity key and signed prekey.
    pub fn active_keys(&self, actor: &Actor, query: &DeviceKeyQuery) -> Result<ActiveKeys> {
        let device = self.target(actor, query.user_id, query.device_id)?;
        Ok(ActiveKeys {
            has_active_keys: has_active_keys(&self.store, device.id)?,
        })
    }
}
