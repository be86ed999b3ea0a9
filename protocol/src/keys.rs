//! Public key material a device publishes. The node checks shapes and signatures; it never holds a
//! private key of a user.
//!
//! A device's identity key is an Ed25519 public key: it signs the device's signed prekeys, and clients
//! convert it to its X25519 (Montgomery) form for X3DH agreement, so one published key serves both.
//! A signed prekey's signature is Ed25519 over the prekey's 32 raw public-key bytes.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Base64Bytes;

/// Why published key material was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The bytes are not a valid Ed25519 point.
    #[error("identity key is not a valid Ed25519 public key")]
    InvalidIdentityKey,
    /// The signature does not verify under the identity key.
    #[error("signature does not verify against the device's identity key")]
    BadSignature,
}

macro_rules! fixed_key {
    ($(#[doc = $doc:literal])* $name:ident, $len:expr) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Standard base64 text of the bytes.
            pub fn to_base64(&self) -> String {
                Base64Bytes(self.0.to_vec()).encode()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_base64())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_base64())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let bytes = Base64Bytes::deserialize(deserializer)?;
                let array = <[u8; $len]>::try_from(bytes.0.as_slice()).map_err(|_| {
                    serde::de::Error::custom(concat!("expected ", stringify!($len), " base64-encoded bytes"))
                })?;
                Ok(Self(array))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc = crate::openapi::join(&[$($doc),*]);
                let description = format!(concat!("{} ", stringify!($len), " bytes, standard base64."), doc);
                crate::openapi::base64(&description, Some($len))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

fixed_key!(
    /// A device's long-term Ed25519 identity public key.
    IdentityPublicKey,
    32
);
fixed_key!(
    /// An X25519 prekey public key (signed or one-time).
    PreKeyPublic,
    32
);
fixed_key!(
    /// An Ed25519 signature by an identity key over a signed prekey.
    PreKeySignature,
    64
);

/// Checks that `identity` signed `prekey`; the node refuses to publish a prekey that fails this, so a
/// client that fetches a bundle can rely on the pairing.
pub fn verify_signed_prekey(
    identity: &IdentityPublicKey,
    prekey: &PreKeyPublic,
    signature: &PreKeySignature,
) -> Result<(), KeyError> {
    let key = VerifyingKey::from_bytes(identity.as_bytes()).map_err(|_| KeyError::InvalidIdentityKey)?;
    let signature = Signature::from_bytes(signature.as_bytes());
    key.verify_strict(prekey.as_bytes(), &signature)
        .map_err(|_| KeyError::BadSignature)
}

/// Checks that the holder of `identity` signed the key's own 32 bytes: proof that a client uploading
/// an identity key holds its private half (the secure-messenger dialect uploads one with such a
/// signature). The signature has the shape of a prekey signature: 64 bytes of Ed25519.
pub fn verify_self_signature(identity: &IdentityPublicKey, signature: &PreKeySignature) -> Result<(), KeyError> {
    let key = VerifyingKey::from_bytes(identity.as_bytes()).map_err(|_| KeyError::InvalidIdentityKey)?;
    let signature = Signature::from_bytes(signature.as_bytes());
    key.verify_strict(identity.as_bytes(), &signature)
        .map_err(|_| KeyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn signed(prekey: &PreKeyPublic) -> (IdentityPublicKey, PreKeySignature) {
        let signing = SigningKey::generate(&mut rand::rng());
        let signature = signing.sign(prekey.as_bytes());
        (
            IdentityPublicKey(signing.verifying_key().to_bytes()),
            PreKeySignature(signature.to_bytes()),
        )
    }

    #[test]
    fn an_identity_key_signs_itself() {
        let signing = SigningKey::generate(&mut rand::rng());
        let identity = IdentityPublicKey(signing.verifying_key().to_bytes());
        let own = PreKeySignature(signing.sign(identity.as_bytes()).to_bytes());
        assert_eq!(verify_self_signature(&identity, &own), Ok(()));
        let other = PreKeySignature(signing.sign(b"something else").to_bytes());
        assert_eq!(verify_self_signature(&identity, &other), Err(KeyError::BadSignature));
    }

    #[test]
    fn a_genuine_signature_verifies() {
        let prekey = PreKeyPublic([7; 32]);
        let (identity, signature) = signed(&prekey);
        assert_eq!(verify_signed_prekey(&identity, &prekey, &signature), Ok(()));
    }

    #[test]
    fn a_signature_over_another_prekey_is_refused() {
        let (identity, signature) = signed(&PreKeyPublic([7; 32]));
        let other = PreKeyPublic([8; 32]);
        assert_eq!(
            verify_signed_prekey(&identity, &other, &signature),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn wrong_lengths_are_refused_when_parsing() {
        let err = serde_json::from_str::<PreKeyPublic>("\"AAEC\"").unwrap_err();
        assert!(err.to_string().contains("expected 32"));
    }
}
