//! Writes the seed corpus under `fuzz/corpus/<target>/`: small valid inputs the fuzzer starts from, so
//! it spends its time past the parsers' first checks. Deterministic, so running it again rewrites the
//! same files: `cargo +nightly run --manifest-path fuzz/Cargo.toml --example seed_corpus`.
//!
//! Messages are written as JSON here and encoded by the protocol crate, which keeps them short to read;
//! each one is checked to parse, so a seed never silently stops being valid.

mod crypto;
mod federation;
mod json;

use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;

/// A seed's file name and contents.
type Seed = (String, Vec<u8>);

const USER: &str = "00000000-0000-4000-8000-000000000001";
const OTHER_USER: &str = "00000000-0000-4000-8000-000000000002";
const DEVICE: &str = "00000000-0000-4000-8000-000000000003";
const CONVERSATION: &str = "00000000-0000-4000-8000-000000000004";
const MESSAGE: &str = "00000000-0000-4000-8000-000000000005";
const CALL: &str = "00000000-0000-4000-8000-000000000006";
const SESSION: &str = "00000000-0000-4000-8000-000000000007";
const AT: &str = "2026-01-02T03:04:05Z";
/// 32 bytes of 0x01, as the API writes keys.
const KEY32: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
/// 64 bytes of 0x02, as the API writes signatures.
const SIG64: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg==";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let targets = [
        ("federation_request", federation::requests()),
        ("federation_response", federation::responses()),
        ("node_record", federation::node_records()),
        ("ws_client_frame", json::ws_client_frames()),
        ("rest_json_bodies", json::rest_bodies()),
        ("ratchet_header", crypto::ratchet_scripts()),
        ("session_state", crypto::session_states()),
    ];
    for (target, seeds) in targets {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("the corpus directory can be created");
        for (name, bytes) in &seeds {
            fs::write(dir.join(name), bytes).expect("a seed can be written");
        }
        println!("{target}: {} seeds", seeds.len());
    }
}

/// Fills in the placeholders the seeds' JSON uses for ids, times and keys.
fn fill(template: &str) -> String {
    template
        .replace("$USER", USER)
        .replace("$OTHER", OTHER_USER)
        .replace("$DEVICE", DEVICE)
        .replace("$CONVERSATION", CONVERSATION)
        .replace("$MESSAGE", MESSAGE)
        .replace("$CALL", CALL)
        .replace("$SESSION", SESSION)
        .replace("$AT", AT)
        .replace("$KEY", KEY32)
        .replace("$SIG", SIG64)
}

fn from_json<T: DeserializeOwned>(template: &str) -> T {
    let text = fill(template);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("seed {text} does not parse: {err}"))
}
