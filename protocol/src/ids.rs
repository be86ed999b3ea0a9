//! Typed identifiers. Each wraps a UUID so a user id can never be passed where a device id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The 16 bytes used in storage keys, ordered like the UUID itself.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Rebuilds an identifier from storage-key bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            /// Rebuilds an identifier from a storage-key slice; `None` unless it holds exactly 16 bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; 16]>::try_from(bytes).ok().map(Self::from_bytes)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::openapi::uuid(&[$($doc),*])
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

uuid_id!(
    /// A user, unique on its home node.
    UserId
);
uuid_id!(
    /// A device, chosen by the client at registration; globally unique on a node so that a ciphertext's
    /// recipient device names exactly one user.
    DeviceId
);
uuid_id!(
    /// A DM, group or channel.
    ConversationId
);
uuid_id!(
    /// A message, assigned by the node hosting its conversation.
    MessageId
);

impl MessageId {
    /// A fresh identifier that sorts after those made before it (a version 7 UUID: milliseconds since
    /// the epoch, then random bits). Stores index messages by id, so new ids land together at the
    /// end of those indexes instead of on a random page of an index that outgrows its cache; the
    /// time it reveals is the message's own `created_at`.
    pub fn time_ordered() -> Self {
        Self(Uuid::now_v7())
    }
}
uuid_id!(
    /// A login session: one device's refresh-token family.
    SessionId
);
uuid_id!(
    /// One uploaded identity key record.
    IdentityKeyId
);
uuid_id!(
    /// A voice or video call.
    CallId
);
uuid_id!(
    /// A broadcast list.
    BroadcastId
);
uuid_id!(
    /// A registered webhook.
    WebhookId
);
uuid_id!(
    /// A resumable upload session.
    UploadId
);
uuid_id!(
    /// A stored (encrypted) file blob.
    FileId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_bytes() {
        let id = UserId::random();
        let parsed: UserId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(UserId::from_slice(id.as_bytes()), Some(id));
        assert_eq!(UserId::from_slice(&[1, 2, 3]), None);
    }

    #[test]
    fn message_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<MessageId> = (0..3)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(2));
                MessageId::time_ordered()
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        assert!(ids[0].as_bytes() < ids[2].as_bytes(), "storage keys sort the same way");
    }

    #[test]
    fn ids_serialise_as_plain_strings() {
        let id = DeviceId::random();
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
    }
}
