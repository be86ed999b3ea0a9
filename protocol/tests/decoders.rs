//! Every decoder of untrusted bytes (ratchet headers, persisted sessions, federation messages and DHT
//! records) answers arbitrary input with a value or an error, never a panic. A property test stands in
//! for a fuzz target here: cargo-fuzz needs a nightly toolchain these machines do not have.

use proptest::prelude::*;
use protocol::crypto::{MessageHeader, Session};
use protocol::federation::{DhtRecord, Envelope, NodeName, SignedNodeRecord, decode_request, decode_response};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = MessageHeader::decode(&bytes);
        let _ = Session::from_bytes(&bytes);
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
        if let Ok(record) = SignedNodeRecord::decode(&bytes) {
            let _ = record.verify(&NodeName::new("node-a").unwrap(), 0);
        }
        let _ = DhtRecord::new(&bytes, &bytes, Some(bytes.clone())).verify(0);
        if let Ok(envelope) = Envelope::from_bytes(&bytes) {
            let _ = envelope.open(&[9; 32]);
        }
    }

    #[test]
    fn an_envelope_of_arbitrary_bytes_signed_by_its_origin_opens_to_an_error_not_a_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let envelope = Envelope { signature: key.sign(&body).to_bytes().to_vec(), body };
        // A signature checks out but the body is garbage: a relaying node must not crash the receiver.
        let _ = envelope.open(&key.verifying_key().to_bytes());
    }

    #[test]
    fn a_valid_header_with_one_byte_changed_never_panics(position in 0usize..114, value in any::<u8>()) {
        let mut bytes = vec![1u8, 0x03];
        bytes.extend(std::iter::repeat_n(7u8, 112));
        bytes[position] = value;
        let _ = MessageHeader::decode(&bytes);
    }
}

/// A number a client sends is read exactly, so storing and reading it back changes nothing (serde_json's
/// default parser was one unit off in the last place for this one; found by the rest_json_bodies fuzz
/// target).
#[test]
fn a_float_survives_the_json_round_trip() {
    let sent = r#"{"call_id":"00000000-0000-4000-8000-000000000006","jitter":444444444444444444444444444444444444444444412.25}"#;
    let first: protocol::api::CallQualityMetric = serde_json::from_str(sent).unwrap();
    let again: protocol::api::CallQualityMetric =
        serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}
