//! The Double Ratchet's symmetric keys and their KDFs.
//!
//! ```text
//! KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info = "Parley ratchet", 64 bytes)
//!                    -> (new root key, chain key)
//! KDF_CK(ck)         = (HMAC-SHA256(ck, 0x02) -> next chain key, HMAC-SHA256(ck, 0x01) -> message key)
//! message key mk     -> HKDF-SHA256(salt = 32 zero bytes, ikm = mk, info = "Parley message key", 44)
//!                    -> ChaCha20-Poly1305 key (32) || nonce (12)
//! ```
//!
//! A message key encrypts exactly one message, so a nonce derived from it is never reused.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use serde::{Deserialize, Serialize};

use crate::crypto::error::{CryptoError, CryptoResult};
use crate::crypto::kdf::{hkdf, hmac};
use crate::crypto::secret::Secret32;

const ROOT_INFO: &[u8] = b"Parley ratchet";
const MESSAGE_INFO: &[u8] = b"Parley message key";
const MESSAGE_KEY_SEED: [u8; 1] = [0x01];
const CHAIN_KEY_SEED: [u8; 1] = [0x02];

/// The root chain's key: mixed with each DH ratchet output into a new root and a new chain key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct RootKey(Secret32);

impl RootKey {
    pub(crate) fn new(secret: Secret32) -> Self {
        Self(secret)
    }

    /// `KDF_RK`.
    pub(crate) fn ratchet(&self, dh_output: &Secret32) -> CryptoResult<(RootKey, ChainKey)> {
        let okm = hkdf::<64>(Some(self.0.as_bytes()), dh_output.as_bytes(), ROOT_INFO)?;
        let (root, chain) = okm.split_at(32);
        Ok((RootKey(secret_from(root)), ChainKey(secret_from(chain))))
    }
}

/// A sending or receiving chain's current key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct ChainKey(Secret32);

impl ChainKey {
    /// `KDF_CK`: the chain's next key and this step's message key.
    pub(crate) fn step(&self) -> CryptoResult<(ChainKey, MessageKey)> {
        let next = hmac(self.0.as_bytes(), &CHAIN_KEY_SEED)?;
        let message = hmac(self.0.as_bytes(), &MESSAGE_KEY_SEED)?;
        Ok((ChainKey(Secret32(*next)), MessageKey(Secret32(*message))))
    }
}

/// The key of one message; consumed by the single encryption or decryption it serves.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct MessageKey(Secret32);

impl MessageKey {
    /// ChaCha20-Poly1305 of `plaintext` with associated data `ad || header`.
    pub(crate) fn seal(&self, ad: &[u8], header: &[u8], plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
        let (cipher, nonce) = self.cipher()?;
        let aad = [ad, header].concat();
        cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::EncryptionFailed)
    }

    /// Opens what [`MessageKey::seal`] produced, or fails if any byte of it or of `ad || header`
    /// changed.
    pub(crate) fn open(&self, ad: &[u8], header: &[u8], ciphertext: &[u8]) -> CryptoResult<Vec<u8>> {
        let (cipher, nonce) = self.cipher()?;
        let aad = [ad, header].concat();
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::DecryptionFailed)
    }

    fn cipher(&self) -> CryptoResult<(ChaCha20Poly1305, Nonce)> {
        let okm = hkdf::<44>(None, self.0.as_bytes(), MESSAGE_INFO)?;
        let (key, nonce) = okm.split_at(32);
        // The cipher wipes its key copy on drop (chacha20poly1305's `zeroize` feature).
        let cipher = ChaCha20Poly1305::new_from_slice(key).map_err(|_| CryptoError::KeyDerivation)?;
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::KeyDerivation)?;
        Ok((cipher, nonce))
    }

    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

#[cfg(test)]
impl ChainKey {
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

fn secret_from(half: &[u8]) -> Secret32 {
    let mut secret = Secret32([0; 32]);
    secret.0.copy_from_slice(half);
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_steps_give_distinct_keys() {
        let chain = ChainKey(Secret32([1; 32]));
        let (next, first) = chain.step().unwrap();
        let (_, second) = next.step().unwrap();
        assert_ne!(first.as_bytes(), second.as_bytes());
        assert_ne!(next.0.as_bytes(), first.as_bytes());
    }

    #[test]
    fn sealed_messages_open_only_unchanged() {
        let key = MessageKey(Secret32([7; 32]));
        let sealed = key.seal(b"ad", b"header", b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + 16);
        assert_eq!(key.open(b"ad", b"header", &sealed).unwrap(), b"hello");
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(key.open(b"ad", b"header", &flipped).is_err());
        assert!(key.open(b"ad", b"headex", &sealed).is_err());
        assert!(key.open(b"ae", b"header", &sealed).is_err());
        assert!(MessageKey(Secret32([8; 32])).open(b"ad", b"header", &sealed).is_err());
    }

    #[test]
    fn the_root_ratchet_depends_on_both_inputs() {
        let root = RootKey(Secret32([1; 32]));
        let (a_root, a_chain) = root.ratchet(&Secret32([2; 32])).unwrap();
        let (b_root, b_chain) = root.ratchet(&Secret32([3; 32])).unwrap();
        assert_ne!(a_root.0.as_bytes(), b_root.0.as_bytes());
        assert_ne!(a_chain.0.as_bytes(), b_chain.0.as_bytes());
        assert_ne!(a_root.0.as_bytes(), a_chain.0.as_bytes());
    }
}
