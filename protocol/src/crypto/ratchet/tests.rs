//! Key-level checks that the public API cannot see: used keys really leave the state.

use super::*;
use crate::crypto::test_support::ScriptedRng;

const AD: &[u8] = b"associated data";

/// A fresh pair: Alice's state (initiator) and Bob's (responder) over a fixed shared secret.
fn pair() -> (RatchetState, RatchetState) {
    let signed_prekey = DhKeyPair::from_secret(&Secret32([3; 32]));
    let alice = RatchetState::initiator(
        Secret32([7; 32]),
        signed_prekey.public(),
        &mut ScriptedRng::new([[4; 32]]),
    )
    .unwrap();
    let bob = RatchetState::responder(Secret32([7; 32]), signed_prekey);
    (alice, bob)
}

fn send(from: &mut RatchetState, text: &[u8]) -> EncryptedMessage {
    from.encrypt(AD, None, text).unwrap()
}

fn receive(to: &mut RatchetState, message: &EncryptedMessage) -> CryptoResult<Vec<u8>> {
    let header = MessageHeader::decode(&message.header)?;
    to.decrypt(
        AD,
        &header,
        &message.header,
        &message.ciphertext,
        &SessionConfig::DEFAULT,
        &mut rand::rng(),
    )
}

fn persisted(state: &RatchetState) -> Vec<u8> {
    rmp_serde::to_vec(state).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// The key the next message from `state` will use.
fn next_message_key(state: &RatchetState) -> [u8; 32] {
    let chain = state.sending_chain.as_ref().unwrap();
    *chain.step().unwrap().1.as_bytes()
}

#[test]
fn used_message_and_chain_keys_leave_both_states() {
    let (mut alice, mut bob) = pair();
    let message_key = next_message_key(&alice);
    let chain_key = *alice.sending_chain.as_ref().unwrap().as_bytes();
    // Before use, the sender's state holds the chain key the message key comes from.
    assert!(contains(&persisted(&alice), &chain_key));

    let message = send(&mut alice, b"gone after reading");
    assert_eq!(receive(&mut bob, &message).unwrap(), b"gone after reading");
    for state in [&alice, &bob] {
        let bytes = persisted(state);
        assert!(!contains(&bytes, &message_key));
        assert!(!contains(&bytes, &chain_key));
    }
}

#[test]
fn a_skipped_key_is_kept_until_used_then_erased() {
    let (mut alice, mut bob) = pair();
    let first = send(&mut alice, b"late");
    let skipped_key = {
        let state = pair().0;
        next_message_key(&state)
    };
    let second = send(&mut alice, b"early");
    assert_eq!(receive(&mut bob, &second).unwrap(), b"early");
    assert!(contains(&persisted(&bob), &skipped_key));
    assert_eq!(receive(&mut bob, &first).unwrap(), b"late");
    assert!(!contains(&persisted(&bob), &skipped_key));
    assert_eq!(bob.skipped_len(), 0);
}

#[test]
fn a_dh_step_replaces_the_private_ratchet_key() {
    let (mut alice, mut bob) = pair();
    receive(&mut bob, &send(&mut alice, b"a")).unwrap();
    let bob_key = Secret32::from(bob.sending_key.clone());
    receive(&mut alice, &send(&mut bob, b"b")).unwrap();
    receive(&mut bob, &send(&mut alice, b"c")).unwrap();
    // Bob's ratchet key from before the step is no longer anywhere in his state.
    assert!(!contains(&persisted(&bob), bob_key.as_bytes()));
    assert_eq!(bob.counters(), (0, 1, 1));
}

#[test]
fn a_failed_decryption_changes_nothing() {
    let (mut alice, mut bob) = pair();
    let message = send(&mut alice, b"x");
    let before = persisted(&bob);
    let mut forged = message.clone();
    forged.ciphertext[0] ^= 1;
    assert_eq!(receive(&mut bob, &forged), Err(CryptoError::DecryptionFailed));
    assert_eq!(persisted(&bob), before);
}
