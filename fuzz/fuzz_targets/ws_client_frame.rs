//! Frames a client writes on `/v1/ws`, read as the gateway reads them (`handle` and `refused` in
//! `gateway/src/ws.rs`): the frame parses or is refused, never panics, and what parses survives the
//! JSON round trip. A refused `message:send` is read again, for its `client_message_id` and as a bare
//! send body, to name the field at fault.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_fuzz::json::parse_and_round_trip;
use protocol::ClientMessageId;
use protocol::api::SendMessageRequest;
use protocol::ws::ClientFrame;

fuzz_target!(|data: &[u8]| {
    if parse_and_round_trip::<ClientFrame>(data).is_some() {
        return;
    }
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if raw["type"] != "message:send" {
        return;
    }
    if let Some(id) = raw["client_message_id"].as_str() {
        let _ = ClientMessageId::new(id);
    }
    parse_and_round_trip::<SendMessageRequest>(data);
});
