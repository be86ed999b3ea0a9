//! Cost of the end-to-end cryptography: X3DH session setup and Double Ratchet messages.
//!
//! `cargo bench -p parley-protocol --bench crypto`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protocol::api::{BundleSignedPreKey, KeyBundle, OneTimePreKey};
use protocol::crypto::{
    IdentityKeyPair, OneTimePreKeyId, OneTimePreKeyPair, Session, SignedPreKeyId, SignedPreKeyPair,
};
use protocol::{DeviceId, UserId};

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
        }
    }

    fn respond(&self, header: &[u8], ciphertext: &[u8]) -> (Session, Vec<u8>) {
        Session::respond(&self.identity, &self.signed, Some(&self.one_time), header, ciphertext).expect("respond")
    }
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
    let alice_identity = IdentityKeyPair::generate();
    let bob_keys = Bob::new();
    let mut alice = Session::initiate(&alice_identity, &bob_keys.bundle()).expect("initiate");
    let first = alice.encrypt(b"").expect("encrypt");
    let (mut bob, _) = bob_keys.respond(&first.header, &first.ciphertext);
    let reply = bob.encrypt(b"").expect("encrypt");
    alice.decrypt(&reply.header, &reply.ciphertext).expect("decrypt");
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

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = x3dh, ratchet
}
criterion_main!(benches);
