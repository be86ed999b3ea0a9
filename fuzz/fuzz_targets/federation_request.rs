//! Requests from other nodes: whatever a peer sends decodes or is refused, never panics, and what
//! decodes survives the round trip. The events in its envelopes are decoded too, as a node decodes them
//! once an envelope's signature checks; the signature is not fuzzed, since any node may sign any body
//! it likes with its own key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_fuzz::msgpack::{round_trip, round_trip_plain};
use protocol::federation::{self, Envelope, Event, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = federation::decode_request(data) else {
        return;
    };
    round_trip(&request, federation::encode_request, federation::decode_request);
    for envelope in envelopes(&request) {
        if let Ok(event) = rmp_serde::from_slice::<Event>(&envelope.body) {
            round_trip_plain(&event);
        }
    }
});

fn envelopes(request: &Request) -> &[Envelope] {
    match request {
        Request::Deliver { envelopes } => envelopes,
        Request::CallUpdate(envelope) => std::slice::from_ref(envelope),
        _ => &[],
    }
}
