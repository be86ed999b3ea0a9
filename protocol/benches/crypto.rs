//! Cost of the end-to-end cryptography: X3DH session setup and Double Ratchet messages, and the same
//! operations in vodozemac (Matrix's Olm) side by side, to judge ours against a mature implementation
//! on the same machine (both build on the same dalek, sha2, hmac and hkdf crates).
//!
//! `cargo bench -p parley-protocol --bench crypto`
//!
//! Only the comparison: `cargo bench -p parley-protocol --bench crypto -- vs_vodozemac`
//!
//! Each `vs_vodozemac/*` group holds both implementations (`parley`, `vodozemac`) doing the same steps
//! at the API level, each ending in wire bytes or starting from them, with the same plaintext size.
//! The protocols differ, and the numbers include that. X3DH checks the signed prekey's signature and
//! runs four X25519 agreements per side; our initiator's first ratchet step adds one more, and our
//! responder's first DH ratchet step two more, on receipt. Olm's 3DH runs three per side and checks
//! no signature (a Matrix client checks the one-time key's signature itself, hence the
//! `vodozemac_verify_otk_signature` variant), and an Olm receiver takes its DH ratchet step lazily:
//! one agreement on receipt, the other on its next encryption (`round_trip` covers both).

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use protocol::api::{BundleSignedPreKey, KeyBundle, OneTimePreKey};
use protocol::crypto::{
    EncryptedMessage, IdentityKeyPair, OneTimePreKeyId, OneTimePreKeyPair, Session, SignedPreKeyId, SignedPreKeyPair,
};
use protocol::{DeviceId, UserId};
use vodozemac::olm::{Account, OlmMessage, Session as OlmSession, SessionConfig};
use vodozemac::{Curve25519PublicKey, Ed25519Signature};

/// Plaintext size of every side-by-side benchmark: a short chat message.
const PLAINTEXT_LEN: usize = 100;

struct Bob {
    identity: IdentityKeyPair,
    signed: SignedPreKeyPair,
    one_time: OneTimePreKeyPair,
}

impl Bob {
    fn new() -> Self {
        let identity = IdentityKeyPair::generate();
        let signed = SignedPreKeyPair::generate(&identity, SignedPreKeyId(1));
        Self {
            identity,
            signed,
            one_time: OneTimePreKeyPair::generate(OneTimePreKeyId(1)),
        }
    }

    fn bundle(&self) -> KeyBundle {
        KeyBundle {
            user_id: UserId::random(),
            device_id: DeviceId::random(),
            identity_key: self.identity.public_key(),
            signed_prekey: BundleSignedPreKey {
                key_id: self.signed.id().0,
                public_key: self.signed.public_key(),
                signature: self.signed.signature(),
            },
            one_time_prekey: Some(OneTimePreKey {
                key_id: self.one_time.id().0,
                public_key: self.one_time.public_key(),
            }),
            stale: false,
        }
    }

    fn respond(&self, header: &[u8], ciphertext: &[u8]) -> (Session, Vec<u8>) {
        Session::respond(&self.identity, &self.signed, Some(&self.one_time), header, ciphertext).expect("respond")
    }
}

/// Two of our sessions past the handshake: Alice has heard back, so her messages carry no X3DH fields.
fn established() -> (Session, Session) {
    let alice_identity = IdentityKeyPair::generate();
    let bob_keys = Bob::new();
    let mut alice = Session::initiate(&alice_identity, &bob_keys.bundle()).expect("initiate");
    let first = alice.encrypt(b"").expect("encrypt");
    let (mut bob, _) = bob_keys.respond(&first.header, &first.ciphertext);
    let reply = bob.encrypt(b"").expect("encrypt");
    alice.decrypt(&reply.header, &reply.ciphertext).expect("decrypt");
    (alice, bob)
}

fn x3dh(c: &mut Criterion) {
    let alice = IdentityKeyPair::generate();
    let bob = Bob::new();
    let bundle = bob.bundle();
    let mut group = c.benchmark_group("x3dh");
    group.throughput(Throughput::Elements(1));

    // A whole handshake: the initiator verifies the bundle and runs X3DH, sends an empty first
    // message, and the responder runs X3DH and decrypts it (each side's first ratchet step included).
    group.bench_function("handshake", |b| {
        b.iter(|| {
            let mut session = Session::initiate(&alice, black_box(&bundle)).expect("initiate");
            let first = session.encrypt(b"").expect("encrypt");
            black_box(bob.respond(&first.header, &first.ciphertext))
        })
    });
    group.bench_function("initiate", |b| {
        b.iter(|| Session::initiate(&alice, black_box(&bundle)).expect("initiate"))
    });
    let first = Session::initiate(&alice, &bundle)
        .expect("initiate")
        .encrypt(b"")
        .expect("encrypt");
    group.bench_function("respond", |b| {
        b.iter(|| bob.respond(black_box(&first.header), black_box(&first.ciphertext)))
    });
    group.finish();
}

fn ratchet(c: &mut Criterion) {
    let (mut alice, mut bob) = established();
    let plaintext = vec![0x5a; 1024];

    let mut group = c.benchmark_group("ratchet");
    group.throughput(Throughput::Elements(1));

    // One direction: symmetric chain steps only.
    group.bench_function("encrypt_decrypt_1KiB", |b| {
        b.iter(|| {
            let message = alice.encrypt(black_box(&plaintext)).expect("encrypt");
            black_box(bob.decrypt(&message.header, &message.ciphertext).expect("decrypt"))
        })
    });

    // Alternating senders: every message is a DH ratchet step.
    let mut alice_turn = true;
    group.bench_function("encrypt_decrypt_1KiB_turn_each_message", |b| {
        b.iter(|| {
            let (from, to) = if alice_turn {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            alice_turn = !alice_turn;
            let message = from.encrypt(black_box(&plaintext)).expect("encrypt");
            black_box(to.decrypt(&message.header, &message.ciphertext).expect("decrypt"))
        })
    });
    group.finish();
}

// ---- vodozemac (Olm) helpers ----

/// An Olm message as it travels: the message type (0 pre-key, 1 normal) and its encoded bytes.
type OlmWire = (usize, Vec<u8>);

/// Encrypts and encodes, as our `Session::encrypt` returns wire bytes.
fn olm_send(session: &mut OlmSession, plaintext: &[u8]) -> OlmWire {
    session.encrypt(plaintext).expect("olm encrypt").to_parts()
}

/// Decodes and decrypts, as our `Session::decrypt` starts from wire bytes.
fn olm_receive(session: &mut OlmSession, (message_type, bytes): &OlmWire) -> Vec<u8> {
    let message = OlmMessage::from_parts(*message_type, bytes).expect("olm decode");
    session.decrypt(&message).expect("olm decrypt")
}

/// A fresh one-time key in Bob's account and his signature over its bytes (what a Matrix client
/// uploads as a `signed_curve25519` key, with the raw bytes standing in for canonical JSON).
fn olm_one_time_key(bob: &RefCell<Account>) -> (Curve25519PublicKey, Ed25519Signature) {
    let mut bob = bob.borrow_mut();
    let created = bob.generate_one_time_keys(1).created;
    let key = *created.first().expect("one one-time key generated");
    (key, bob.sign(key.as_bytes()))
}

/// Olm's session setup, the steps of our `x3dh/handshake`: Alice creates the outbound session from
/// Bob's identity and one-time keys and encrypts the first (pre-key) message; Bob decodes it and
/// creates the inbound session, which decrypts it and removes the one-time key from his account.
fn olm_setup(
    alice: &Account,
    bob: &RefCell<Account>,
    one_time_key: Curve25519PublicKey,
    plaintext: &[u8],
) -> (OlmSession, OlmSession) {
    let bob_identity = bob.borrow().curve25519_key();
    let mut outbound = alice
        .create_outbound_session(SessionConfig::version_1(), bob_identity, one_time_key)
        .expect("create_outbound_session");
    let (message_type, bytes) = olm_send(&mut outbound, plaintext);
    let OlmMessage::PreKey(first) = OlmMessage::from_parts(message_type, &bytes).expect("olm decode") else {
        panic!("the first Olm message is not a pre-key message");
    };
    let inbound = bob
        .borrow_mut()
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
        .expect("create_inbound_session");
    assert_eq!(inbound.plaintext.len(), plaintext.len());
    (outbound, inbound.session)
}

/// Two Olm sessions past the handshake: Alice has heard back, so she sends normal messages.
fn olm_established() -> (OlmSession, OlmSession) {
    let alice = Account::new();
    let bob = RefCell::new(Account::new());
    let (one_time_key, _) = olm_one_time_key(&bob);
    let (mut alice_session, mut bob_session) = olm_setup(&alice, &bob, one_time_key, b"");
    let reply = olm_send(&mut bob_session, b"");
    olm_receive(&mut alice_session, &reply);
    (alice_session, bob_session)
}

// ---- side by side ----

fn session_setup(c: &mut Criterion) {
    let plaintext = vec![0x5a; PLAINTEXT_LEN];
    let mut group = c.benchmark_group("vs_vodozemac/session_setup");
    group.throughput(Throughput::Elements(1));

    // Timed: `Session::initiate` (bundle signature check, X3DH, first ratchet key and DH),
    // `encrypt` of the first message, `Session::respond` (header decode, X3DH, DH ratchet step,
    // decrypt). Bob's prekeys are reused: `respond` does not consume the one-time prekey.
    let alice = IdentityKeyPair::generate();
    let bob = Bob::new();
    let bundle = bob.bundle();
    group.bench_function("parley", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut session = Session::initiate(&alice, black_box(&bundle)).expect("initiate");
                let first = session.encrypt(black_box(&plaintext)).expect("encrypt");
                (session, bob.respond(&first.header, &first.ciphertext))
            },
            BatchSize::SmallInput,
        )
    });

    // Untimed: a fresh one-time key in Bob's account (`create_inbound_session` removes the one it
    // uses). Timed: `olm_setup` (outbound session, first pre-key message encrypted and encoded,
    // decoded, inbound session with its decryption and the one-time key's removal).
    let olm_alice = Account::new();
    let olm_bob = RefCell::new(Account::new());
    group.bench_function("vodozemac", |b| {
        b.iter_batched(
            || olm_one_time_key(&olm_bob).0,
            |one_time_key| olm_setup(&olm_alice, &olm_bob, black_box(one_time_key), black_box(&plaintext)),
            BatchSize::SmallInput,
        )
    });

    // As above, plus the Ed25519 check of the one-time key's signature a Matrix client makes before
    // `create_outbound_session`: the counterpart of our signed prekey check inside `initiate`.
    let bob_signing_key = olm_bob.borrow().ed25519_key();
    group.bench_function("vodozemac_verify_otk_signature", |b| {
        b.iter_batched(
            || olm_one_time_key(&olm_bob),
            |(one_time_key, signature)| {
                bob_signing_key
                    .verify(black_box(one_time_key.as_bytes()), &signature)
                    .expect("one-time key signature");
                olm_setup(&olm_alice, &olm_bob, one_time_key, black_box(&plaintext))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn encrypt(c: &mut Criterion) {
    let plaintext = vec![0x5a; PLAINTEXT_LEN];
    let mut group = c.benchmark_group("vs_vodozemac/encrypt_100B");
    group.throughput(Throughput::Elements(1));

    // Timed: one `Session::encrypt` by the same sender, again and again: a symmetric chain step
    // (KDF_CK), the message key's KDF, AEAD and the header's encoding; never a DH ratchet step.
    let (mut alice, _bob) = established();
    group.bench_function("parley", |b| {
        b.iter(|| alice.encrypt(black_box(&plaintext)).expect("encrypt"))
    });

    // Timed: one `Session::encrypt` and the message's encoding to bytes, same sender, same chain.
    let (mut olm_alice, _olm_bob) = olm_established();
    group.bench_function("vodozemac", |b| {
        b.iter(|| olm_send(&mut olm_alice, black_box(&plaintext)))
    });
    group.finish();
}

fn decrypt(c: &mut Criterion) {
    let plaintext = vec![0x5a; PLAINTEXT_LEN];
    let mut group = c.benchmark_group("vs_vodozemac/decrypt_100B");
    group.throughput(Throughput::Elements(1));

    // Untimed: Alice encrypts the next message of her chain. Timed: Bob's `Session::decrypt` of it
    // (header decode, state copy, chain step, message key KDF, AEAD open), in order, never a DH step.
    let (mut alice, mut bob) = established();
    group.bench_function("parley", |b| {
        b.iter_batched(
            || alice.encrypt(&plaintext).expect("encrypt"),
            |message: EncryptedMessage| bob.decrypt(&message.header, &message.ciphertext).expect("decrypt"),
            BatchSize::SmallInput,
        )
    });

    // Untimed: Alice encrypts and encodes the next message. Timed: Bob decodes and decrypts it.
    let (mut olm_alice, mut olm_bob) = olm_established();
    group.bench_function("vodozemac", |b| {
        b.iter_batched(
            || olm_send(&mut olm_alice, &plaintext),
            |message| olm_receive(&mut olm_bob, &message),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let plaintext = vec![0x5a; PLAINTEXT_LEN];
    let mut group = c.benchmark_group("vs_vodozemac/round_trip_100B");
    group.throughput(Throughput::Elements(2));

    // Timed: A->B then B->A, each message encrypted, decrypted and turning the conversation, so
    // each side takes one DH ratchet step per round trip (on decryption in ours; split between
    // decryption and the next encryption in Olm).
    let (mut alice, mut bob) = established();
    group.bench_function("parley", |b| {
        b.iter(|| {
            let ping = alice.encrypt(black_box(&plaintext)).expect("encrypt");
            bob.decrypt(&ping.header, &ping.ciphertext).expect("decrypt");
            let pong = bob.encrypt(black_box(&plaintext)).expect("encrypt");
            alice.decrypt(&pong.header, &pong.ciphertext).expect("decrypt")
        })
    });

    let (mut olm_alice, mut olm_bob) = olm_established();
    group.bench_function("vodozemac", |b| {
        b.iter(|| {
            let ping = olm_send(&mut olm_alice, black_box(&plaintext));
            olm_receive(&mut olm_bob, &ping);
            let pong = olm_send(&mut olm_bob, black_box(&plaintext));
            olm_receive(&mut olm_alice, &pong)
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = x3dh, ratchet, session_setup, encrypt, decrypt, round_trip
}
criterion_main!(benches);
