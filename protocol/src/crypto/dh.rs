//! X25519 key pairs and agreement, with the low-order check every agreement goes through.

use std::fmt;

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};

use super::error::{CryptoError, CryptoResult};
use super::secret::Secret32;
use crate::{Base64Bytes, PreKeyPublic};

/// An X25519 public key carried in a message header: a ratchet key or an X3DH base key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DhPublicKey(pub [u8; 32]);

impl DhPublicKey {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DhPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DhPublicKey({})", Base64Bytes(self.0.to_vec()).encode())
    }
}

impl From<PreKeyPublic> for DhPublicKey {
    fn from(key: PreKeyPublic) -> Self {
        Self(key.0)
    }
}

impl From<DhPublicKey> for PreKeyPublic {
    fn from(key: DhPublicKey) -> Self {
        Self(key.0)
    }
}

/// A private X25519 key with its public half. Persists as the 32 secret bytes only; the public half
/// is recomputed on load, so a stored pair can never disagree with itself.
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "Secret32", into = "Secret32")]
pub(crate) struct DhKeyPair {
    // `StaticSecret` wipes itself on drop (x25519-dalek's `zeroize` feature).
    secret: StaticSecret,
    public: DhPublicKey,
}

impl DhKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_static(StaticSecret::random_from_rng(rng))
    }

    pub(crate) fn from_secret(secret: &Secret32) -> Self {
        Self::from_static(StaticSecret::from(secret.0))
    }

    fn from_static(secret: StaticSecret) -> Self {
        let public = DhPublicKey(PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    pub(crate) fn public(&self) -> DhPublicKey {
        self.public
    }

    /// X25519 with `theirs`, refusing a low-order peer key (an all-zero output).
    pub(crate) fn agree(&self, theirs: &DhPublicKey) -> CryptoResult<Secret32> {
        agree(&self.secret, theirs)
    }
}

impl From<Secret32> for DhKeyPair {
    fn from(secret: Secret32) -> Self {
        Self::from_secret(&secret)
    }
}

impl From<DhKeyPair> for Secret32 {
    fn from(pair: DhKeyPair) -> Self {
        Secret32(pair.secret.to_bytes())
    }
}

/// X25519 between a private scalar and a peer's public key, refusing a non-contributory result.
pub(crate) fn agree(secret: &StaticSecret, theirs: &DhPublicKey) -> CryptoResult<Secret32> {
    let shared = secret.diffie_hellman(&PublicKey::from(theirs.0));
    if !shared.was_contributory() {
        return Err(CryptoError::WeakKey);
    }
    Ok(Secret32(shared.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree() {
        let alice = DhKeyPair::generate(&mut rand::rng());
        let bob = DhKeyPair::generate(&mut rand::rng());
        let one = alice.agree(&bob.public()).unwrap();
        let two = bob.agree(&alice.public()).unwrap();
        assert_eq!(one.as_bytes(), two.as_bytes());
    }

    #[test]
    fn a_low_order_peer_key_is_refused() {
        let alice = DhKeyPair::generate(&mut rand::rng());
        // The identity point and the point of order 2 both give an all-zero output.
        assert_eq!(alice.agree(&DhPublicKey([0; 32])).err(), Some(CryptoError::WeakKey));
        let mut order_two = [0; 32];
        order_two[0] = 1;
        assert_eq!(alice.agree(&DhPublicKey(order_two)).err(), Some(CryptoError::WeakKey));
    }

    #[test]
    fn a_stored_pair_reloads_with_the_same_public_key() {
        let pair = DhKeyPair::generate(&mut rand::rng());
        let packed = rmp_serde::to_vec(&pair).unwrap();
        let loaded: DhKeyPair = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(loaded.public(), pair.public());
    }
}
