//! JSON as the gateway reads it (`parse_json` in `gateway/src/extract.rs`): serde_json over the raw
//! bytes through serde_path_to_error, then nothing but whitespace may follow. A copy rather than the
//! gateway's own function because the gateway crate brings the node and its store with it.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses a request body or WebSocket frame; the error carries the path and message the gateway
/// would build its answer from.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| err.to_string())?;
    deserializer.end().map_err(|err| err.to_string())?;
    Ok(value)
}

/// [`parse`], and for what parses, a round trip: clients build these bodies with the same types, so
/// whatever the node accepts must serialise to JSON that parses again to the same JSON.
pub fn parse_and_round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: T = parse(bytes).ok()?;
    let first = serde_json::to_string(&value).expect("an accepted value serialises");
    let again: T = parse(first.as_bytes()).unwrap_or_else(|err| panic!("{first} does not parse back: {err}"));
    let second = serde_json::to_string(&again).expect("an accepted value serialises");
    assert_eq!(first, second, "the round trip changed the value");
    Some(value)
}
