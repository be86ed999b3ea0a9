//! The Double Ratchet (Signal's specification, without header encryption): a root chain,
//! sending and receiving chains, a DH ratchet step each time the conversation turns, and a bounded
//! store of skipped message keys for messages that arrive out of order or never.

mod keys;
mod skipped;

use std::collections::VecDeque;

use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use self::keys::{ChainKey, RootKey};
use self::skipped::SkippedKeys;
use super::dh::{DhKeyPair, DhPublicKey};
use super::error::{CryptoError, CryptoResult};
use super::header::{MessageHeader, PreKeyInfo};
use super::secret::Secret32;

/// How many of the peer's past ratchet keys are remembered, so that a replayed message from an old
/// chain is reported as a replay instead of a failed ratchet step.
const REMEMBERED_RATCHET_KEYS: usize = 64;

/// One side's ratchet state. Cloned before each decryption and committed only on success, so a
/// forged, tampered or replayed message leaves no trace (the specification's "discard changes").
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct RatchetState {
    /// `DHs`: our current ratchet key pair.
    sending_key: DhKeyPair,
    /// `DHr`: the peer's current ratchet key.
    remote_key: Option<DhPublicKey>,
    /// `RK`.
    root: RootKey,
    /// `CKs`.
    sending_chain: Option<ChainKey>,
    /// `CKr`.
    receiving_chain: Option<ChainKey>,
    /// `Ns`.
    sent: u32,
    /// `Nr`.
    received: u32,
    /// `PN`.
    previous_sent: u32,
    /// `MKSKIPPED`.
    skipped: SkippedKeys,
    /// The peer's ratchet keys before `remote_key`, newest last.
    previous_remote_keys: VecDeque<DhPublicKey>,
}

/// An encrypted message: the header and ciphertext bytes that travel side by side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedMessage {
    /// The encoded [`MessageHeader`] (authenticated, not encrypted).
    pub header: Vec<u8>,
    /// The ChaCha20-Poly1305 ciphertext with its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// Bounds on what a session keeps for messages that are late or lost. They bound the ratchet's
/// skipped-key store, so they live beside it; a [`Session`](super::Session) holds them and passes them
/// to each decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionConfig {
    /// `MAX_SKIP`: the most message keys one incoming message may make the session skip in a
    /// chain. A message further ahead is refused with [`CryptoError::TooManySkippedMessages`].
    pub max_skip: u32,
    /// The most skipped message keys kept in total; past it the oldest are dropped, and their
    /// messages are refused with [`CryptoError::DuplicateMessage`] if they ever arrive.
    pub max_skipped_keys: usize,
}

impl SessionConfig {
    /// The default bounds: 1000 per step and 1000 in total.
    pub const DEFAULT: Self = Self {
        max_skip: 1000,
        max_skipped_keys: 1000,
    };

    /// These bounds with `MAX_SKIP` set to `max_skip`.
    pub fn with_max_skip(self, max_skip: u32) -> Self {
        Self { max_skip, ..self }
    }

    /// These bounds with the skipped-key store holding at most `max_skipped_keys`.
    pub fn with_max_skipped_keys(self, max_skipped_keys: usize) -> Self {
        Self {
            max_skipped_keys,
            ..self
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl RatchetState {
    /// `RatchetInitAlice`: the initiator knows the responder's signed prekey, which serves as the
    /// responder's first ratchet key, and can send at once.
    pub(crate) fn initiator<R: CryptoRng + ?Sized>(
        shared_secret: Secret32,
        responder_key: DhPublicKey,
        rng: &mut R,
    ) -> CryptoResult<Self> {
        let sending_key = DhKeyPair::generate(rng);
        let (root, sending_chain) = RootKey::new(shared_secret).ratchet(&sending_key.agree(&responder_key)?)?;
        Ok(Self {
            sending_key,
            remote_key: Some(responder_key),
            root,
            sending_chain: Some(sending_chain),
            receiving_chain: None,
            sent: 0,
            received: 0,
            previous_sent: 0,
            skipped: SkippedKeys::default(),
            previous_remote_keys: VecDeque::new(),
        })
    }

    /// `RatchetInitBob`: the responder starts from its signed prekey pair and must receive first.
    pub(crate) fn responder(shared_secret: Secret32, signed_prekey: DhKeyPair) -> Self {
        Self {
            sending_key: signed_prekey,
            remote_key: None,
            root: RootKey::new(shared_secret),
            sending_chain: None,
            receiving_chain: None,
            sent: 0,
            received: 0,
            previous_sent: 0,
            skipped: SkippedKeys::default(),
            previous_remote_keys: VecDeque::new(),
        }
    }

    /// `RatchetEncrypt`.
    pub(crate) fn encrypt(
        &mut self,
        ad: &[u8],
        prekey: Option<PreKeyInfo>,
        plaintext: &[u8],
    ) -> CryptoResult<EncryptedMessage> {
        let chain = self.sending_chain.as_ref().ok_or(CryptoError::NoSendingChain)?;
        let next_sent = self.sent.checked_add(1).ok_or(CryptoError::CounterOverflow)?;
        let (next_chain, message_key) = chain.step()?;
        let header = MessageHeader {
            ratchet_key: self.sending_key.public(),
            previous_chain_length: self.previous_sent,
            message_number: self.sent,
            prekey,
        }
        .encode();
        let ciphertext = message_key.seal(ad, &header, plaintext)?;
        self.sending_chain = Some(next_chain);
        self.sent = next_sent;
        Ok(EncryptedMessage { header, ciphertext })
    }

    /// `RatchetDecrypt`, all or nothing: on any error the state is exactly as before.
    pub(crate) fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        ad: &[u8],
        header: &MessageHeader,
        header_bytes: &[u8],
        ciphertext: &[u8],
        config: &SessionConfig,
        rng: &mut R,
    ) -> CryptoResult<Vec<u8>> {
        // A skipped key is removed only once its message authenticates, so a forgery naming a
        // skipped slot cannot burn the key of the genuine message.
        if let Some(key) = self.skipped.find(&header.ratchet_key, header.message_number) {
            let plaintext = key.open(ad, header_bytes, ciphertext)?;
            self.skipped.remove(&header.ratchet_key, header.message_number);
            return Ok(plaintext);
        }

        let mut next = self.clone();
        if next.remote_key != Some(header.ratchet_key) {
            if next.previous_remote_keys.contains(&header.ratchet_key) {
                return Err(CryptoError::DuplicateMessage);
            }
            next.skip_until(header.previous_chain_length, config)?;
            next.dh_ratchet(header.ratchet_key, rng)?;
        } else if header.message_number < next.received {
            return Err(CryptoError::DuplicateMessage);
        }
        next.skip_until(header.message_number, config)?;
        let chain = next.receiving_chain.as_ref().ok_or(CryptoError::DecryptionFailed)?;
        let (next_chain, message_key) = chain.step()?;
        let plaintext = message_key.open(ad, header_bytes, ciphertext)?;
        next.receiving_chain = Some(next_chain);
        next.received = next.received.checked_add(1).ok_or(CryptoError::CounterOverflow)?;
        *self = next;
        Ok(plaintext)
    }

    /// `SkipMessageKeys`: derives and stores the receiving chain's keys up to message `until`.
    fn skip_until(&mut self, until: u32, config: &SessionConfig) -> CryptoResult<()> {
        let Some(mut chain) = self.receiving_chain.clone() else {
            return Ok(());
        };
        let skipped = u64::from(until).saturating_sub(u64::from(self.received));
        if skipped > u64::from(config.max_skip) {
            return Err(CryptoError::TooManySkippedMessages {
                skipped,
                max: config.max_skip,
            });
        }
        let Some(remote_key) = self.remote_key else {
            return Ok(());
        };
        while self.received < until {
            let (next_chain, message_key) = chain.step()?;
            self.skipped
                .insert(remote_key, self.received, message_key, config.max_skipped_keys);
            chain = next_chain;
            self.received += 1;
        }
        self.receiving_chain = Some(chain);
        Ok(())
    }

    /// `DHRatchet`: a new receiving chain from the peer's new key, then a new key pair of ours and a
    /// new sending chain. The old private key is dropped (and wiped) here: post-compromise security.
    fn dh_ratchet<R: CryptoRng + ?Sized>(&mut self, remote_key: DhPublicKey, rng: &mut R) -> CryptoResult<()> {
        let (root, receiving_chain) = self.root.ratchet(&self.sending_key.agree(&remote_key)?)?;
        let sending_key = DhKeyPair::generate(rng);
        let (root, sending_chain) = root.ratchet(&sending_key.agree(&remote_key)?)?;

        if let Some(old) = self.remote_key.replace(remote_key) {
            self.previous_remote_keys.push_back(old);
            if self.previous_remote_keys.len() > REMEMBERED_RATCHET_KEYS {
                self.previous_remote_keys.pop_front();
            }
        }
        self.previous_sent = self.sent;
        self.sent = 0;
        self.received = 0;
        self.sending_key = sending_key;
        self.root = root;
        self.receiving_chain = Some(receiving_chain);
        self.sending_chain = Some(sending_chain);
        Ok(())
    }

    /// How many skipped message keys are held.
    pub(crate) fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    /// `(Ns, Nr, PN)`, for diagnostics.
    pub(crate) fn counters(&self) -> (u32, u32, u32) {
        (self.sent, self.received, self.previous_sent)
    }
}

#[cfg(test)]
mod tests;
