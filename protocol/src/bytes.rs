//! Binary values travel as standard base64 in JSON; this type does the conversion once, at the edge.

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Clients differ in whether they pad; both forms mean the same bytes.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Bytes that serialise as a standard base64 string.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Base64Bytes(pub Vec<u8>);

/// A base64 string that did not decode.
#[derive(Debug, thiserror::Error)]
#[error("not valid base64")]
pub struct DecodeError;

impl Base64Bytes {
    /// Parses standard base64 (padding optional).
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        LENIENT.decode(text).map(Self).map_err(|_| DecodeError)
    }

    /// The canonical padded base64 text.
    pub fn encode(&self) -> String {
        STANDARD.encode(&self.0)
    }

    /// The number of decoded bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Base64Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for Base64Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::decode(&text).map_err(|_| serde::de::Error::custom("expected a base64 string"))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Base64Bytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::base64("Bytes as standard base64 (padding optional).", None)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Base64Bytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        let bytes = Base64Bytes(vec![0, 1, 2, 250, 251]);
        let json = serde_json::to_string(&bytes).unwrap();
        assert_eq!(serde_json::from_str::<Base64Bytes>(&json).unwrap(), bytes);
        assert!(serde_json::from_str::<Base64Bytes>("\"***\"").is_err());
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        assert_eq!(Base64Bytes::decode("AAE").unwrap().0, vec![0, 1]);
    }
}
