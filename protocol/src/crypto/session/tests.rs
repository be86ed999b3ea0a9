//! The Signal properties, one test each, through the public session API; then a property test over
//! random interleavings.

use proptest::prelude::*;

use super::*;
use crate::crypto::test_support::{Device, open, started};

fn default() -> SessionConfig {
    SessionConfig::DEFAULT
}

#[test]
fn both_sides_derive_the_same_keys() {
    for with_one_time_prekey in [true, false] {
        let alice = IdentityKeyPair::generate();
        let bob = Device::new(with_one_time_prekey);
        let mut alice_session = Session::initiate(&alice, &bob.bundle()).unwrap();
        let first = alice_session.encrypt(b"hi bob").unwrap();
        let (mut bob_session, plaintext) = bob.respond(&first, default()).unwrap();
        assert_eq!(plaintext, b"hi bob");
        assert_eq!(bob_session.remote_identity(), alice.public_key());
        assert_eq!(alice_session.remote_identity(), bob.identity.public_key());

        // Several turns, each a DH ratchet step, and several messages per turn.
        for turn in 0..4u8 {
            for n in 0..3u8 {
                let text = [turn, n, 1];
                let sent = bob_session.encrypt(&text).unwrap();
                assert_eq!(open(&mut alice_session, &sent).unwrap(), text);
            }
            for n in 0..3u8 {
                let text = [turn, n, 2];
                let sent = alice_session.encrypt(&text).unwrap();
                assert_eq!(open(&mut bob_session, &sent).unwrap(), text);
            }
        }
    }
}

#[test]
fn ciphertexts_hide_the_plaintext_and_differ_per_message() {
    let (mut alice, _bob) = started(default());
    let one = alice.encrypt(b"same text").unwrap();
    let two = alice.encrypt(b"same text").unwrap();
    assert_ne!(one.ciphertext, two.ciphertext);
    assert!(!one.ciphertext.windows(b"same text".len()).any(|w| w == b"same text"));
    assert_eq!(one.ciphertext.len(), b"same text".len() + 16);
}

#[test]
fn messages_out_of_order() {
    let (mut alice, mut bob) = started(default());
    let sent: Vec<_> = (0..5u8).map(|n| alice.encrypt(&[n]).unwrap()).collect();
    for n in [3, 0, 4, 2, 1] {
        assert_eq!(open(&mut bob, &sent[n]).unwrap(), [n as u8]);
    }
    assert_eq!(bob.skipped_message_keys(), 0);

    // Across a ratchet step: the new chain's message arrives before the old chain's last ones.
    let old: Vec<_> = (10..13u8).map(|n| alice.encrypt(&[n]).unwrap()).collect();
    assert_eq!(open(&mut bob, &old[0]).unwrap(), [10]);
    let reply = bob.encrypt(b"turn").unwrap();
    assert_eq!(open(&mut alice, &reply).unwrap(), b"turn");
    let new = alice.encrypt(b"new chain").unwrap();
    assert_eq!(open(&mut bob, &new).unwrap(), b"new chain");
    assert_eq!(bob.skipped_message_keys(), 2);
    assert_eq!(open(&mut bob, &old[2]).unwrap(), [12]);
    assert_eq!(open(&mut bob, &old[1]).unwrap(), [11]);
    assert_eq!(bob.skipped_message_keys(), 0);
}

#[test]
fn lost_messages() {
    let (mut alice, mut bob) = started(default());
    let sent: Vec<_> = (0..6u8).map(|n| alice.encrypt(&[n]).unwrap()).collect();
    // 1 and 4 never arrive; everything else decrypts and the conversation carries on.
    for n in [0, 2, 3, 5] {
        assert_eq!(open(&mut bob, &sent[n]).unwrap(), [n as u8]);
    }
    assert_eq!(bob.skipped_message_keys(), 2);
    let reply = bob.encrypt(b"still here").unwrap();
    assert_eq!(open(&mut alice, &reply).unwrap(), b"still here");
    let next = alice.encrypt(b"good").unwrap();
    assert_eq!(open(&mut bob, &next).unwrap(), b"good");
}

#[test]
fn the_first_message_may_be_lost() {
    let alice = IdentityKeyPair::generate();
    let bob = Device::new(true);
    let mut alice_session = Session::initiate(&alice, &bob.bundle()).unwrap();
    let lost = alice_session.encrypt(b"lost").unwrap();
    let second = alice_session.encrypt(b"second").unwrap();
    // Every message carries the X3DH fields until Alice hears back, so the second can start it.
    let (mut bob_session, plaintext) = bob.respond(&second, default()).unwrap();
    assert_eq!(plaintext, b"second");
    // The late first message is an initial message of the same session: the session takes it.
    let prekey = MessageHeader::decode(&lost.header).unwrap().prekey.unwrap();
    assert!(bob_session.started_by(&prekey));
    assert_eq!(open(&mut bob_session, &lost).unwrap(), b"lost");
}

#[test]
fn initial_fields_stop_once_the_initiator_hears_back() {
    let (mut alice, mut bob) = started(default());
    assert!(alice.awaiting_reply());
    let before = alice.encrypt(b"a").unwrap();
    assert!(MessageHeader::decode(&before.header).unwrap().prekey.is_some());
    assert_eq!(open(&mut bob, &before).unwrap(), b"a");
    let reply = bob.encrypt(b"b").unwrap();
    assert!(MessageHeader::decode(&reply.header).unwrap().prekey.is_none());
    open(&mut alice, &reply).unwrap();
    assert!(!alice.awaiting_reply());
    let after = alice.encrypt(b"c").unwrap();
    assert!(MessageHeader::decode(&after.header).unwrap().prekey.is_none());
    assert_eq!(after.header.len(), 42);
}

#[test]
fn replay_rejected() {
    let (mut alice, mut bob) = started(default());
    let one = alice.encrypt(b"one").unwrap();
    let two = alice.encrypt(b"two").unwrap();
    let three = alice.encrypt(b"three").unwrap();
    assert_eq!(open(&mut bob, &one).unwrap(), b"one");
    assert_eq!(open(&mut bob, &one), Err(CryptoError::DuplicateMessage));
    // A message first decrypted from a skipped key is refused the second time too.
    assert_eq!(open(&mut bob, &three).unwrap(), b"three");
    assert_eq!(open(&mut bob, &two).unwrap(), b"two");
    assert_eq!(open(&mut bob, &two), Err(CryptoError::DuplicateMessage));
    assert_eq!(open(&mut bob, &three), Err(CryptoError::DuplicateMessage));

    // After a full turn, a message from the previous chain is still recognised as a replay.
    let reply = bob.encrypt(b"reply").unwrap();
    open(&mut alice, &reply).unwrap();
    let four = alice.encrypt(b"four").unwrap();
    assert_eq!(open(&mut bob, &four).unwrap(), b"four");
    assert_eq!(open(&mut bob, &one), Err(CryptoError::DuplicateMessage));
    assert_eq!(open(&mut alice, &reply), Err(CryptoError::DuplicateMessage));

    // Replays leave the session working.
    let five = alice.encrypt(b"five").unwrap();
    assert_eq!(open(&mut bob, &five).unwrap(), b"five");
}

#[test]
fn tampered_ciphertext_rejected() {
    let (mut alice, mut bob) = started(default());
    let message = alice.encrypt(b"pay 10").unwrap();
    for index in [0, message.ciphertext.len() - 1] {
        let mut forged = message.clone();
        forged.ciphertext[index] ^= 0x01;
        assert_eq!(open(&mut bob, &forged), Err(CryptoError::DecryptionFailed));
    }
    let mut truncated = message.clone();
    truncated.ciphertext.truncate(10);
    assert_eq!(open(&mut bob, &truncated), Err(CryptoError::DecryptionFailed));
    // The forgeries changed nothing: the genuine message still decrypts, once.
    assert_eq!(open(&mut bob, &message).unwrap(), b"pay 10");
}

#[test]
fn tampered_header_rejected() {
    let (mut alice, mut bob) = started(default());
    open(&mut alice, &bob.encrypt(b"turn").unwrap()).unwrap();
    let message = alice.encrypt(b"pay 10").unwrap();
    assert_eq!(message.header.len(), 42);
    // Every byte of the ratchet key and both counters is authenticated.
    for index in 2..42 {
        let mut forged = message.clone();
        forged.header[index] ^= 0x01;
        let err = open(&mut bob, &forged).unwrap_err();
        assert!(
            matches!(
                err,
                CryptoError::DecryptionFailed | CryptoError::WeakKey | CryptoError::TooManySkippedMessages { .. }
            ),
            "byte {index}: {err:?}"
        );
    }
    let mut version = message.clone();
    version.header[0] = 9;
    assert_eq!(open(&mut bob, &version), Err(CryptoError::UnsupportedVersion(9)));
    assert_eq!(bob.skipped_message_keys(), 0);
    assert_eq!(open(&mut bob, &message).unwrap(), b"pay 10");
}

#[test]
fn tampered_initial_header_rejected() {
    let alice = IdentityKeyPair::generate();
    let bob = Device::new(true);
    let mut alice_session = Session::initiate(&alice, &bob.bundle()).unwrap();
    let first = alice_session.encrypt(b"hello").unwrap();
    // Mallory claims the message came from her identity.
    let mallory = IdentityKeyPair::generate();
    let mut forged = first.clone();
    forged.header[42..74].copy_from_slice(mallory.public_key().as_bytes());
    assert_eq!(
        bob.respond(&forged, default()).unwrap_err(),
        CryptoError::DecryptionFailed
    );
    // Flipping the base key changes DH2..DH4.
    let mut forged = first.clone();
    forged.header[80] ^= 0x01;
    assert!(bob.respond(&forged, default()).is_err());
    assert_eq!(bob.respond(&first, default()).unwrap().1, b"hello");
}

#[test]
fn bad_signed_prekey_signature_rejected() {
    let alice = IdentityKeyPair::generate();
    let bob = Device::new(false);
    let mut bundle = bob.bundle();
    bundle.signed_prekey.signature.0[0] ^= 0x01;
    assert_eq!(
        Session::initiate(&alice, &bundle).unwrap_err(),
        CryptoError::BadSignedPreKeySignature
    );
    // A prekey swapped for Mallory's, still carrying Bob's signature.
    let mut bundle = bob.bundle();
    bundle.signed_prekey.public_key = Device::new(false).signed.public_key();
    assert_eq!(
        Session::initiate(&alice, &bundle).unwrap_err(),
        CryptoError::BadSignedPreKeySignature
    );
}

#[test]
fn wrong_identity_key_rejected() {
    let alice = IdentityKeyPair::generate();
    let bob = Device::new(false);
    // The bundle names Mallory's identity with Bob's prekey: Bob's signature does not verify.
    let mut bundle = bob.bundle();
    bundle.identity_key = IdentityKeyPair::generate().public_key();
    assert_eq!(
        Session::initiate(&alice, &bundle).unwrap_err(),
        CryptoError::BadSignedPreKeySignature
    );
    // A device answering with another identity than the one Alice used cannot read the message.
    let mut alice_session = Session::initiate(&alice, &bob.bundle()).unwrap();
    let first = alice_session.encrypt(b"for bob only").unwrap();
    let impostor = IdentityKeyPair::generate();
    assert_eq!(
        Session::respond(&impostor, &bob.signed, None, &first.header, &first.ciphertext).unwrap_err(),
        CryptoError::DecryptionFailed
    );
}

#[test]
fn forward_secrecy() {
    let (mut alice, mut bob) = started(default());
    let early = alice.encrypt(b"early secret").unwrap();
    assert_eq!(open(&mut bob, &early).unwrap(), b"early secret");
    // Re-delivered, it fails: its key was used once and is gone.
    assert_eq!(open(&mut bob, &early), Err(CryptoError::DuplicateMessage));

    // A few turns later, an attacker takes a complete copy of Bob's state (and of Alice's).
    for _ in 0..2 {
        open(&mut alice, &bob.encrypt(b"x").unwrap()).unwrap();
        open(&mut bob, &alice.encrypt(b"y").unwrap()).unwrap();
    }
    let mut stolen_bob = Session::from_bytes(&bob.to_bytes().unwrap()).unwrap();
    let mut stolen_alice = Session::from_bytes(&alice.to_bytes().unwrap()).unwrap();
    // Neither copy can read the earlier message.
    assert!(open(&mut stolen_bob, &early).is_err());
    assert!(open(&mut stolen_alice, &early).is_err());
    // Nor does a copy of the state help with a message from an earlier chain Bob already read.
    let mut copy = bob.clone();
    assert_eq!(open(&mut copy, &early), Err(CryptoError::DuplicateMessage));
}

#[test]
fn post_compromise_recovery() {
    let (mut alice, mut bob) = started(default());
    open(&mut alice, &bob.encrypt(b"b0").unwrap()).unwrap();
    let a1 = alice.encrypt(b"a1").unwrap();
    open(&mut bob, &a1).unwrap();

    // Eve copies Bob's whole state, then passively sees every later message.
    let mut eve = bob.clone();

    // Until Bob's next fresh ratchet key is in use, Eve reads along.
    let a2 = alice.encrypt(b"a2").unwrap();
    assert_eq!(open(&mut bob, &a2).unwrap(), b"a2");
    assert_eq!(open(&mut eve, &a2).unwrap(), b"a2");
    let b1 = bob.encrypt(b"b1").unwrap();
    assert_eq!(open(&mut alice, &b1).unwrap(), b"b1");
    let a3 = alice.encrypt(b"a3").unwrap();
    assert_eq!(open(&mut bob, &a3).unwrap(), b"a3");
    assert_eq!(open(&mut eve, &a3).unwrap(), b"a3");

    // Bob's reply uses a key pair generated after the copy; once Alice ratchets onto it, the copy
    // is useless.
    let b2 = bob.encrypt(b"b2").unwrap();
    assert_eq!(open(&mut alice, &b2).unwrap(), b"b2");
    let a4 = alice.encrypt(b"a4").unwrap();
    assert_eq!(open(&mut eve, &a4), Err(CryptoError::DecryptionFailed));
    assert_eq!(open(&mut bob, &a4).unwrap(), b"a4");
    let a5 = alice.encrypt(b"a5").unwrap();
    assert_eq!(open(&mut eve, &a5), Err(CryptoError::DecryptionFailed));
    assert_eq!(open(&mut bob, &a5).unwrap(), b"a5");
}

#[test]
fn skipping_is_bounded_per_step() {
    let config = SessionConfig::DEFAULT.with_max_skip(5);
    let (mut alice, mut bob) = started(config);
    let sent: Vec<_> = (0..8u8).map(|n| alice.encrypt(&[n]).unwrap()).collect();
    // `hello` was message 0; message 7 would skip 1..=6, six keys.
    assert_eq!(
        open(&mut bob, &sent[6]),
        Err(CryptoError::TooManySkippedMessages { skipped: 6, max: 5 })
    );
    assert_eq!(open(&mut bob, &sent[5]).unwrap(), [5]);
    assert_eq!(bob.skipped_message_keys(), 5);
    assert_eq!(open(&mut bob, &sent[6]).unwrap(), [6]);
}

#[test]
fn the_skipped_key_store_is_bounded() {
    let config = SessionConfig::DEFAULT.with_max_skipped_keys(3);
    let (mut alice, mut bob) = started(config);
    let sent: Vec<_> = (0..6u8).map(|n| alice.encrypt(&[n]).unwrap()).collect();
    assert_eq!(open(&mut bob, &sent[5]).unwrap(), [5]);
    // Five keys were skipped; the two oldest were dropped.
    assert_eq!(bob.skipped_message_keys(), 3);
    assert_eq!(open(&mut bob, &sent[0]), Err(CryptoError::DuplicateMessage));
    assert_eq!(open(&mut bob, &sent[1]), Err(CryptoError::DuplicateMessage));
    for (n, message) in sent.iter().enumerate().take(5).skip(2) {
        assert_eq!(open(&mut bob, message).unwrap(), [n as u8]);
    }
}

#[test]
fn a_session_persists_and_resumes() {
    let (mut alice, mut bob) = started(default());
    let sent: Vec<_> = (0..3u8).map(|n| alice.encrypt(&[n]).unwrap()).collect();
    assert_eq!(open(&mut bob, &sent[2]).unwrap(), [2]);

    // Both "restart" with skipped keys outstanding.
    let mut alice = Session::from_bytes(&alice.to_bytes().unwrap()).unwrap();
    let mut bob = Session::from_bytes(&bob.to_bytes().unwrap()).unwrap();
    assert_eq!(bob.skipped_message_keys(), 2);
    assert_eq!(open(&mut bob, &sent[0]).unwrap(), [0]);
    let reply = bob.encrypt(b"back").unwrap();
    assert_eq!(open(&mut alice, &reply).unwrap(), b"back");
    assert_eq!(open(&mut bob, &sent[1]).unwrap(), [1]);
    assert!(matches!(
        Session::from_bytes(b"not a session"),
        Err(CryptoError::StateDecoding(_))
    ));

    // Any serde format works too.
    let json = serde_json::to_string(&bob).unwrap();
    let mut bob: Session = serde_json::from_str(&json).unwrap();
    let more = alice.encrypt(b"json").unwrap();
    assert_eq!(open(&mut bob, &more).unwrap(), b"json");
}

#[test]
fn initial_messages_go_to_the_right_place() {
    let (mut alice, mut bob) = started(default());
    // Bob's session refuses a header that starts another session.
    let (mut other, _) = started(default());
    let foreign = other.encrypt(b"elsewhere").unwrap();
    assert_eq!(open(&mut bob, &foreign), Err(CryptoError::SessionMismatch));
    // And a plain message cannot start a session.
    open(&mut alice, &bob.encrypt(b"turn").unwrap()).unwrap();
    let plain = alice.encrypt(b"plain").unwrap();
    let device = Device::new(false);
    assert_eq!(
        device.respond(&plain, default()).unwrap_err(),
        CryptoError::NotAnInitialMessage
    );
}

#[test]
fn debug_shows_no_secrets() {
    let (alice, _bob) = started(default());
    let shown = format!("{alice:?}");
    assert!(shown.contains("remote_identity"));
    for secret in ["root", "chain", "sending_key", "ratchet"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn messages_fit_the_wire_types() {
    let (mut alice, mut bob) = started(default());
    let device = crate::DeviceId::random();
    let entry = alice.encrypt(b"over the wire").unwrap().into_device_ciphertext(device);
    let json = serde_json::to_string(&entry).unwrap();
    let entry: crate::api::DeviceCiphertext = serde_json::from_str(&json).unwrap();
    assert_eq!(entry.recipient_device_id, device);
    let header = entry.header.unwrap();
    assert!(header.len() <= 1024);
    assert_eq!(
        bob.decrypt(header.as_ref(), entry.ciphertext.as_ref()).unwrap(),
        b"over the wire"
    );
}

/// One step of a two-party conversation.
#[derive(Clone, Debug)]
enum Step {
    /// Alice (true) or Bob (false) sends the next message.
    Send(bool),
    /// Deliver one in-flight message to Alice (true) or Bob (false), picked by index.
    Deliver(bool, prop::sample::Index),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            any::<bool>().prop_map(Step::Send),
            (any::<bool>(), any::<prop::sample::Index>()).prop_map(|(to, i)| Step::Deliver(to, i)),
        ],
        1..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any interleaving of sends and (out-of-order) deliveries decrypts to what was sent, and every
    /// message is delivered exactly once.
    #[test]
    fn any_interleaving_decrypts_to_what_was_sent(steps in steps()) {
        let alice_identity = IdentityKeyPair::generate();
        let bob_device = Device::new(true);
        let mut alice = Session::initiate(&alice_identity, &bob_device.bundle()).unwrap();
        let mut bob: Option<Session> = None;
        // In flight to Alice and to Bob: (plaintext, message).
        let mut to_alice: Vec<(Vec<u8>, EncryptedMessage)> = Vec::new();
        let mut to_bob: Vec<(Vec<u8>, EncryptedMessage)> = Vec::new();
        let mut counter = 0u32;

        // Alice always opens, so there is something to start Bob's session.
        let first = b"first".to_vec();
        to_bob.push((first.clone(), alice.encrypt(&first).unwrap()));

        let deliver_to_bob = |bob: &mut Option<Session>, plaintext: &[u8], message: &EncryptedMessage| {
            let got = match bob {
                Some(session) => open(session, message).unwrap(),
                None => {
                    let (session, got) = bob_device.respond(message, SessionConfig::DEFAULT).unwrap();
                    *bob = Some(session);
                    got
                }
            };
            prop_assert_eq!(got, plaintext.to_vec());
            Ok(())
        };

        for step in steps {
            match step {
                Step::Send(true) => {
                    counter += 1;
                    let text = format!("alice {counter}").into_bytes();
                    to_bob.push((text.clone(), alice.encrypt(&text).unwrap()));
                }
                Step::Send(false) => {
                    // Bob can only speak once a message has reached him.
                    if let Some(session) = bob.as_mut() {
                        counter += 1;
                        let text = format!("bob {counter}").into_bytes();
                        to_alice.push((text.clone(), session.encrypt(&text).unwrap()));
                    }
                }
                Step::Deliver(true, index) => {
                    if !to_alice.is_empty() {
                        let (text, message) = to_alice.remove(index.index(to_alice.len()));
                        prop_assert_eq!(open(&mut alice, &message).unwrap(), text);
                    }
                }
                Step::Deliver(false, index) => {
                    if !to_bob.is_empty() {
                        let (text, message) = to_bob.remove(index.index(to_bob.len()));
                        deliver_to_bob(&mut bob, &text, &message)?;
                    }
                }
            }
        }
        // Everything still in flight arrives at last, newest first.
        while let Some((text, message)) = to_bob.pop() {
            deliver_to_bob(&mut bob, &text, &message)?;
        }
        while let Some((text, message)) = to_alice.pop() {
            prop_assert_eq!(open(&mut alice, &message).unwrap(), text);
        }
        if let Some(bob) = &bob {
            prop_assert_eq!(bob.skipped_message_keys(), 0);
        }
        prop_assert_eq!(alice.skipped_message_keys(), 0);
    }
}
