//! Name records from the DHT, as a node checks one it looked up and a DHT server one offered for
//! storage: decoding and verifying refuse anything malformed without panicking. A forged signature
//! stops verification early, so each decoded body is also signed again with the key the seeds name,
//! which takes fuzzed bodies through the name, expiry and address checks as well.
#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use parley_fuzz::msgpack::round_trip;
use parley_fuzz::records::{NAME, NOW, held_by_another, key};
use protocol::federation::{DhtRecord, MAX_RECORD_ADDRESSES, NodeName, SignedNodeRecord, admit, peer_id_bytes};

static KEY: LazyLock<SigningKey> = LazyLock::new(key);
static HELD: LazyLock<Vec<u8>> = LazyLock::new(held_by_another);

fuzz_target!(|data: &[u8]| {
    let name = NodeName::new(NAME).expect("a valid name");
    if let Ok(signed) = SignedNodeRecord::decode(data) {
        round_trip(&signed, SignedNodeRecord::encode, SignedNodeRecord::decode);
        let _ = signed.verify(&name, NOW);
        let resigned = SignedNodeRecord {
            signature: KEY.sign(&signed.body).to_bytes().to_vec(),
            body: signed.body,
        };
        if let Ok(record) = resigned.verify(&name, NOW) {
            assert_eq!(record.name, name);
            assert!(record.expires_at > NOW, "an expired record verified");
            assert!(
                record.addresses.len() <= MAX_RECORD_ADDRESSES,
                "too many addresses verified"
            );
        }
    }

    let key = name.record_key();
    let publisher = peer_id_bytes(&KEY.verifying_key().to_bytes());
    let offered = DhtRecord::new(&key, data, Some(publisher));
    let held = DhtRecord::new(&key, &HELD, None);
    assert!(
        admit(&offered, Some(&held), NOW).is_err(),
        "a record was admitted over another node's live record"
    );
});
