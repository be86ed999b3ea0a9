//! X3DH key agreement (Signal's "Extended Triple Diffie-Hellman", revision 1), with Ed25519 identity
//! keys used for agreement in their X25519 form.
//!
//! ```text
//! DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)   DH4 = DH(EK_A, OPK_B)
//! SK  = HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
//!                   info = "Parley X3DH", 32 bytes)
//! AD  = Encode(IK_A) || Encode(IK_B)       where Encode(IK) = the 32 Ed25519 public-key bytes
//! ```

use zeroize::Zeroizing;

use super::dh::{DhKeyPair, DhPublicKey};
use super::error::{CryptoError, CryptoResult};
use super::header::PreKeyInfo;
use super::identity::{IdentityKeyPair, agreement_key};
use super::kdf::hkdf;
use super::prekey::{OneTimePreKeyId, OneTimePreKeyPair, SignedPreKeyId, SignedPreKeyPair};
use super::secret::Secret32;
use crate::api::KeyBundle;
use crate::{IdentityPublicKey, KeyError, verify_signed_prekey};

const INFO: &[u8] = b"Parley X3DH";
/// X3DH's `F`: 32 0xFF bytes, so the KDF input can never be mistaken for an XEdDSA scalar's.
const F: [u8; 32] = [0xFF; 32];

/// `AD = Encode(IK_A) || Encode(IK_B)`: binds every message to both identities, initiator first.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AssociatedData([u8; 64]);

impl AssociatedData {
    pub(crate) fn new(initiator: &IdentityPublicKey, responder: &IdentityPublicKey) -> Self {
        let mut bytes = [0; 64];
        bytes[..32].copy_from_slice(initiator.as_bytes());
        bytes[32..].copy_from_slice(responder.as_bytes());
        Self(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

/// The initiator's result: the shared secret `SK`, the fields its first messages carry, and the responder's
/// signed prekey, which is the responder's first ratchet key.
pub(crate) struct Initiation {
    pub(crate) shared_secret: Secret32,
    pub(crate) prekey: PreKeyInfo,
    pub(crate) responder_ratchet_key: DhPublicKey,
}

/// The initiator's side, from the responder's bundle and a fresh ephemeral key `EK_A`.
///
/// The signed prekey's signature is checked first: a bundle the node (or anyone in between) forged
/// is refused before any secret is derived from it.
pub(crate) fn initiate(
    identity: &IdentityKeyPair,
    bundle: &KeyBundle,
    ephemeral: &DhKeyPair,
) -> CryptoResult<Initiation> {
    let signed = &bundle.signed_prekey;
    verify_signed_prekey(&bundle.identity_key, &signed.public_key, &signed.signature).map_err(|err| match err {
        KeyError::InvalidIdentityKey => CryptoError::InvalidIdentityKey,
        KeyError::BadSignature => CryptoError::BadSignedPreKeySignature,
    })?;
    let their_identity = agreement_key(&bundle.identity_key)?;
    let signed_prekey = DhPublicKey::from(signed.public_key);

    let mut secrets = vec![
        identity.agree(&signed_prekey)?,
        ephemeral.agree(&their_identity)?,
        ephemeral.agree(&signed_prekey)?,
    ];
    if let Some(one_time) = &bundle.one_time_prekey {
        secrets.push(ephemeral.agree(&DhPublicKey::from(one_time.public_key))?);
    }
    Ok(Initiation {
        shared_secret: derive(&secrets)?,
        prekey: PreKeyInfo {
            identity_key: identity.public_key(),
            base_key: ephemeral.public(),
            signed_prekey_id: SignedPreKeyId(signed.key_id),
            one_time_prekey_id: bundle.one_time_prekey.as_ref().map(|key| OneTimePreKeyId(key.key_id)),
        },
        responder_ratchet_key: signed_prekey,
    })
}

/// The responder's side, from the X3DH fields of an initial message and the prekeys they name:
/// the shared secret `SK`.
pub(crate) fn respond(
    identity: &IdentityKeyPair,
    signed_prekey: &SignedPreKeyPair,
    one_time_prekey: Option<&OneTimePreKeyPair>,
    prekey: &PreKeyInfo,
) -> CryptoResult<Secret32> {
    if prekey.signed_prekey_id != signed_prekey.id() {
        return Err(CryptoError::SignedPreKeyMismatch {
            expected: prekey.signed_prekey_id.0,
            supplied: signed_prekey.id().0,
        });
    }
    let supplied = one_time_prekey.map(OneTimePreKeyPair::id);
    if prekey.one_time_prekey_id != supplied {
        return Err(CryptoError::OneTimePreKeyMismatch {
            expected: prekey.one_time_prekey_id.map(u32::from),
            supplied: supplied.map(u32::from),
        });
    }
    let their_identity = agreement_key(&prekey.identity_key)?;
    let signed = signed_prekey.key_pair();

    let mut secrets = vec![
        signed.agree(&their_identity)?,
        identity.agree(&prekey.base_key)?,
        signed.agree(&prekey.base_key)?,
    ];
    if let Some(one_time) = one_time_prekey {
        secrets.push(one_time.key_pair().agree(&prekey.base_key)?);
    }
    derive(&secrets)
}

/// `SK = KDF(F || DH1 || DH2 || DH3 [|| DH4])`.
fn derive(secrets: &[Secret32]) -> CryptoResult<Secret32> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * (secrets.len() + 1)));
    ikm.extend_from_slice(&F);
    for secret in secrets {
        ikm.extend_from_slice(secret.as_bytes());
    }
    let okm = hkdf::<32>(None, &ikm, INFO)?;
    Ok(Secret32(*okm))
}

/// The bundle the node would serve for these keys (used by tests and vectors).
#[cfg(test)]
pub(crate) fn bundle_for(
    identity: &IdentityKeyPair,
    signed: &SignedPreKeyPair,
    one_time: Option<&OneTimePreKeyPair>,
) -> KeyBundle {
    use crate::api::{BundleSignedPreKey, OneTimePreKey};
    use crate::{DeviceId, PreKeyPublic, UserId};

    KeyBundle {
        user_id: UserId::from_bytes([1; 16]),
        device_id: DeviceId::from_bytes([2; 16]),
        identity_key: identity.public_key(),
        signed_prekey: BundleSignedPreKey {
            key_id: signed.id().0,
            public_key: signed.public_key(),
            signature: signed.signature(),
        },
        one_time_prekey: one_time.map(|key| OneTimePreKey {
            key_id: key.id().0,
            public_key: PreKeyPublic::from(key.key_pair().public()),
        }),
        stale: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PreKeySignature;

    struct Bob {
        identity: IdentityKeyPair,
        signed: SignedPreKeyPair,
        one_time: OneTimePreKeyPair,
    }

    fn bob() -> Bob {
        let identity = IdentityKeyPair::generate();
        let signed = SignedPreKeyPair::generate(&identity, SignedPreKeyId(1));
        Bob {
            identity,
            signed,
            one_time: OneTimePreKeyPair::generate(OneTimePreKeyId(42)),
        }
    }

    fn ephemeral() -> DhKeyPair {
        DhKeyPair::generate(&mut rand::rng())
    }

    #[test]
    fn both_sides_derive_the_same_secret_with_a_one_time_prekey() {
        let alice = IdentityKeyPair::generate();
        let bob = bob();
        let bundle = bundle_for(&bob.identity, &bob.signed, Some(&bob.one_time));
        let started = initiate(&alice, &bundle, &ephemeral()).unwrap();
        assert_eq!(started.prekey.one_time_prekey_id, Some(OneTimePreKeyId(42)));
        let answered = respond(&bob.identity, &bob.signed, Some(&bob.one_time), &started.prekey).unwrap();
        assert_eq!(started.shared_secret.as_bytes(), answered.as_bytes());
    }

    #[test]
    fn both_sides_derive_the_same_secret_without_a_one_time_prekey() {
        let alice = IdentityKeyPair::generate();
        let bob = bob();
        let bundle = bundle_for(&bob.identity, &bob.signed, None);
        let started = initiate(&alice, &bundle, &ephemeral()).unwrap();
        let answered = respond(&bob.identity, &bob.signed, None, &started.prekey).unwrap();
        assert_eq!(started.shared_secret.as_bytes(), answered.as_bytes());
    }

    #[test]
    fn the_one_time_prekey_changes_the_secret() {
        let alice = IdentityKeyPair::generate();
        let bob = bob();
        let eph = ephemeral();
        let with = initiate(
            &alice,
            &bundle_for(&bob.identity, &bob.signed, Some(&bob.one_time)),
            &eph,
        )
        .unwrap();
        let without = initiate(&alice, &bundle_for(&bob.identity, &bob.signed, None), &eph).unwrap();
        assert_ne!(with.shared_secret.as_bytes(), without.shared_secret.as_bytes());
    }

    #[test]
    fn a_bad_signed_prekey_signature_is_refused() {
        let alice = IdentityKeyPair::generate();
        let bob = bob();
        let mut bundle = bundle_for(&bob.identity, &bob.signed, None);
        bundle.signed_prekey.signature = PreKeySignature([0; 64]);
        assert_eq!(
            initiate(&alice, &bundle, &ephemeral()).err(),
            Some(CryptoError::BadSignedPreKeySignature)
        );
    }

    #[test]
    fn a_substituted_identity_key_is_refused() {
        // A man in the middle swaps in his own identity but cannot re-sign Bob's prekey.
        let alice = IdentityKeyPair::generate();
        let bob = bob();
        let mallory = IdentityKeyPair::generate();
        let mut bundle = bundle_for(&bob.identity, &bob.signed, None);
        bundle.identity_key = mallory.public_key();
        assert_eq!(
            initiate(&alice, &bundle, &ephemeral()).err(),
            Some(CryptoError::BadSignedPreKeySignature)
        );
        bundle.identity_key = IdentityPublicKey([0; 32]);
        assert!(initiate(&alice, &bundle, &ephemeral()).is_err());
    }

    #[test]
    fn the_responder_refuses_keys_the_message_did_not_use() {
        let alice = IdentityKeyPair::generate();
        let bob = bob();
        let bundle = bundle_for(&bob.identity, &bob.signed, Some(&bob.one_time));
        let started = initiate(&alice, &bundle, &ephemeral()).unwrap();
        let other_signed = SignedPreKeyPair::generate(&bob.identity, SignedPreKeyId(2));
        assert_eq!(
            respond(&bob.identity, &other_signed, Some(&bob.one_time), &started.prekey).err(),
            Some(CryptoError::SignedPreKeyMismatch {
                expected: 1,
                supplied: 2
            })
        );
        assert_eq!(
            respond(&bob.identity, &bob.signed, None, &started.prekey).err(),
            Some(CryptoError::OneTimePreKeyMismatch {
                expected: Some(42),
                supplied: None
            })
        );
    }
}
