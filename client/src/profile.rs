//! The profile directory: one device's account, keys, sessions and message history on local disk.
//!
//! ```text
//! <profile>/
//!   profile.lock                  advisory lock, held while crypto state changes (any process)
//!   account.lock                  advisory lock, held while the login tokens are refreshed
//!   account.json                  node URL, user, device id, login tokens (0600)
//!   identity.key                  MessagePack: the device's Ed25519 identity seed (0600)
//!   prekeys.mpk                   MessagePack: signed prekeys (newest last), one-time prekey secrets
//!   trust.json                    identity keys pinned per peer device, as first verified
//!   sessions/<device-id>.mpk      MessagePack: the Double Ratchet sessions with one peer device
//!   messages/<conversation>.jsonl one JSON object per message sent or received, plaintext in base64
//! ```
//!
//! Every file but the message logs is replaced atomically (written to a temporary file, synced, then
//! renamed over the old one), so a crash leaves either the old or the new version. Message logs are
//! appended and synced line by line; a torn last line is skipped on reading.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::{DeviceId, SessionId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const LOCK: &str = "profile.lock";
const ACCOUNT_LOCK: &str = "account.lock";
pub(crate) const ACCOUNT: &str = "account.json";
pub(crate) const IDENTITY: &str = "identity.key";
pub(crate) const PREKEYS: &str = "prekeys.mpk";
pub(crate) const TRUST: &str = "trust.json";
pub(crate) const SESSIONS: &str = "sessions";
pub(crate) const MESSAGES: &str = "messages";

/// What `account.json` holds: where the account lives and how this device logs in.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct AccountFile {
    /// The node's base URL, e.g. `http://127.0.0.1:8080`.
    pub(crate) server: String,
    /// A CA file trusted for the node's certificate besides the system's.
    #[serde(default)]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// This device, chosen once when the profile is created and kept for its lifetime.
    pub(crate) device_id: DeviceId,
    /// The account, once registered or logged in.
    #[serde(default)]
    pub(crate) user_id: Option<UserId>,
    /// Its username.
    #[serde(default)]
    pub(crate) username: Option<String>,
    /// The current login session.
    #[serde(default)]
    pub(crate) tokens: Option<Tokens>,
}

/// A login session's tokens. Never printed.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Tokens {
    pub(crate) session_id: SessionId,
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
}

impl Drop for Tokens {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.access_token);
        zeroize::Zeroize::zeroize(&mut self.refresh_token);
    }
}

/// An open profile directory.
pub(crate) struct Profile {
    dir: PathBuf,
    /// Serialises state changes inside this process; the file lock serialises them across processes.
    local: Arc<tokio::sync::Mutex<()>>,
    /// The same for token refreshes. A separate lock, because a request made while the state lock is
    /// held may need a refresh; the order is always state, then account.
    account: Arc<tokio::sync::Mutex<()>>,
}

/// Held while the crypto state is read and changed; dropping it releases both locks.
pub(crate) struct ProfileGuard {
    _local: tokio::sync::OwnedMutexGuard<()>,
    // Closing the only descriptor of this open file releases its `flock`.
    _file: File,
}

impl Profile {
    /// Opens (creating if needed) the profile directory and its subdirectories.
    pub(crate) fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        for sub in [dir.clone(), dir.join(SESSIONS), dir.join(MESSAGES)] {
            create_private_dir(&sub)?;
        }
        Ok(Self {
            dir,
            local: Arc::new(tokio::sync::Mutex::new(())),
            account: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the profile.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Takes the profile lock: first this process's, then the advisory file lock that other
    /// processes using the same profile (a `parley listen` beside a `parley send`) also take.
    pub(crate) async fn lock(&self) -> Result<ProfileGuard> {
        self.lock_with(&self.local, LOCK).await
    }

    /// Takes the lock that serialises token refreshes.
    pub(crate) async fn lock_account(&self) -> Result<ProfileGuard> {
        self.lock_with(&self.account, ACCOUNT_LOCK).await
    }

    async fn lock_with(&self, local: &Arc<tokio::sync::Mutex<()>>, name: &str) -> Result<ProfileGuard> {
        let local = local.clone().lock_owned().await;
        let path = self.path(name);
        let file = private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| Error::io(&path, err))?;
        // `File::lock` blocks the thread until the other process lets go, so it runs off the runtime.
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|err| Error::profile(format!("lock task failed: {err}")))?
            .map_err(|err| Error::io(&path, err))?;
        Ok(ProfileGuard {
            _local: local,
            _file: file,
        })
    }

    /// Reads a JSON file; `None` when it does not exist.
    pub(crate) fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.path(name);
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| Error::profile(format!("{} is corrupt: {err}", path.display())))
    }

    /// Replaces a JSON file atomically.
    pub(crate) fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(value).map_err(|err| Error::profile(format!("cannot encode {name}: {err}")))?,
        );
        write_atomic(&self.path(name), &bytes)
    }

    /// Reads a MessagePack file; `None` when it does not exist.
    pub(crate) fn read_packed<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.path(name);
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        rmp_serde::from_slice(&bytes)
            .map(Some)
            .map_err(|err| Error::profile(format!("{} is corrupt: {err}", path.display())))
    }

    /// Replaces a MessagePack file atomically; the encoded secrets are wiped from memory after.
    pub(crate) fn write_packed<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let bytes = Zeroizing::new(
            rmp_serde::to_vec_named(value).map_err(|err| Error::profile(format!("cannot encode {name}: {err}")))?,
        );
        write_atomic(&self.path(name), &bytes)
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::io(path, err)),
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|err| Error::io(dir, err))
}

/// Opens a file readable by its owner only (on Unix).
pub(crate) fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and syncs the
/// directory, so readers (and a crash) see either the old or the new contents.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::profile(format!("{} has no parent directory", path.display())))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = private_options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|err| Error::io(&temp, err))?;
        file.write_all(bytes).map_err(|err| Error::io(&temp, err))?;
        file.sync_all().map_err(|err| Error::io(&temp, err))?;
        fs::rename(&temp, path).map_err(|err| Error::io(path, err))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be opened and synced on Unix; elsewhere the rename is as durable as it gets.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|err| Error::io(dir, err))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::open(dir.path().join("p")).unwrap();
        profile.write_json("a.json", &vec![1, 2, 3]).unwrap();
        profile.write_json("a.json", &vec![4]).unwrap();
        assert_eq!(profile.read_json::<Vec<u32>>("a.json").unwrap(), Some(vec![4]));
        assert_eq!(profile.read_json::<Vec<u32>>("missing.json").unwrap(), None);
        let leftovers: Vec<_> = fs::read_dir(profile.dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::open(dir.path()).unwrap();
        profile.write_packed("s.mpk", &"secret").unwrap();
        let mode = fs::metadata(profile.path("s.mpk")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn the_lock_serialises_holders() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Arc::new(Profile::open(dir.path()).unwrap());
        let guard = profile.lock().await.unwrap();
        let other = profile.clone();
        let waiter = tokio::spawn(async move { other.lock().await.map(drop) });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(guard);
        waiter.await.unwrap().unwrap();
    }
}
