//! The node's own Ed25519 keypair. It is generated once and kept in the data dir because it is the
//! node's identity towards other nodes (its libp2p PeerId, once federation arrives).

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::{Error, Result};

const FILE: &str = "node.key";

/// The node keypair. Never `Debug`: it holds a secret.
pub struct NodeIdentity {
    key: SigningKey,
}

impl NodeIdentity {
    /// Loads `node.key` from `dir`, creating it on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let bytes = crate::storage::read_or_create_secret(&path, || {
            SigningKey::generate(&mut rand::rng()).to_bytes().to_vec()
        })?;
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Corrupt(format!("{} is not a 32-byte key", path.display())))?;
        Ok(Self {
            key: SigningKey::from_bytes(&secret),
        })
    }

    /// The public half, as operators and peers see it.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = NodeIdentity::load_or_create(dir.path()).unwrap().public_key();
        let second = NodeIdentity::load_or_create(dir.path()).unwrap().public_key();
        assert_eq!(first, second);
    }
}
