//! The kind of content a message carries. The content itself is encrypted, so this is the only hint
//! the node and a recipient have before decrypting (for notifications and the listing filter).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// What a message carries; `text` when a sender names none, as in the reference API.
///
/// Parsing is lenient like the reference (surrounding white space, any case: `" Image "` is
/// `image`), and the wire form is always the lower-case word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MessageType {
    /// Text.
    #[default]
    Text,
    /// A picture.
    Image,
    /// A video.
    Video,
    /// A sound or voice recording.
    Audio,
    /// Any other file.
    File,
    /// A place.
    Location,
    /// A contact card.
    Contact,
    /// A poll.
    Poll,
}

/// A message type that is none of the known kinds. Its text lists the allowed values and reads on
/// from the field name that callers put in front (`message_type: must be one of …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMessageType;

impl fmt::Display for UnknownMessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be one of ")?;
        for (index, kind) in MessageType::ALL.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownMessageType {}

impl MessageType {
    /// Every kind, in the order the error message lists them.
    const ALL: [MessageType; 8] = [
        Self::Text,
        Self::Image,
        Self::Video,
        Self::Audio,
        Self::File,
        Self::Location,
        Self::Contact,
        Self::Poll,
    ];

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::File => "file",
            Self::Location => "location",
            Self::Contact => "contact",
            Self::Poll => "poll",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageType {
    type Err = UnknownMessageType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
            .ok_or(UnknownMessageType)
    }
}

impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Kind;

        impl Visitor<'_> for Kind {
            type Value = MessageType;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message type")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<MessageType, E> {
                value.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_the_lower_case_word() {
        for kind in MessageType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(
                serde_json::from_value::<MessageType>(kind.as_str().into()).unwrap(),
                kind
            );
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(
            UnknownMessageType.to_string(),
            "must be one of text, image, video, audio, file, location, contact, poll"
        );
    }

    #[test]
    fn parsing_ignores_case_and_surrounding_space() {
        assert_eq!(" Image ".parse(), Ok(MessageType::Image));
        assert_eq!(
            serde_json::from_str::<MessageType>(r#""\tPOLL""#).unwrap(),
            MessageType::Poll
        );
        assert_eq!(
            rmp_serde::from_slice::<MessageType>(&rmp_serde::to_vec(&MessageType::Audio).unwrap()).unwrap(),
            MessageType::Audio
        );
    }

    #[test]
    fn unknown_kinds_are_refused_with_the_allowed_values() {
        assert_eq!("hologram".parse::<MessageType>(), Err(UnknownMessageType));
        assert_eq!("te xt".parse::<MessageType>(), Err(UnknownMessageType));
        let err = serde_json::from_str::<MessageType>(r#""hologram""#).unwrap_err();
        assert!(err.to_string().starts_with("must be one of text, image"), "{err}");
        assert!(serde_json::from_str::<MessageType>("3").is_err());
    }
}
