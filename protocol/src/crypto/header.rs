//! The message header: what a receiver needs to find the message key, in a fixed binary layout.
//!
//! ```text
//! offset size
//!  0      1   version (1)
//!  1      1   flags: bit 0 = X3DH fields follow, bit 1 = a one-time prekey id follows them
//!  2     32   sender's current ratchet public key (X25519)
//! 34      4   previous sending chain length, big-endian
//! 38      4   message number in the current sending chain, big-endian
//! -- only with flag bit 0, in the initiator's messages until it hears back --
//! 42     32   initiator's identity key (Ed25519)
//! 74     32   initiator's X3DH base (ephemeral) key (X25519)
//! 106     4   responder's signed prekey id, big-endian
//! 110     4   responder's one-time prekey id, big-endian (only with flag bit 1)
//! ```
//!
//! Decoding is strict (exact length, no unknown flags), so every accepted header has exactly one
//! encoding; the encoded bytes are authenticated as AEAD associated data.

use serde::{Deserialize, Serialize};

use super::dh::DhPublicKey;
use super::error::{CryptoError, CryptoResult};
use super::prekey::{OneTimePreKeyId, SignedPreKeyId};
use crate::IdentityPublicKey;

const VERSION: u8 = 1;
const FLAG_PREKEY: u8 = 0b01;
const FLAG_ONE_TIME: u8 = 0b10;
const BASE_LEN: usize = 42;
const PREKEY_LEN: usize = 68;
const ONE_TIME_LEN: usize = 4;

/// The X3DH fields of an initial message: who is starting the session and with which of the
/// responder's prekeys. The initiator repeats them in every message until it receives a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreKeyInfo {
    /// The initiator's Ed25519 identity key.
    pub identity_key: IdentityPublicKey,
    /// The initiator's ephemeral X3DH key (`EK_A`).
    pub base_key: DhPublicKey,
    /// The responder's signed prekey that was used.
    pub signed_prekey_id: SignedPreKeyId,
    /// The responder's one-time prekey that was used, if the bundle had one.
    pub one_time_prekey_id: Option<OneTimePreKeyId>,
}

/// A Double Ratchet message header, sent in clear beside its ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// The sender's current ratchet public key.
    pub ratchet_key: DhPublicKey,
    /// How many messages the sender sent in its previous sending chain.
    pub previous_chain_length: u32,
    /// This message's number in the current sending chain, from 0.
    pub message_number: u32,
    /// The X3DH fields, present while the initiator has not yet heard back.
    pub prekey: Option<PreKeyInfo>,
}

impl MessageHeader {
    /// The wire version this code writes and reads.
    pub const VERSION: u8 = VERSION;

    /// The header's wire bytes (42, 110 or 114 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0;
        if let Some(prekey) = &self.prekey {
            flags |= FLAG_PREKEY;
            if prekey.one_time_prekey_id.is_some() {
                flags |= FLAG_ONE_TIME;
            }
        }
        let mut out = Vec::with_capacity(BASE_LEN + PREKEY_LEN + ONE_TIME_LEN);
        out.push(VERSION);
        out.push(flags);
        out.extend_from_slice(self.ratchet_key.as_bytes());
        out.extend_from_slice(&self.previous_chain_length.to_be_bytes());
        out.extend_from_slice(&self.message_number.to_be_bytes());
        if let Some(prekey) = &self.prekey {
            out.extend_from_slice(prekey.identity_key.as_bytes());
            out.extend_from_slice(prekey.base_key.as_bytes());
            out.extend_from_slice(&prekey.signed_prekey_id.0.to_be_bytes());
            if let Some(id) = prekey.one_time_prekey_id {
                out.extend_from_slice(&id.0.to_be_bytes());
            }
        }
        out
    }

    /// Parses wire bytes, refusing anything but the exact layout above.
    pub fn decode(bytes: &[u8]) -> CryptoResult<Self> {
        let mut reader = Reader(bytes);
        let version = reader.byte()?;
        if version != VERSION {
            return Err(CryptoError::UnsupportedVersion(version));
        }
        let flags = reader.byte()?;
        if flags & !(FLAG_PREKEY | FLAG_ONE_TIME) != 0 {
            return Err(CryptoError::InvalidHeader("unknown flags"));
        }
        if flags & FLAG_ONE_TIME != 0 && flags & FLAG_PREKEY == 0 {
            return Err(CryptoError::InvalidHeader("one-time prekey without X3DH fields"));
        }
        let ratchet_key = DhPublicKey(reader.array()?);
        let previous_chain_length = reader.u32()?;
        let message_number = reader.u32()?;
        let prekey = if flags & FLAG_PREKEY != 0 {
            Some(PreKeyInfo {
                identity_key: IdentityPublicKey(reader.array()?),
                base_key: DhPublicKey(reader.array()?),
                signed_prekey_id: SignedPreKeyId(reader.u32()?),
                one_time_prekey_id: if flags & FLAG_ONE_TIME != 0 {
                    Some(OneTimePreKeyId(reader.u32()?))
                } else {
                    None
                },
            })
        } else {
            None
        };
        if !reader.0.is_empty() {
            return Err(CryptoError::InvalidHeader("trailing bytes"));
        }
        Ok(Self {
            ratchet_key,
            previous_chain_length,
            message_number,
            prekey,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> CryptoResult<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(CryptoError::InvalidHeader("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }

    fn byte(&mut self) -> CryptoResult<u8> {
        Ok(self.take::<1>()?[0])
    }

    fn u32(&mut self) -> CryptoResult<u32> {
        self.take::<4>().map(u32::from_be_bytes)
    }

    fn array(&mut self) -> CryptoResult<[u8; 32]> {
        self.take::<32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(prekey: Option<PreKeyInfo>) -> MessageHeader {
        MessageHeader {
            ratchet_key: DhPublicKey([1; 32]),
            previous_chain_length: 3,
            message_number: 0x0102_0304,
            prekey,
        }
    }

    fn prekey(one_time: Option<u32>) -> PreKeyInfo {
        PreKeyInfo {
            identity_key: IdentityPublicKey([2; 32]),
            base_key: DhPublicKey([3; 32]),
            signed_prekey_id: SignedPreKeyId(5),
            one_time_prekey_id: one_time.map(OneTimePreKeyId),
        }
    }

    #[test]
    fn headers_round_trip_in_each_shape() {
        for (value, len) in [
            (header(None), 42),
            (header(Some(prekey(None))), 110),
            (header(Some(prekey(Some(9)))), 114),
        ] {
            let bytes = value.encode();
            assert_eq!(bytes.len(), len);
            assert_eq!(MessageHeader::decode(&bytes).unwrap(), value);
        }
    }

    #[test]
    fn the_layout_is_fixed() {
        let bytes = header(None).encode();
        assert_eq!(&bytes[..2], &[1, 0]);
        assert_eq!(&bytes[2..34], &[1; 32]);
        assert_eq!(&bytes[34..42], &[0, 0, 0, 3, 1, 2, 3, 4]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        let bytes = header(Some(prekey(Some(9)))).encode();
        assert_eq!(
            MessageHeader::decode(&bytes[..bytes.len() - 1]),
            Err(CryptoError::InvalidHeader("truncated"))
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            MessageHeader::decode(&longer),
            Err(CryptoError::InvalidHeader("trailing bytes"))
        );
        let mut flags = bytes.clone();
        flags[1] = 0b100;
        assert_eq!(
            MessageHeader::decode(&flags),
            Err(CryptoError::InvalidHeader("unknown flags"))
        );
        let mut version = bytes;
        version[0] = 2;
        assert_eq!(MessageHeader::decode(&version), Err(CryptoError::UnsupportedVersion(2)));
        assert_eq!(MessageHeader::decode(&[]), Err(CryptoError::InvalidHeader("truncated")));
    }
}
