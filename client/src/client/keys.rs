//! Keys on the node: this device's (identity key, signed prekey, one-time prekeys, whose secrets are
//! saved before anything is published) and its peers' (bundles, published identity keys, pinned on
//! first use).

use protocol::api::{
    IdentityKey, KeyBundle, MAX_ONE_TIME_PREKEYS_PER_UPLOAD, PreKeyCount, SignedPreKey, UploadIdentityKeyRequest,
    UploadedCount,
};
use protocol::crypto::{OneTimePreKeyPair, SafetyNumber};
use protocol::{DeviceId, IdentityPublicKey, UserId};
use reqwest::Method;

use super::Client;
use crate::error::{Error, Result};
use crate::prekeys::PreKeys;
use crate::profile::{PREKEYS, TRUST};
use crate::sessions::SessionRecord;
use crate::trust::{Trust, Verdict};

/// Below this many one-time prekeys on the node, the device uploads more.
pub const ONE_TIME_PREKEY_LOW_WATER: usize = 20;
/// How many one-time prekeys a top-up brings the node back to.
pub const ONE_TIME_PREKEY_TARGET: usize = 100;

impl Client {
    // ---- this device's keys -------------------------------------------------------------------

    /// Publishes this device's identity key and signed prekey (unless the node already serves them)
    /// and tops up its one-time prekeys.
    pub async fn publish_keys(&self) -> Result<()> {
        let upload = UploadIdentityKeyRequest {
            user_id: None,
            device_id: None,
            public_key: self.identity_key(),
        };
        let _: IdentityKey = self
            .call(Method::POST, "/encryption/identity", &[], Some(&upload))
            .await?;
        {
            let _guard = self.inner.profile.lock().await?;
            let mut prekeys: PreKeys = self.inner.profile.read_packed(PREKEYS)?.unwrap_or_default();
            let active: Option<SignedPreKey> = match self
                .call(Method::GET, "/encryption/signed-prekeys/active", &[], None)
                .await
            {
                Ok(key) => Some(key),
                Err(err) if err.is_status(404) => None,
                Err(err) => return Err(err),
            };
            let published = match (prekeys.current_signed(), &active) {
                (Some(ours), Some(active)) => ours.id().0 == active.key_id && ours.public_key() == active.public_key,
                _ => false,
            };
            if !published {
                if prekeys.current_signed().is_none() {
                    prekeys.new_signed(&self.inner.identity);
                    self.inner.profile.write_packed(PREKEYS, &prekeys)?;
                }
                if let Err(err) = self.upload_signed(&prekeys).await {
                    if !err.is_status(409) {
                        return Err(err);
                    }
                    // Its id is taken by an older key on the node: make a fresh one.
                    prekeys.new_signed(&self.inner.identity);
                    self.inner.profile.write_packed(PREKEYS, &prekeys)?;
                    self.upload_signed(&prekeys).await?;
                }
            }
        }
        self.refill_one_time_prekeys().await?;
        Ok(())
    }

    async fn upload_signed(&self, prekeys: &PreKeys) -> Result<()> {
        let current = prekeys
            .current_signed()
            .ok_or_else(|| Error::profile("no signed prekey to publish"))?;
        let _: SignedPreKey = self
            .call(
                Method::POST,
                "/encryption/signed-prekeys",
                &[],
                Some(&current.to_upload()),
            )
            .await?;
        Ok(())
    }

    /// Replaces the signed prekey: a new one is made, kept and published; older ones stay for late
    /// initial messages built from them.
    pub async fn rotate_signed_prekey(&self) -> Result<()> {
        let _guard = self.inner.profile.lock().await?;
        let mut prekeys: PreKeys = self.inner.profile.read_packed(PREKEYS)?.unwrap_or_default();
        prekeys.new_signed(&self.inner.identity);
        self.inner.profile.write_packed(PREKEYS, &prekeys)?;
        self.upload_signed(&prekeys).await
    }

    /// How many one-time prekeys the node still holds for this device.
    pub async fn one_time_prekey_count(&self) -> Result<usize> {
        let count: PreKeyCount = self
            .call(Method::GET, "/encryption/onetime-prekeys/count", &[], None)
            .await?;
        Ok(count.count)
    }

    /// Uploads one-time prekeys when the node holds fewer than [`ONE_TIME_PREKEY_LOW_WATER`], up to
    /// [`ONE_TIME_PREKEY_TARGET`]; returns how many were added. Their secrets are saved first.
    pub async fn refill_one_time_prekeys(&self) -> Result<usize> {
        let held = self.one_time_prekey_count().await?;
        if held >= ONE_TIME_PREKEY_LOW_WATER {
            return Ok(0);
        }
        let wanted = ONE_TIME_PREKEY_TARGET - held;
        let batch = {
            let _guard = self.inner.profile.lock().await?;
            let mut prekeys: PreKeys = self.inner.profile.read_packed(PREKEYS)?.unwrap_or_default();
            let count = u32::try_from(wanted).map_err(|_| Error::Protocol("prekey count out of range".into()))?;
            let batch = prekeys.new_one_time(count)?;
            self.inner.profile.write_packed(PREKEYS, &prekeys)?;
            batch
        };
        let mut added = 0;
        for chunk in batch.chunks(MAX_ONE_TIME_PREKEYS_PER_UPLOAD) {
            let uploaded: UploadedCount = self
                .call(
                    Method::POST,
                    "/encryption/onetime-prekeys",
                    &[],
                    Some(&OneTimePreKeyPair::upload_request(chunk)),
                )
                .await?;
            added += uploaded.uploaded;
        }
        Ok(added)
    }

    // ---- peers' keys --------------------------------------------------------------------------

    /// The safety number of this device and `device` of `user`, to compare out of band. Uses the
    /// pinned identity key of the device, else the one the node publishes.
    pub async fn safety_number(&self, user: UserId, device: DeviceId) -> Result<SafetyNumber> {
        let trust: Trust = self.inner.profile.read_json(TRUST)?.unwrap_or_default();
        let remote = match trust.key_of(device) {
            Some(key) => key,
            None => self.published_identity(user, device).await?,
        };
        Ok(SafetyNumber::new(
            &self.identity_key(),
            self.user_id().as_bytes(),
            &remote,
            user.as_bytes(),
        ))
    }

    async fn published_identity(&self, user: UserId, device: DeviceId) -> Result<IdentityPublicKey> {
        let key: IdentityKey = self
            .call(
                Method::GET,
                "/encryption/identity",
                &[("user_id", user.to_string()), ("device_id", device.to_string())],
                None,
            )
            .await?;
        if key.user_id != user || key.device_id != device || !key.is_active {
            return Err(Error::Protocol(format!(
                "the node served no active identity key for {device}"
            )));
        }
        Ok(key.public_key)
    }

    /// A freshly claimed key bundle of `device` of `user`; `None` when the node has none for it
    /// (deactivated, or its keys withdrawn, since the device list was read).
    pub(super) async fn claim_bundle(&self, user: UserId, device: DeviceId) -> Result<Option<KeyBundle>> {
        let bundle: KeyBundle = match self
            .call(
                Method::GET,
                "/encryption/bundles",
                &[("user_id", user.to_string()), ("device_id", device.to_string())],
                None,
            )
            .await
        {
            Ok(bundle) => bundle,
            Err(err) if err.is_status(404) => return Ok(None),
            Err(err) => return Err(err),
        };
        if bundle.user_id != user || bundle.device_id != device {
            return Err(Error::Protocol(format!(
                "the node served a bundle of another device for {device}"
            )));
        }
        Ok(Some(bundle))
    }

    /// Accepts `key` as the identity of `device` only if it is the pinned key, or (for a device not
    /// seen before) the key the node publishes for it, which is then pinned.
    pub(super) async fn verify_identity(&self, user: UserId, device: DeviceId, key: IdentityPublicKey) -> Result<()> {
        let profile = &self.inner.profile;
        let trust: Trust = profile.read_json(TRUST)?.unwrap_or_default();
        if trust.check(user, device, &key)? == Verdict::Known {
            return Ok(());
        }
        if self.published_identity(user, device).await? != key {
            return Err(Error::IdentityMismatch { device });
        }
        let _guard = profile.lock().await?;
        let mut trust: Trust = profile.read_json(TRUST)?.unwrap_or_default();
        if trust.check(user, device, &key)? == Verdict::New {
            trust.pin(user, device, key);
            profile.write_json(TRUST, &trust)?;
        }
        Ok(())
    }

    /// Whether this device holds a session with `device`.
    pub fn has_session(&self, device: DeviceId) -> Result<bool> {
        Ok(self
            .inner
            .profile
            .read_packed::<SessionRecord>(&SessionRecord::file_name(device))?
            .is_some_and(|record| !record.is_empty()))
    }
}
