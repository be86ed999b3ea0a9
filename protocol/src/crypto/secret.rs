//! A 32-byte secret that wipes itself, never prints, and persists as a compact byte string.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret key material (a seed, a chain or root key, a message key, a DH output).
///
/// Deliberately not `Debug`, `PartialEq` or `Copy`: it cannot leak into logs, be compared in
/// variable time, or be duplicated without a visible `clone()`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret32(pub(crate) [u8; 32]);

impl Secret32 {
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Serialize for Secret32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A byte string: 34 bytes in MessagePack rather than an array of 32 integers.
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(Secret32Visitor)
    }
}

struct Secret32Visitor;

impl<'de> Visitor<'de> for Secret32Visitor {
    type Value = Secret32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("32 secret bytes")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Secret32, E> {
        <[u8; 32]>::try_from(bytes)
            .map(Secret32)
            .map_err(|_| E::invalid_length(bytes.len(), &self))
    }

    fn visit_byte_buf<E: de::Error>(self, mut bytes: Vec<u8>) -> Result<Secret32, E> {
        let secret = self.visit_bytes(&bytes);
        bytes.zeroize();
        secret
    }

    // Self-describing formats without a byte-string type (JSON) hand over a sequence of numbers.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Secret32, A::Error> {
        let mut secret = Secret32([0; 32]);
        for (index, slot) in secret.0.iter_mut().enumerate() {
            *slot = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(index, &self))?;
        }
        if seq.next_element::<u8>()?.is_some() {
            return Err(de::Error::invalid_length(33, &self));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_through_messagepack_and_json() {
        let secret = Secret32([9; 32]);
        let packed = rmp_serde::to_vec(&secret).unwrap();
        assert_eq!(packed.len(), 34);
        assert_eq!(rmp_serde::from_slice::<Secret32>(&packed).unwrap().0, [9; 32]);
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(serde_json::from_str::<Secret32>(&json).unwrap().0, [9; 32]);
    }

    #[test]
    fn secrets_of_the_wrong_length_are_refused() {
        let packed = rmp_serde::to_vec(&serde_bytes_of(&[1; 31])).unwrap();
        assert!(rmp_serde::from_slice::<Secret32>(&packed).is_err());
        assert!(serde_json::from_str::<Secret32>("[1,2,3]").is_err());
    }

    fn serde_bytes_of(bytes: &[u8]) -> impl Serialize + '_ {
        struct Bytes<'a>(&'a [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(self.0)
            }
        }
        Bytes(bytes)
    }
}
