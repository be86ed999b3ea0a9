//! The node's own Ed25519 keypair. It is generated once and kept in the data dir because it is the
//! node's identity towards other nodes (its libp2p PeerId).

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::{Error, Result};

const FILE: &str = "node.key";

/// The node keypair. Never `Debug`: it holds a secret. Cloned once, for the federation event loop that
/// signs the node's name record.
#[derive(Clone)]
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

    /// The same key as the node's libp2p identity, whose PeerId names the node in the federation.
    pub fn libp2p_keypair(&self) -> libp2p::identity::Keypair {
        // The conversion zeroizes the buffer it is given, so hand it a copy.
        libp2p::identity::Keypair::ed25519_from_bytes(self.key.to_bytes()).expect("32 bytes are an Ed25519 secret")
    }

    /// Signs federation records (the DHT name record) with the node key.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
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

    #[test]
    fn the_libp2p_identity_is_the_node_key() {
        let dir = tempfile::tempdir().unwrap();
        let identity = NodeIdentity::load_or_create(dir.path()).unwrap();
        let keypair = identity.libp2p_keypair();
        let public = keypair.public().try_into_ed25519().unwrap().to_bytes();
        assert_eq!(public, identity.public_key());
        // The record format names peers by key; its PeerId derivation must agree with libp2p's.
        assert_eq!(
            protocol::federation::peer_id_bytes(&public),
            keypair.public().to_peer_id().to_bytes()
        );
    }
}
