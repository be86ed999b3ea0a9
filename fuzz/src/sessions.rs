//! Alice's and Bob's ends of one session, after Alice's first message reached Bob. Fixed keys and a
//! seeded generator make them the same on every run, so a crash found with them reproduces.

use protocol::api::{BundleSignedPreKey, KeyBundle, OneTimePreKey};
use protocol::crypto::{
    IdentityKeyPair, OneTimePreKeyId, OneTimePreKeyPair, Session, SessionConfig, SignedPreKeyId, SignedPreKeyPair,
};
use protocol::{DeviceId, UserId};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Bounds far below the defaults, so a few dozen messages reach them and the trimming runs.
pub fn config() -> SessionConfig {
    SessionConfig::DEFAULT.with_max_skip(40).with_max_skipped_keys(25)
}

/// The generator for every decryption, seeded like everything else here.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(13)
}

/// `(alice, bob)`: both can send; Alice's messages still carry the X3DH fields.
pub fn pair() -> (Session, Session) {
    let mut rng = rng();
    let alice = IdentityKeyPair::from_seed([1; 32]);
    let bob = IdentityKeyPair::from_seed([2; 32]);
    let signed = SignedPreKeyPair::from_secret(&bob, SignedPreKeyId(1), [3; 32]);
    let one_time = OneTimePreKeyPair::from_secret(OneTimePreKeyId(100), [4; 32]);
    let bundle = KeyBundle {
        user_id: UserId::from_bytes([5; 16]),
        device_id: DeviceId::from_bytes([6; 16]),
        identity_key: bob.public_key(),
        signed_prekey: BundleSignedPreKey {
            key_id: signed.id().0,
            public_key: signed.public_key(),
            signature: signed.signature(),
        },
        one_time_prekey: Some(OneTimePreKey {
            key_id: one_time.id().0,
            public_key: one_time.public_key(),
        }),
        stale: false,
    };
    let mut alice_session =
        Session::initiate_with_rng(&alice, &bundle, config(), &mut rng).expect("the bundle is well signed");
    let first = alice_session.encrypt(b"hello").expect("the initiator can send");
    let (bob_session, _) = Session::respond_with_rng(
        &bob,
        &signed,
        Some(&one_time),
        &first.header,
        &first.ciphertext,
        config(),
        &mut rng,
    )
    .expect("the first message opens");
    (alice_session, bob_session)
}
