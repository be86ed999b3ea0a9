//! Fixed test vectors: deterministic keys in, exact bytes out. A change that alters any derived key,
//! the header layout or the ciphertext format breaks wire compatibility with deployed clients, and
//! fails here. The expected values live in `protocol/tests/vectors/crypto.json`; after an
//! intentional, versioned change, regenerate them with
//! `PARLEY_WRITE_VECTORS=1 cargo test -p parley-protocol vectors`.

use std::collections::BTreeMap;

use super::dh::DhKeyPair;
use super::secret::Secret32;
use super::test_support::ScriptedRng;
use super::x3dh::{self, bundle_for};
use super::{
    IdentityKeyPair, OneTimePreKeyId, OneTimePreKeyPair, SafetyNumber, Session, SessionConfig, SignedPreKeyId,
    SignedPreKeyPair,
};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/crypto.json");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every value derived from the fixed inputs, by name.
fn compute() -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let mut put = |name: &'static str, bytes: &[u8]| {
        out.insert(name, hex(bytes));
    };

    // Inputs: each secret a distinct repeated byte.
    let alice = IdentityKeyPair::from_seed([0x01; 32]);
    let bob = IdentityKeyPair::from_seed([0x02; 32]);
    let signed = SignedPreKeyPair::from_secret(&bob, SignedPreKeyId(1), [0x03; 32]);
    let one_time = OneTimePreKeyPair::from_secret(OneTimePreKeyId(7), [0x04; 32]);
    let alice_ephemeral = [0x05; 32];
    let alice_ratchet_1 = [0x06; 32];
    let bob_ratchet_1 = [0x07; 32];
    let alice_ratchet_2 = [0x08; 32];
    let bob_ratchet_2 = [0x09; 32];

    put("alice_identity_public", alice.public_key().as_bytes());
    put("bob_identity_public", bob.public_key().as_bytes());
    put("bob_signed_prekey_public", signed.public_key().as_bytes());
    put("bob_signed_prekey_signature", signed.signature().as_bytes());
    put("bob_one_time_prekey_public", one_time.public_key().as_bytes());

    // X3DH alone, with and without the one-time prekey.
    let ephemeral = DhKeyPair::from_secret(&Secret32(alice_ephemeral));
    let with = x3dh::initiate(&alice, &bundle_for(&bob, &signed, Some(&one_time)), &ephemeral)
        .expect("x3dh with a one-time prekey");
    put("x3dh_secret_with_one_time_prekey", with.shared_secret.as_bytes());
    let without =
        x3dh::initiate(&alice, &bundle_for(&bob, &signed, None), &ephemeral).expect("x3dh without a one-time prekey");
    put("x3dh_secret_without_one_time_prekey", without.shared_secret.as_bytes());

    // A conversation: Alice opens, Bob answers, Alice again (two DH ratchet steps).
    let config = SessionConfig::DEFAULT;
    let bundle = bundle_for(&bob, &signed, Some(&one_time));
    let mut rng = ScriptedRng::new([alice_ephemeral, alice_ratchet_1]);
    let mut alice_session = Session::initiate_with_rng(&alice, &bundle, config, &mut rng).unwrap();
    let m1 = alice_session.encrypt(b"Hello Bob").unwrap();
    put("message_1_header", &m1.header);
    put("message_1_ciphertext", &m1.ciphertext);

    let mut rng = ScriptedRng::new([bob_ratchet_1]);
    let (mut bob_session, p1) = Session::respond_with_rng(
        &bob,
        &signed,
        Some(&one_time),
        &m1.header,
        &m1.ciphertext,
        config,
        &mut rng,
    )
    .unwrap();
    assert_eq!(p1, b"Hello Bob");
    let m2 = bob_session.encrypt(b"Hello Alice").unwrap();
    put("message_2_header", &m2.header);
    put("message_2_ciphertext", &m2.ciphertext);

    let p2 = alice_session
        .decrypt_with_rng(&m2.header, &m2.ciphertext, &mut ScriptedRng::new([alice_ratchet_2]))
        .unwrap();
    assert_eq!(p2, b"Hello Alice");
    let m3 = alice_session.encrypt(b"How are you?").unwrap();
    put("message_3_header", &m3.header);
    put("message_3_ciphertext", &m3.ciphertext);
    let p3 = bob_session
        .decrypt_with_rng(&m3.header, &m3.ciphertext, &mut ScriptedRng::new([bob_ratchet_2]))
        .unwrap();
    assert_eq!(p3, b"How are you?");

    let number = SafetyNumber::new(&alice.public_key(), b"alice", &bob.public_key(), b"bob");
    out.insert("safety_number", number.to_string());
    out
}

#[test]
fn vectors_match_the_committed_file() {
    let computed = compute();
    if std::env::var_os("PARLEY_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&computed).unwrap() + "\n";
        std::fs::write(PATH, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(PATH).expect("tests/vectors/crypto.json is committed");
    let expected: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    let computed: BTreeMap<String, String> = computed
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    for (name, value) in &expected {
        assert_eq!(computed.get(name), Some(value), "vector {name} changed");
    }
    assert_eq!(computed.len(), expected.len(), "the set of vectors changed");
}

#[test]
fn the_vector_messages_decrypt_from_their_bytes_alone() {
    // The committed header and ciphertext of the first message open with Bob's fixed keys: the
    // responder's side is pinned too, not only the initiator's output.
    let text = std::fs::read_to_string(PATH).expect("tests/vectors/crypto.json is committed");
    let expected: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    let unhex = |name: &str| -> Vec<u8> {
        let value = &expected[name];
        (0..value.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&value[i..i + 2], 16).unwrap())
            .collect()
    };
    let bob = IdentityKeyPair::from_seed([0x02; 32]);
    let signed = SignedPreKeyPair::from_secret(&bob, SignedPreKeyId(1), [0x03; 32]);
    let one_time = OneTimePreKeyPair::from_secret(OneTimePreKeyId(7), [0x04; 32]);
    let (_, plaintext) = Session::respond(
        &bob,
        &signed,
        Some(&one_time),
        &unhex("message_1_header"),
        &unhex("message_1_ciphertext"),
    )
    .unwrap();
    assert_eq!(plaintext, b"Hello Bob");
}
