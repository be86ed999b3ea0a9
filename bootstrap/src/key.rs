use std::io::Write;
use std::path::Path;

use libp2p::identity::Keypair;

use crate::Error;

/// Loads the 32-byte Ed25519 secret in `path`, creating it (mode 0600) on first start.
pub fn load_or_create_key(path: &Path) -> Result<Keypair, Error> {
    let fail = |reason: String| Error::Key {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read(path) {
        Ok(mut bytes) => Keypair::ed25519_from_bytes(&mut bytes).map_err(|err| fail(err.to_string())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            let secret = keypair
                .clone()
                .try_into_ed25519()
                .map_err(|err| fail(err.to_string()))?
                .secret();
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|err| fail(err.to_string()))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|err| fail(err.to_string()))?;
            file.write_all(secret.as_ref())
                .and_then(|()| file.sync_all())
                .map_err(|err| fail(err.to_string()))?;
            Ok(keypair)
        }
        Err(err) => Err(fail(err.to_string())),
    }
}
