//! Safety numbers: 60 digits two people compare (aloud or as a QR code) to confirm that each holds
//! the other's real identity key, after Signal's numeric fingerprint (version 0 layout).
//!
//! ```text
//! hash_0     = SHA-512(0x00 0x00 || identity key (32) || stable id)
//! hash_(i+1) = SHA-512(hash_i || identity key)                  for 5200 iterations in all
//! half       = the first 30 bytes as six 5-byte big-endian numbers, each mod 100000, as 5 digits
//! number     = the two 30-digit halves, the smaller first (so both sides see the same string)
//! ```

use std::fmt;

use sha2::{Digest, Sha512};

use crate::IdentityPublicKey;

const VERSION: [u8; 2] = [0, 0];
const ITERATIONS: usize = 5200;

/// A safety number for a pair of identities: identical on both devices when neither key was swapped.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafetyNumber(String);

impl SafetyNumber {
    /// The safety number of `local` and `remote`, each an identity key with a stable identifier of
    /// its owner (for example the bytes of the user's `UserId`, or `user@node` across federation).
    /// Both sides get the same number whichever of them is `local`.
    pub fn new(
        local_identity: &IdentityPublicKey,
        local_stable_id: &[u8],
        remote_identity: &IdentityPublicKey,
        remote_stable_id: &[u8],
    ) -> Self {
        let local = half(local_identity, local_stable_id);
        let remote = half(remote_identity, remote_stable_id);
        if local <= remote {
            Self(local + &remote)
        } else {
            Self(remote + &local)
        }
    }

    /// The 60 digits without spaces.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Twelve groups of five digits, as shown to people.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        // The string is ASCII digits only, so every 5-byte boundary is a character boundary.
        (0..self.0.len())
            .step_by(5)
            .filter_map(|start| self.0.get(start..start + 5))
    }
}

/// `12345 67890 …`.
impl fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, group) in self.groups().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(group)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

/// One identity's 30 digits.
fn half(identity: &IdentityPublicKey, stable_id: &[u8]) -> String {
    let key = identity.as_bytes();
    let mut hash = Sha512::new()
        .chain_update(VERSION)
        .chain_update(key)
        .chain_update(stable_id)
        .finalize();
    for _ in 1..ITERATIONS {
        hash = Sha512::new().chain_update(hash).chain_update(key).finalize();
    }
    hash[..30]
        .chunks_exact(5)
        .map(|chunk| {
            let value = chunk.iter().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
            format!("{:05}", value % 100_000)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> IdentityPublicKey {
        IdentityPublicKey([byte; 32])
    }

    #[test]
    fn both_sides_see_the_same_number() {
        let alice = SafetyNumber::new(&key(1), b"alice", &key(2), b"bob");
        let bob = SafetyNumber::new(&key(2), b"bob", &key(1), b"alice");
        assert_eq!(alice, bob);
        assert_eq!(alice.digits().len(), 60);
        assert!(alice.digits().bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn it_shows_as_twelve_groups_of_five() {
        let number = SafetyNumber::new(&key(1), b"alice", &key(2), b"bob");
        let shown = number.to_string();
        assert_eq!(shown.len(), 60 + 11);
        assert_eq!(shown.split(' ').count(), 12);
        assert!(shown.split(' ').all(|group| group.len() == 5));
    }

    #[test]
    fn a_different_key_or_id_changes_the_number() {
        let genuine = SafetyNumber::new(&key(1), b"alice", &key(2), b"bob");
        assert_ne!(genuine, SafetyNumber::new(&key(1), b"alice", &key(3), b"bob"));
        assert_ne!(genuine, SafetyNumber::new(&key(1), b"alice", &key(2), b"bo"));
    }
}
