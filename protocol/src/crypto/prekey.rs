//! A device's prekeys: the private halves it keeps, and the public forms it uploads.

use std::fmt;

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::dh::DhKeyPair;
use super::error::{CryptoError, CryptoResult};
use super::identity::IdentityKeyPair;
use super::secret::Secret32;
use crate::api::{OneTimePreKeyUpload, SignedPreKeyUpload, UploadOneTimePreKeysRequest};
use crate::{PreKeyPublic, PreKeySignature};

macro_rules! prekey_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl From<u32> for $name {
            fn from(id: u32) -> Self {
                Self(id)
            }
        }

        impl From<$name> for u32 {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

prekey_id!(
    /// A signed prekey's id, chosen by its device (the `key_id` of the upload).
    SignedPreKeyId
);
prekey_id!(
    /// A one-time prekey's id, chosen by its device (the `key_id` of the upload).
    OneTimePreKeyId
);

/// A signed prekey with its private half, kept by the device until the prekey is retired.
///
/// Serialises as its id, private key and signature; wipes itself on drop; `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignedPreKeyPair {
    id: SignedPreKeyId,
    key: DhKeyPair,
    signature: PreKeySignature,
}

impl SignedPreKeyPair {
    /// A fresh signed prekey, signed by `identity`.
    pub fn generate(identity: &IdentityKeyPair, id: SignedPreKeyId) -> Self {
        Self::generate_with_rng(identity, id, &mut rand::rng())
    }

    /// A fresh signed prekey drawn from `rng`.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        id: SignedPreKeyId,
        rng: &mut R,
    ) -> Self {
        Self::with_key(identity, id, DhKeyPair::generate(rng))
    }

    /// The signed prekey whose X25519 private key is `secret` (for fixed test vectors).
    pub fn from_secret(identity: &IdentityKeyPair, id: SignedPreKeyId, secret: [u8; 32]) -> Self {
        let secret = Zeroizing::new(secret);
        Self::with_key(identity, id, DhKeyPair::from_secret(&Secret32(*secret)))
    }

    fn with_key(identity: &IdentityKeyPair, id: SignedPreKeyId, key: DhKeyPair) -> Self {
        let signature = identity.sign_prekey(&key.public().into());
        Self { id, key, signature }
    }

    /// Its id.
    pub fn id(&self) -> SignedPreKeyId {
        self.id
    }

    /// Its public key.
    pub fn public_key(&self) -> PreKeyPublic {
        self.key.public().into()
    }

    /// The identity key's signature over the public key.
    pub fn signature(&self) -> PreKeySignature {
        self.signature
    }

    /// The public form for `POST /v1/encryption/signed-prekeys` (user and device come from the token).
    pub fn to_upload(&self) -> SignedPreKeyUpload {
        SignedPreKeyUpload {
            user_id: None,
            device_id: None,
            key_id: self.id.0,
            public_key: self.public_key(),
            signature: self.signature,
        }
    }

    pub(crate) fn key_pair(&self) -> &DhKeyPair {
        &self.key
    }
}

impl fmt::Debug for SignedPreKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedPreKeyPair")
            .field("id", &self.id)
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// A one-time prekey with its private half, kept until a session consumes it, then deleted.
///
/// Serialises as its id and private key; wipes itself on drop; `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct OneTimePreKeyPair {
    id: OneTimePreKeyId,
    key: DhKeyPair,
}

impl OneTimePreKeyPair {
    /// A fresh one-time prekey.
    pub fn generate(id: OneTimePreKeyId) -> Self {
        Self::generate_with_rng(id, &mut rand::rng())
    }

    /// A fresh one-time prekey drawn from `rng`.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(id: OneTimePreKeyId, rng: &mut R) -> Self {
        Self {
            id,
            key: DhKeyPair::generate(rng),
        }
    }

    /// The one-time prekey whose X25519 private key is `secret` (for fixed test vectors).
    pub fn from_secret(id: OneTimePreKeyId, secret: [u8; 32]) -> Self {
        let secret = Zeroizing::new(secret);
        Self {
            id,
            key: DhKeyPair::from_secret(&Secret32(*secret)),
        }
    }

    /// `count` fresh keys with consecutive ids from `first`; fails rather than wrap past `u32::MAX`.
    pub fn generate_batch(first: OneTimePreKeyId, count: u32) -> CryptoResult<Vec<Self>> {
        if count > 0 && first.0.checked_add(count - 1).is_none() {
            return Err(CryptoError::PreKeyIdOverflow);
        }
        let rng = &mut rand::rng();
        Ok((0..count)
            .map(|offset| Self::generate_with_rng(OneTimePreKeyId(first.0 + offset), rng))
            .collect())
    }

    /// The body of `POST /v1/encryption/onetime-prekeys` for `keys`.
    pub fn upload_request(keys: &[Self]) -> UploadOneTimePreKeysRequest {
        UploadOneTimePreKeysRequest {
            keys: keys.iter().map(Self::to_upload).collect(),
        }
    }

    /// Its id.
    pub fn id(&self) -> OneTimePreKeyId {
        self.id
    }

    /// Its public key.
    pub fn public_key(&self) -> PreKeyPublic {
        self.key.public().into()
    }

    /// The public form of one key (user and device come from the token).
    pub fn to_upload(&self) -> OneTimePreKeyUpload {
        OneTimePreKeyUpload {
            user_id: None,
            device_id: None,
            key_id: self.id.0,
            public_key: self.public_key(),
        }
    }

    pub(crate) fn key_pair(&self) -> &DhKeyPair {
        &self.key
    }
}

impl fmt::Debug for OneTimePreKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimePreKeyPair")
            .field("id", &self.id)
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify_signed_prekey;

    #[test]
    fn a_signed_prekey_upload_verifies_like_the_node_checks_it() {
        let identity = IdentityKeyPair::generate();
        let prekey = SignedPreKeyPair::generate(&identity, SignedPreKeyId(7));
        let upload = prekey.to_upload();
        assert_eq!(upload.key_id, 7);
        assert_eq!(
            verify_signed_prekey(&identity.public_key(), &upload.public_key, &upload.signature),
            Ok(())
        );
    }

    #[test]
    fn a_batch_has_consecutive_ids_and_distinct_keys() {
        let batch = OneTimePreKeyPair::generate_batch(OneTimePreKeyId(10), 5).unwrap();
        let request = OneTimePreKeyPair::upload_request(&batch);
        let ids: Vec<u32> = request.keys.iter().map(|key| key.key_id).collect();
        assert_eq!(ids, vec![10, 11, 12, 13, 14]);
        assert_ne!(request.keys[0].public_key, request.keys[1].public_key);
    }

    #[test]
    fn a_batch_never_wraps_its_ids() {
        assert_eq!(
            OneTimePreKeyPair::generate_batch(OneTimePreKeyId(u32::MAX - 1), 3).err(),
            Some(CryptoError::PreKeyIdOverflow)
        );
        assert_eq!(
            OneTimePreKeyPair::generate_batch(OneTimePreKeyId(u32::MAX - 1), 2)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn prekeys_persist_and_reload() {
        let identity = IdentityKeyPair::generate();
        let signed = SignedPreKeyPair::generate(&identity, SignedPreKeyId(1));
        let loaded: SignedPreKeyPair = rmp_serde::from_slice(&rmp_serde::to_vec(&signed).unwrap()).unwrap();
        assert_eq!(loaded.public_key(), signed.public_key());
        assert_eq!(loaded.signature(), signed.signature());

        let one_time = OneTimePreKeyPair::generate(OneTimePreKeyId(2));
        let loaded: OneTimePreKeyPair = rmp_serde::from_slice(&rmp_serde::to_vec(&one_time).unwrap()).unwrap();
        assert_eq!(loaded.public_key(), one_time.public_key());
        assert_eq!(loaded.id(), OneTimePreKeyId(2));
    }
}
