//! The round trip every federation decoder must survive: what decodes encodes, and decoding that
//! encoding gives a value that encodes to the same bytes.

use protocol::federation::FederationError;

/// Checks the round trip of a decoded `value`. Encodings are compared rather than values, because a
/// value may hold a NaN (call quality samples), which is never equal to itself.
pub fn round_trip<T>(
    value: &T,
    encode: impl Fn(&T) -> Result<Vec<u8>, FederationError>,
    decode: impl Fn(&[u8]) -> Result<T, FederationError>,
) {
    let bytes = match encode(value) {
        Ok(bytes) => bytes,
        // A compact input (structs as arrays) re-encodes larger, with field names, and may pass the limit.
        Err(FederationError::TooLarge { .. }) => return,
        Err(err) => panic!("a decoded value does not encode: {err}"),
    };
    let again = decode(&bytes).unwrap_or_else(|err| panic!("an encoded value does not decode: {err}"));
    let bytes_again = encode(&again).unwrap_or_else(|err| panic!("a decoded value does not encode: {err}"));
    assert_eq!(bytes, bytes_again, "the round trip changed the value");
}

/// [`round_trip`] for a type without a size-limited codec of its own (an event inside an envelope).
pub fn round_trip_plain<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) {
    round_trip(
        value,
        |value| rmp_serde::to_vec_named(value).map_err(|err| FederationError::Malformed(err.to_string())),
        |bytes| rmp_serde::from_slice(bytes).map_err(|err| FederationError::Malformed(err.to_string())),
    );
}
