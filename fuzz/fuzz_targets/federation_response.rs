//! Answers from other nodes: whatever a peer answers decodes or is refused, never panics, and what
//! decodes survives the round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_fuzz::msgpack::round_trip;
use protocol::federation;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = federation::decode_response(data) {
        round_trip(&response, federation::encode_response, federation::decode_response);
    }
});
