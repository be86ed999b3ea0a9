//! Avatar pictures for users and conversations: small images checked by their magic bytes, stored under
//! `<data_dir>/avatars/` with unguessable names and served publicly (an `<img>` tag sends no token).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Largest avatar accepted.
pub(crate) const MAX_AVATAR_BYTES: usize = 1024 * 1024;
/// Where avatar URLs point.
pub(crate) const URL_PREFIX: &str = "/v1/avatars/";

/// The image kinds accepted, recognised by content rather than by what the client claims.
fn kind(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("png", "image/png"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("jpg", "image/jpeg"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("gif", "image/gif"))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("webp", "image/webp"))
    } else {
        None
    }
}

/// The avatar store.
pub struct Avatars {
    dir: PathBuf,
}

impl Avatars {
    /// Opens the directory, removing what a crash left half-written.
    pub(crate) fn open(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join("avatars");
        let io = |err: std::io::Error| Error::Internal(format!("opening the avatars dir: {err}"));
        std::fs::create_dir_all(&dir).map_err(io)?;
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|extension| extension == "partial") {
                tracing::info!(file = %path.display(), "removing a half-written avatar");
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(Self { dir })
    }

    /// Stores an image and returns the URL it is served at.
    pub async fn store(&self, bytes: &[u8]) -> Result<String> {
        if bytes.len() > MAX_AVATAR_BYTES {
            return Err(Error::TooLarge(format!("avatar exceeds {MAX_AVATAR_BYTES} bytes")));
        }
        let (extension, _) =
            kind(bytes).ok_or_else(|| Error::invalid("avatar", "must be a PNG, JPEG, GIF or WebP image"))?;
        let name = format!("{}.{extension}", uuid::Uuid::new_v4().simple());
        let path = self.dir.join(&name);
        let bytes = bytes.to_vec();
        // Whole and on disk before the record that points at it is committed.
        tokio::task::spawn_blocking(move || crate::storage::write_whole(&path, &bytes, "avatar"))
            .await
            .map_err(|err| Error::Internal(err.to_string()))??;
        Ok(format!("{URL_PREFIX}{name}"))
    }

    /// Removes a previously stored avatar, given its URL; URLs elsewhere are left alone.
    pub async fn forget(&self, url: Option<&str>) {
        if let Some(path) = url.and_then(|url| self.path_of(url.strip_prefix(URL_PREFIX)?)) {
            let _ = tokio::fs::remove_file(path).await;
        }
    }

    fn path_of(&self, name: &str) -> Option<PathBuf> {
        let (stem, extension) = name.split_once('.')?;
        let valid = stem.len() == 32
            && stem.bytes().all(|b| b.is_ascii_hexdigit())
            && ["png", "jpg", "gif", "webp"].contains(&extension);
        valid.then(|| self.dir.join(name))
    }

    /// An avatar's bytes and content type.
    pub async fn load(&self, name: &str) -> Result<(Vec<u8>, &'static str)> {
        let path = self.path_of(name).ok_or(Error::NotFound("avatar"))?;
        let bytes = tokio::fs::read(path).await.map_err(|_| Error::NotFound("avatar"))?;
        let (_, content_type) = kind(&bytes).ok_or(Error::NotFound("avatar"))?;
        Ok((bytes, content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(kind(b"\x89PNG\r\n\x1a\nrest").map(|k| k.0), Some("png"));
        assert_eq!(kind(b"RIFF\0\0\0\0WEBPVP8 ").map(|k| k.0), Some("webp"));
        assert_eq!(kind(b"<svg onload=alert(1)>"), None);
    }

    #[test]
    fn only_our_own_names_map_to_files() {
        let avatars = Avatars {
            dir: PathBuf::from("/tmp/x"),
        };
        assert!(avatars.path_of("0123456789abcdef0123456789abcdef.png").is_some());
        assert!(avatars.path_of("../../etc/passwd").is_none());
        assert!(avatars.path_of("0123456789abcdef0123456789abcdef.svg").is_none());
    }
}
