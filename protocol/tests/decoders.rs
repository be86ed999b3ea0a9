//! Every decoder of untrusted bytes (ratchet headers, persisted sessions, federation messages and DHT
//! records) answers arbitrary input with a value or an error, never a panic. A property test stands in
//! for a fuzz target here: cargo-fuzz needs a nightly toolchain these machines do not have.

use proptest::prelude::*;
use protocol::crypto::{MessageHeader, Session};
use protocol::federation::{NodeName, SignedNodeRecord, decode_request, decode_response};

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
    }

    #[test]
    fn a_valid_header_with_one_byte_changed_never_panics(position in 0usize..114, value in any::<u8>()) {
        let mut bytes = vec![1u8, 0x03];
        bytes.extend(std::iter::repeat_n(7u8, 112));
        bytes[position] = value;
        let _ = MessageHeader::decode(&bytes);
    }
}
