//! A pairwise end-to-end session between two devices: X3DH to start, the Double Ratchet after.
//!
//! The initiator fetches the responder's [`KeyBundle`] and calls [`Session::initiate`]; its messages
//! carry the X3DH fields until it receives a reply. The responder decodes the first header it gets,
//! looks up the prekeys named by [`MessageHeader::prekey`], and calls [`Session::respond`]. Later
//! messages go through [`Session::encrypt`] and [`Session::decrypt`]. The responder must delete the
//! one-time prekey once a session is made from it: a replayed initial message then cannot start a
//! second session (X3DH §4.2).

use std::fmt;

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::dh::{DhKeyPair, DhPublicKey};
use super::error::{CryptoError, CryptoResult};
use super::header::{MessageHeader, PreKeyInfo};
use super::identity::IdentityKeyPair;
use super::prekey::{OneTimePreKeyPair, SignedPreKeyPair};
use super::ratchet::{EncryptedMessage, RatchetState, SessionConfig};
use super::x3dh::{self, AssociatedData};
use crate::api::{DeviceCiphertext, KeyBundle};
use crate::{Base64Bytes, DeviceId, IdentityPublicKey};

/// One device's end of an end-to-end session with one other device.
///
/// Persist it with [`Session::to_bytes`] (MessagePack) or any serde format, and reload it with
/// [`Session::from_bytes`]. Every secret in it wipes itself on drop; `Debug` shows only public facts.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    local_identity: IdentityPublicKey,
    remote_identity: IdentityPublicKey,
    /// Whether this side ran the X3DH initiator (fixes the order of the identities in `AD`).
    initiator: bool,
    /// The initiator's X3DH ephemeral key, which names this session in initial messages.
    base_key: DhPublicKey,
    /// The X3DH fields the initiator repeats until it first decrypts a reply.
    pending_prekey: Option<PreKeyInfo>,
    ratchet: RatchetState,
    config: SessionConfig,
}

impl Session {
    /// Starts a session with the device whose `bundle` the node served, using the thread-local CSPRNG
    /// and the default bounds. Fails if the bundle's signed prekey is not signed by its identity key.
    pub fn initiate(identity: &IdentityKeyPair, bundle: &KeyBundle) -> CryptoResult<Self> {
        Self::initiate_with_rng(identity, bundle, SessionConfig::DEFAULT, &mut rand::rng())
    }

    /// [`Session::initiate`] with explicit bounds and randomness. `rng` supplies, in order, the X3DH
    /// ephemeral key and the first ratchet key.
    pub fn initiate_with_rng<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        bundle: &KeyBundle,
        config: SessionConfig,
        rng: &mut R,
    ) -> CryptoResult<Self> {
        let ephemeral = DhKeyPair::generate(rng);
        let started = x3dh::initiate(identity, bundle, &ephemeral)?;
        drop(ephemeral);
        let ratchet = RatchetState::initiator(started.shared_secret, started.responder_ratchet_key, rng)?;
        Ok(Self {
            local_identity: identity.public_key(),
            remote_identity: bundle.identity_key,
            initiator: true,
            base_key: started.prekey.base_key,
            pending_prekey: Some(started.prekey),
            ratchet,
            config,
        })
    }

    /// Answers an initial message: runs the responder's X3DH with the prekeys its header names and
    /// decrypts it. Returns the new session and the plaintext; nothing is created if the message
    /// does not authenticate. Check [`Session::remote_identity`] against the sender you expected.
    pub fn respond(
        identity: &IdentityKeyPair,
        signed_prekey: &SignedPreKeyPair,
        one_time_prekey: Option<&OneTimePreKeyPair>,
        header: &[u8],
        ciphertext: &[u8],
    ) -> CryptoResult<(Self, Vec<u8>)> {
        Self::respond_with_rng(
            identity,
            signed_prekey,
            one_time_prekey,
            header,
            ciphertext,
            SessionConfig::DEFAULT,
            &mut rand::rng(),
        )
    }

    /// [`Session::respond`] with explicit bounds and randomness (`rng` supplies the first ratchet
    /// key of the reply chain).
    pub fn respond_with_rng<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        signed_prekey: &SignedPreKeyPair,
        one_time_prekey: Option<&OneTimePreKeyPair>,
        header: &[u8],
        ciphertext: &[u8],
        config: SessionConfig,
        rng: &mut R,
    ) -> CryptoResult<(Self, Vec<u8>)> {
        let decoded = MessageHeader::decode(header)?;
        let prekey = decoded.prekey.ok_or(CryptoError::NotAnInitialMessage)?;
        let shared_secret = x3dh::respond(identity, signed_prekey, one_time_prekey, &prekey)?;
        let mut session = Self {
            local_identity: identity.public_key(),
            remote_identity: prekey.identity_key,
            initiator: false,
            base_key: prekey.base_key,
            pending_prekey: None,
            ratchet: RatchetState::responder(shared_secret, signed_prekey.key_pair().clone()),
            config,
        };
        let plaintext = session.decrypt_decoded(&decoded, header, ciphertext, rng)?;
        Ok((session, plaintext))
    }

    /// Encrypts `plaintext` as the next message of this session.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> CryptoResult<EncryptedMessage> {
        let ad = self.associated_data();
        self.ratchet.encrypt(ad.as_bytes(), self.pending_prekey, plaintext)
    }

    /// Decrypts a message of this session. On any error the session is unchanged.
    pub fn decrypt(&mut self, header: &[u8], ciphertext: &[u8]) -> CryptoResult<Vec<u8>> {
        self.decrypt_with_rng(header, ciphertext, &mut rand::rng())
    }

    /// [`Session::decrypt`] with explicit randomness (`rng` supplies a new ratchet key when the
    /// message turns the conversation).
    pub fn decrypt_with_rng<R: CryptoRng + ?Sized>(
        &mut self,
        header: &[u8],
        ciphertext: &[u8],
        rng: &mut R,
    ) -> CryptoResult<Vec<u8>> {
        let decoded = MessageHeader::decode(header)?;
        if let Some(prekey) = &decoded.prekey
            && !self.started_by(prekey)
        {
            return Err(CryptoError::SessionMismatch);
        }
        self.decrypt_decoded(&decoded, header, ciphertext, rng)
    }

    fn decrypt_decoded<R: CryptoRng + ?Sized>(
        &mut self,
        decoded: &MessageHeader,
        header: &[u8],
        ciphertext: &[u8],
        rng: &mut R,
    ) -> CryptoResult<Vec<u8>> {
        let ad = self.associated_data();
        let plaintext = self
            .ratchet
            .decrypt(ad.as_bytes(), decoded, header, ciphertext, &self.config, rng)?;
        // The peer has the session now; stop repeating the X3DH fields.
        self.pending_prekey = None;
        Ok(plaintext)
    }

    /// Whether an initial message with these X3DH fields belongs to this session (the responder
    /// uses it to route a repeated initial message to the session it already made).
    pub fn started_by(&self, prekey: &PreKeyInfo) -> bool {
        !self.initiator && prekey.base_key == self.base_key && prekey.identity_key == self.remote_identity
    }

    /// This device's identity key.
    pub fn local_identity(&self) -> IdentityPublicKey {
        self.local_identity
    }

    /// The peer device's identity key, to check against the key expected for the sender.
    pub fn remote_identity(&self) -> IdentityPublicKey {
        self.remote_identity
    }

    /// Whether this side started the session.
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// Whether the initiator is still waiting for a first reply (its messages carry X3DH fields).
    pub fn awaiting_reply(&self) -> bool {
        self.pending_prekey.is_some()
    }

    /// The bounds on skipped messages.
    pub fn config(&self) -> SessionConfig {
        self.config
    }

    /// Changes the bounds on skipped messages (a smaller store is trimmed on the next insertion).
    pub fn set_config(&mut self, config: SessionConfig) {
        self.config = config;
    }

    /// How many skipped message keys are held for late messages.
    pub fn skipped_message_keys(&self) -> usize {
        self.ratchet.skipped_len()
    }

    /// The session as MessagePack for a client to persist; the buffer wipes itself on drop.
    pub fn to_bytes(&self) -> CryptoResult<Zeroizing<Vec<u8>>> {
        rmp_serde::to_vec_named(self)
            .map(Zeroizing::new)
            .map_err(|err| CryptoError::StateEncoding(err.to_string()))
    }

    /// A session persisted by [`Session::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> CryptoResult<Self> {
        rmp_serde::from_slice(bytes).map_err(|err| CryptoError::StateDecoding(err.to_string()))
    }

    fn associated_data(&self) -> AssociatedData {
        if self.initiator {
            AssociatedData::new(&self.local_identity, &self.remote_identity)
        } else {
            AssociatedData::new(&self.remote_identity, &self.local_identity)
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sent, received, previous_sent) = self.ratchet.counters();
        f.debug_struct("Session")
            .field("local_identity", &self.local_identity)
            .field("remote_identity", &self.remote_identity)
            .field("initiator", &self.initiator)
            .field("awaiting_reply", &self.awaiting_reply())
            .field("sent", &sent)
            .field("received", &received)
            .field("previous_sent", &previous_sent)
            .field("skipped_message_keys", &self.skipped_message_keys())
            .finish_non_exhaustive()
    }
}

impl EncryptedMessage {
    /// The per-device entry of `POST /v1/messages` for `recipient`.
    pub fn into_device_ciphertext(self, recipient: DeviceId) -> DeviceCiphertext {
        DeviceCiphertext {
            recipient_device_id: recipient,
            ciphertext: Base64Bytes(self.ciphertext),
            header: Some(Base64Bytes(self.header)),
        }
    }
}

#[cfg(test)]
mod tests;
