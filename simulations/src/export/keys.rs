//! The bootstrap nodes' keys. A node names a bootstrap node as `/ip4/…/p2p/<peer id>` and refuses a
//! peer with another PeerId, so each bootstrap node's key is made at export time, its PeerId written
//! into every node's `--bootstrap`, and the key handed to the bootstrap container as its `--key-file`.

use std::path::{Path, PathBuf};

use libp2p::PeerId;

use crate::error::Error;

/// Where the keys go, within the output directory.
pub(super) const DIR: &str = "keys";

/// One bootstrap node's key.
pub(super) struct BootstrapKey {
    /// The key file, relative to the output directory: `keys/<bootstrap name>.key`.
    pub(super) file: PathBuf,
    /// The raw 32-byte Ed25519 secret, as in the file (for a Kubernetes Secret).
    pub(super) secret: Vec<u8>,
    /// What nodes must see when they dial it.
    pub(super) peer_id: PeerId,
}

/// Loads each bootstrap node's key from `dir`, making it first if it is missing. The files are made by
/// `bootstrap::load_or_create_key`, the function `parley bootstrap --key-file` reads them with, so the
/// container accepts them and gets the PeerId computed here; an existing key is kept, so re-exporting
/// does not change PeerIds under a running deployment.
pub(super) fn load_or_create(dir: &Path, names: &[String]) -> Result<Vec<BootstrapKey>, Error> {
    names
        .iter()
        .map(|name| {
            let path = dir.join(format!("{name}.key"));
            let keypair = bootstrap::load_or_create_key(&path).map_err(|err| Error::Export(err.to_string()))?;
            let peer_id = keypair.public().to_peer_id();
            let secret = keypair
                .try_into_ed25519()
                .map_err(|err| Error::Export(format!("{}: {err}", path.display())))?
                .secret();
            Ok(BootstrapKey {
                file: Path::new(DIR).join(format!("{name}.key")),
                secret: secret.as_ref().to_vec(),
                peer_id,
            })
        })
        .collect()
}
