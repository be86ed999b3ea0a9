//! A device's long-term identity: one Ed25519 key that signs prekeys and, in its X25519 (Montgomery)
//! form, takes part in X3DH. See `keys.rs` for why one published key serves both.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::CryptoRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use x25519_dalek::StaticSecret;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::dh::{DhPublicKey, agree};
use super::error::{CryptoError, CryptoResult};
use super::secret::Secret32;
use crate::{IdentityPublicKey, PreKeyPublic, PreKeySignature};

/// A device's private identity: the Ed25519 signing key and the X25519 scalar derived from it.
///
/// Persist it with serde (it serialises as the 32-byte Ed25519 seed only); it wipes itself on drop
/// and its `Debug` shows the public key alone.
#[derive(Clone)]
pub struct IdentityKeyPair {
    // Both secrets wipe themselves on drop (dalek's `zeroize` features).
    signing: SigningKey,
    agreement: StaticSecret,
    public: IdentityPublicKey,
}

// Every field holding a secret zeroizes itself when dropped.
impl ZeroizeOnDrop for IdentityKeyPair {}

impl IdentityKeyPair {
    /// A fresh identity from the thread-local CSPRNG.
    pub fn generate() -> Self {
        Self::generate_with_rng(&mut rand::rng())
    }

    /// A fresh identity from `rng` (deterministic generators make reproducible tests).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_signing_key(SigningKey::generate(rng))
    }

    /// The identity whose Ed25519 secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        Self::from_signing_key(SigningKey::from_bytes(&seed))
    }

    fn from_signing_key(signing: SigningKey) -> Self {
        // The X25519 private scalar is the (not yet clamped) first half of SHA-512(seed): exactly the
        // scalar Ed25519 clamps and multiplies the base point by, so its Montgomery public key is
        // `VerifyingKey::to_montgomery()`. X25519 clamps it again on every use.
        let agreement = StaticSecret::from(*Zeroizing::new(signing.to_scalar_bytes()));
        Self {
            public: IdentityPublicKey(signing.verifying_key().to_bytes()),
            signing,
            agreement,
        }
    }

    /// The Ed25519 seed this identity is built from, for a client's own encrypted storage.
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// The public key to publish (`POST /v1/encryption/identity`).
    pub fn public_key(&self) -> IdentityPublicKey {
        self.public
    }

    /// Signs a prekey: Ed25519 over its 32 raw bytes, as [`crate::verify_signed_prekey`] checks.
    pub fn sign_prekey(&self, prekey: &PreKeyPublic) -> PreKeySignature {
        PreKeySignature(self.signing.sign(prekey.as_bytes()).to_bytes())
    }

    /// X25519 between this identity and `theirs`.
    pub(crate) fn agree(&self, theirs: &DhPublicKey) -> CryptoResult<Secret32> {
        agree(&self.agreement, theirs)
    }
}

/// Converts a published Ed25519 identity key to its X25519 form, refusing invalid or weak keys.
pub(crate) fn agreement_key(identity: &IdentityPublicKey) -> CryptoResult<DhPublicKey> {
    let key = VerifyingKey::from_bytes(identity.as_bytes()).map_err(|_| CryptoError::InvalidIdentityKey)?;
    if key.is_weak() {
        return Err(CryptoError::InvalidIdentityKey);
    }
    Ok(DhPublicKey(key.to_montgomery().to_bytes()))
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public_key", &self.public)
            .finish_non_exhaustive()
    }
}

impl PartialEq for IdentityKeyPair {
    /// Two pairs are the same identity when their public keys are (the private key follows).
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public
    }
}

impl Eq for IdentityKeyPair {}

impl Serialize for IdentityKeyPair {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Secret32(self.signing.to_bytes()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for IdentityKeyPair {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seed = Secret32::deserialize(deserializer)?;
        Ok(Self::from_signing_key(SigningKey::from_bytes(seed.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use x25519_dalek::PublicKey;

    use super::*;
    use crate::verify_signed_prekey;

    #[test]
    fn the_x25519_form_matches_on_both_sides() {
        let identity = IdentityKeyPair::generate();
        // The private scalar's public key is the Montgomery form of the published Ed25519 key.
        let from_private = DhPublicKey(PublicKey::from(&identity.agreement).to_bytes());
        assert_eq!(agreement_key(&identity.public_key()).unwrap(), from_private);
    }

    #[test]
    fn identities_agree_with_each_other() {
        let alice = IdentityKeyPair::generate();
        let bob = IdentityKeyPair::generate();
        let one = alice.agree(&agreement_key(&bob.public_key()).unwrap()).unwrap();
        let two = bob.agree(&agreement_key(&alice.public_key()).unwrap()).unwrap();
        assert_eq!(one.as_bytes(), two.as_bytes());
    }

    #[test]
    fn signed_prekeys_verify_with_the_wire_check() {
        let identity = IdentityKeyPair::generate();
        let prekey = PreKeyPublic([3; 32]);
        let signature = identity.sign_prekey(&prekey);
        assert_eq!(
            verify_signed_prekey(&identity.public_key(), &prekey, &signature),
            Ok(())
        );
    }

    #[test]
    fn a_seed_is_an_rfc_8032_secret_key() {
        // RFC 8032 §7.1, test 1.
        let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let unhex = |text: &str| -> [u8; 32] {
            let bytes: Vec<u8> = (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                .collect();
            bytes.try_into().unwrap()
        };
        let identity = IdentityKeyPair::from_seed(unhex(seed));
        assert_eq!(identity.public_key(), IdentityPublicKey(unhex(public)));
    }

    #[test]
    fn an_identity_persists_as_its_seed_and_reloads() {
        let identity = IdentityKeyPair::from_seed([5; 32]);
        let packed = rmp_serde::to_vec(&identity).unwrap();
        assert_eq!(packed.len(), 34);
        let loaded: IdentityKeyPair = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(loaded, identity);
        assert_eq!(*loaded.to_seed(), [5; 32]);
    }

    #[test]
    fn debug_shows_no_secret() {
        let identity = IdentityKeyPair::from_seed([5; 32]);
        let shown = format!("{identity:?}");
        assert!(shown.contains("public_key"));
        assert!(!shown.contains("signing"));
    }

    #[test]
    fn invalid_and_weak_identity_keys_are_refused() {
        // The identity point (a weak key) and a non-canonical encoding.
        let mut identity_point = [0; 32];
        identity_point[0] = 1;
        assert_eq!(
            agreement_key(&IdentityPublicKey(identity_point)),
            Err(CryptoError::InvalidIdentityKey)
        );
    }
}
