//! REST request bodies, read as the gateway reads them: the first byte picks the body type
//! (`parley_fuzz::rest::BODIES`), the rest is its JSON. A body parses or is refused, never panics, and
//! what parses survives the JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    parley_fuzz::rest::check(data);
});
