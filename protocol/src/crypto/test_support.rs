//! Shared helpers for the crypto tests: devices with keys, a started conversation, and a generator
//! that hands out fixed keys so tests and vectors are reproducible.

use std::collections::VecDeque;
use std::convert::Infallible;

use rand::{TryCryptoRng, TryRng};

use super::x3dh::bundle_for;
use super::{
    EncryptedMessage, IdentityKeyPair, OneTimePreKeyId, OneTimePreKeyPair, Session, SessionConfig, SignedPreKeyId,
    SignedPreKeyPair,
};
use crate::api::KeyBundle;

/// A "random" generator that returns the given 32-byte values in order, one per key generated.
/// It panics when it runs out, which shows a test how many keys an operation draws.
pub(crate) struct ScriptedRng(VecDeque<[u8; 32]>);

impl ScriptedRng {
    pub(crate) fn new(keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        Self(keys.into_iter().collect())
    }
}

impl TryRng for ScriptedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unreachable!("key generation only fills 32-byte buffers")
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unreachable!("key generation only fills 32-byte buffers")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let next = self.0.pop_front().expect("the scripted generator ran out of keys");
        dst.copy_from_slice(&next);
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}

/// A device's private keys, as its client would keep them.
pub(crate) struct Device {
    pub(crate) identity: IdentityKeyPair,
    pub(crate) signed: SignedPreKeyPair,
    pub(crate) one_time: Option<OneTimePreKeyPair>,
}

impl Device {
    pub(crate) fn new(with_one_time_prekey: bool) -> Self {
        let identity = IdentityKeyPair::generate();
        let signed = SignedPreKeyPair::generate(&identity, SignedPreKeyId(1));
        let one_time = with_one_time_prekey.then(|| OneTimePreKeyPair::generate(OneTimePreKeyId(100)));
        Self {
            identity,
            signed,
            one_time,
        }
    }

    pub(crate) fn bundle(&self) -> KeyBundle {
        bundle_for(&self.identity, &self.signed, self.one_time.as_ref())
    }

    /// Answers an initial message with this device's keys.
    pub(crate) fn respond(
        &self,
        message: &EncryptedMessage,
        config: SessionConfig,
    ) -> Result<(Session, Vec<u8>), super::CryptoError> {
        Session::respond_with_rng(
            &self.identity,
            &self.signed,
            self.one_time.as_ref(),
            &message.header,
            &message.ciphertext,
            config,
            &mut rand::rng(),
        )
    }
}

/// Alice and Bob after Alice's first message reached Bob: both sessions exist.
pub(crate) fn started(config: SessionConfig) -> (Session, Session) {
    let alice = IdentityKeyPair::generate();
    let bob = Device::new(true);
    let mut alice_session = Session::initiate_with_rng(&alice, &bob.bundle(), config, &mut rand::rng()).unwrap();
    let first = alice_session.encrypt(b"hello").unwrap();
    let (bob_session, plaintext) = bob.respond(&first, config).unwrap();
    assert_eq!(plaintext, b"hello");
    (alice_session, bob_session)
}

/// Decrypts `message` in `session`.
pub(crate) fn open(session: &mut Session, message: &EncryptedMessage) -> Result<Vec<u8>, super::CryptoError> {
    session.decrypt(&message.header, &message.ciphertext)
}
