//! The sender's idempotency key for a message. The node keys deduplication on it, so it is checked
//! once, where it enters, and every later holder can trust it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Chosen by the sending client so a retried send returns the original message instead of a second
/// one. At most [`ClientMessageId::MAX_CHARS`] characters as sent (what a schema's `maxLength` can
/// say), trimmed of surrounding white space, then not empty and without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientMessageId(String);

/// Why a text is not a client message id. The text reads on from the field name that callers put in
/// front (`client_message_id: must not be empty`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidClientMessageId {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`ClientMessageId::MAX_CHARS`] as sent.
    #[error("must be at most {} characters", ClientMessageId::MAX_CHARS)]
    TooLong,
    /// A control character would end up in logs and storage keys.
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl ClientMessageId {
    /// The longest id in characters: room for a client's UUID with any prefix it likes, and for the
    /// `:<user id>` a broadcast appends to its own (shorter) id.
    pub const MAX_CHARS: usize = 128;

    /// Checks `value`: its length as sent, the rest once trimmed.
    pub fn new(value: impl AsRef<str> + Into<String>) -> Result<Self, InvalidClientMessageId> {
        if value.as_ref().chars().count() > Self::MAX_CHARS {
            return Err(InvalidClientMessageId::TooLong);
        }
        let trimmed = value.as_ref().trim();
        if trimmed.is_empty() {
            return Err(InvalidClientMessageId::Empty);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidClientMessageId::ControlCharacter);
        }
        if trimmed.len() == value.as_ref().len() {
            return Ok(Self(value.into()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A fresh id for a client that keeps no numbering of its own: a random UUID, so a retry reusing
    /// it is recognised and no other send collides with it.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientMessageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ClientMessageId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(Self::MAX_CHARS))
            .description(Some(format!(
                "Chosen by the sending client; resending it returns the original message. Trimmed, 1 to {} \
                 characters, no control characters.",
                Self::MAX_CHARS
            )))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ClientMessageId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_limited_to_128_characters() {
        assert_eq!(ClientMessageId::new("  c1\t").unwrap().as_str(), "c1");
        assert_eq!(
            ClientMessageId::new("é".repeat(128)).unwrap().as_str().chars().count(),
            128
        );
        assert_eq!(
            ClientMessageId::new("x".repeat(129)),
            Err(InvalidClientMessageId::TooLong)
        );
        assert_eq!(
            ClientMessageId::new(format!(" {} ", "x".repeat(127))),
            Err(InvalidClientMessageId::TooLong),
            "the length counts the id as sent, as the schema's maxLength does"
        );
        assert_eq!(ClientMessageId::new(" "), Err(InvalidClientMessageId::Empty));
        assert_eq!(
            ClientMessageId::new("a\u{0}b"),
            Err(InvalidClientMessageId::ControlCharacter)
        );
        assert_eq!(ClientMessageId::random().as_str().len(), 36);
    }

    #[test]
    fn ids_travel_as_plain_strings_and_are_checked_on_arrival() {
        let id: ClientMessageId = serde_json::from_str(r#"" m-1 ""#).unwrap();
        assert_eq!(id.to_string(), "m-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""m-1""#);
        let err = serde_json::from_str::<ClientMessageId>(r#""""#).unwrap_err();
        assert!(err.to_string().starts_with("must not be empty"), "{err}");
        let long = format!("\"{}\"", "x".repeat(129));
        let err = serde_json::from_str::<ClientMessageId>(&long).unwrap_err();
        assert!(err.to_string().starts_with("must be at most 128 characters"), "{err}");
    }
}
