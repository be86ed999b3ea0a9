//! Double Ratchet headers and messages, against a fixed session pair. The input is a script
//! (`parley_fuzz::script`): either side sends, genuine messages are delivered in any order, more than
//! once or with a byte changed, and header and ciphertext bytes nobody encrypted reach either side.
//!
//! Checked: nothing panics; a header that decodes has exactly one encoding; a changed or forged message
//! is refused and leaves the session exactly as it was; a genuine one opens at most once, to what was
//! sent; and however long the script, each session stays within its bounds.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use parley_fuzz::script::{Step, Tamper, parse};
use parley_fuzz::sessions::{config, pair, rng};
use protocol::crypto::{EncryptedMessage, MessageHeader, Session};
use rand::rngs::StdRng;

static PAIR: LazyLock<(Session, Session)> = LazyLock::new(pair);

/// Past this a session holds more than its bounds allow: under 1 KiB of fixed state, under 160 bytes
/// per skipped key and under 70 per remembered ratchet key (64 are remembered).
fn max_state_bytes() -> usize {
    1024 + config().max_skipped_keys * 160 + 64 * 70
}

struct Sent {
    from_alice: bool,
    plaintext: Vec<u8>,
    message: EncryptedMessage,
    opened: bool,
}

fuzz_target!(|data: &[u8]| {
    let (mut alice, mut bob) = PAIR.clone();
    let mut rng = rng();
    let mut in_flight: Vec<Sent> = Vec::new();
    for step in parse(data) {
        match step {
            Step::Send { from_alice } => {
                let plaintext = in_flight.len().to_be_bytes().to_vec();
                let sender = if from_alice { &mut alice } else { &mut bob };
                let message = sender.encrypt(&plaintext).expect("both sides can send");
                in_flight.push(Sent {
                    from_alice,
                    plaintext,
                    message,
                    opened: false,
                });
            }
            Step::Deliver { index, tamper } => {
                if in_flight.is_empty() {
                    continue;
                }
                let count = in_flight.len();
                let sent = &mut in_flight[usize::from(index) % count];
                let recipient = if sent.from_alice { &mut bob } else { &mut alice };
                let mut message = sent.message.clone();
                let tampered = tamper.is_some_and(|tamper| apply(tamper, &mut message));
                let opened = open(recipient, &message, &mut rng);
                if tampered {
                    assert!(opened.is_none(), "a changed message opened");
                } else if let Some(plaintext) = opened {
                    assert!(!sent.opened, "a message opened twice");
                    assert_eq!(plaintext, sent.plaintext);
                    sent.opened = true;
                }
            }
            Step::Forge {
                to_alice,
                header,
                ciphertext,
            } => {
                if let Ok(decoded) = MessageHeader::decode(&header) {
                    assert_eq!(decoded.encode(), header, "a header with a second encoding decoded");
                }
                let recipient = if to_alice { &mut alice } else { &mut bob };
                let message = EncryptedMessage { header, ciphertext };
                assert!(open(recipient, &message, &mut rng).is_none(), "a forged message opened");
            }
        }
        for session in [&alice, &bob] {
            assert!(session.skipped_message_keys() <= config().max_skipped_keys);
            assert!(
                state(session).len() <= max_state_bytes(),
                "the session grew past its bounds"
            );
        }
    }
});

/// Changes one byte of the message; false if nothing changed.
fn apply(tamper: Tamper, message: &mut EncryptedMessage) -> bool {
    let part = if tamper.in_header {
        &mut message.header
    } else {
        &mut message.ciphertext
    };
    if part.is_empty() || tamper.xor == 0 {
        return false;
    }
    let at = usize::from(tamper.at) % part.len();
    part[at] ^= tamper.xor;
    true
}

/// Decrypts; a refusal must leave the session byte for byte as it was.
fn open(session: &mut Session, message: &EncryptedMessage, rng: &mut StdRng) -> Option<Vec<u8>> {
    let before = state(session);
    match session.decrypt_with_rng(&message.header, &message.ciphertext, rng) {
        Ok(plaintext) => Some(plaintext),
        Err(_) => {
            assert_eq!(state(session), before, "a refused message changed the session");
            None
        }
    }
}

fn state(session: &Session) -> Vec<u8> {
    session.to_bytes().expect("a session encodes").to_vec()
}
