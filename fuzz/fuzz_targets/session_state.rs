//! Persisted session state (`Session::from_bytes`), as a client loads it from its profile: it loads or
//! is refused, never panics; what loads survives the round trip and can be used to send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::crypto::Session;

fuzz_target!(|data: &[u8]| {
    let Ok(mut session) = Session::from_bytes(data) else {
        return;
    };
    let bytes = session.to_bytes().expect("a loaded session encodes");
    let again = Session::from_bytes(&bytes).expect("an encoded session loads");
    assert_eq!(*again.to_bytes().expect("a loaded session encodes"), *bytes);
    let _ = format!("{session:?}");
    let _ = session.encrypt(b"probe");
    session.to_bytes().expect("a session encodes after sending");
});
