//! Seeds of the end-to-end crypto targets: ratchet scripts and persisted session states.

use parley_fuzz::script::{Step, Tamper, encode};
use parley_fuzz::sessions;
use protocol::crypto::Session;

use crate::Seed;

fn send(from_alice: bool) -> Step {
    Step::Send { from_alice }
}

fn deliver(index: u8) -> Step {
    Step::Deliver { index, tamper: None }
}

pub(crate) fn ratchet_scripts() -> Vec<Seed> {
    let (mut alice, mut bob) = sessions::pair();
    let from_alice = alice.encrypt(b"x").expect("Alice can send");
    let from_bob = bob.encrypt(b"x").expect("Bob can send");
    let ping_pong: Vec<Step> = (0..6u8).flat_map(|n| [send(n % 2 == 0), deliver(n)]).collect();
    let out_of_order: Vec<Step> = [send(true), send(true), send(true), deliver(2), deliver(0), deliver(1)].into();
    let mut beyond_max_skip: Vec<Step> = (0..45).map(|_| send(true)).collect();
    beyond_max_skip.extend([deliver(44), deliver(30), deliver(0)]);
    let mut turns_with_gaps = Vec::new();
    for turn in 0..8u8 {
        let base = turn * 3;
        turns_with_gaps.extend([
            send(turn % 2 == 0),
            send(turn % 2 == 0),
            send(turn % 2 == 0),
            deliver(base + 2),
        ]);
    }
    let tampered: Vec<Step> = [
        send(true),
        Step::Deliver {
            index: 0,
            tamper: Some(Tamper {
                in_header: true,
                at: 40,
                xor: 1,
            }),
        },
        Step::Deliver {
            index: 0,
            tamper: Some(Tamper {
                in_header: false,
                at: 0,
                xor: 0x80,
            }),
        },
        deliver(0),
        deliver(0),
    ]
    .into();
    let forge = |to_alice: bool, header: &[u8]| Step::Forge {
        to_alice,
        header: header.to_vec(),
        ciphertext: vec![0; 24],
    };
    let mut far_ahead = from_bob.header.clone();
    far_ahead[38..42].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut new_ratchet_key = from_bob.header.clone();
    new_ratchet_key[2..34].copy_from_slice(&[9; 32]);
    let forged: Vec<Step> = vec![
        forge(false, &from_alice.header),
        forge(true, &from_bob.header),
        forge(true, &far_ahead),
        forge(true, &new_ratchet_key),
        forge(false, &[1, 3]),
    ];
    [
        ("ping_pong", ping_pong),
        ("out_of_order", out_of_order),
        ("beyond_max_skip", beyond_max_skip),
        ("turns_with_gaps", turns_with_gaps),
        ("tampered_and_replayed", tampered),
        ("forged", forged),
    ]
    .into_iter()
    .map(|(name, steps)| (format!("{name}.script"), encode(&steps)))
    .collect()
}

pub(crate) fn session_states() -> Vec<Seed> {
    let (mut alice, mut bob) = sessions::pair();
    let mut states = vec![
        ("alice_new".to_owned(), state(&alice)),
        ("bob_new".to_owned(), state(&bob)),
    ];
    let mut rng = sessions::rng();
    let sent: Vec<_> = (0..4u8).map(|n| alice.encrypt(&[n]).expect("Alice can send")).collect();
    for message in [&sent[3], &sent[1]] {
        bob.decrypt_with_rng(&message.header, &message.ciphertext, &mut rng)
            .expect("a genuine message opens");
    }
    let reply = bob.encrypt(b"reply").expect("Bob can send");
    alice
        .decrypt_with_rng(&reply.header, &reply.ciphertext, &mut rng)
        .expect("a genuine reply opens");
    states.push(("bob_with_skipped_keys".to_owned(), state(&bob)));
    states.push(("alice_after_reply".to_owned(), state(&alice)));
    states.push((
        "bob_compact".to_owned(),
        rmp_serde::to_vec(&bob).expect("a session encodes compactly"),
    ));
    for (name, bytes) in &states {
        Session::from_bytes(bytes).unwrap_or_else(|err| panic!("seed state {name} does not load: {err}"));
    }
    states
        .into_iter()
        .map(|(name, bytes)| (format!("{name}.msgpack"), bytes))
        .collect()
}

fn state(session: &Session) -> Vec<u8> {
    session.to_bytes().expect("a session encodes").to_vec()
}
