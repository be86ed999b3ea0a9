//! The blob directory, `<data_dir>/files/`: stored blobs as `<file id>`, resumable uploads' bytes as
//! `upload-<upload id>.part`, and one-request uploads in flight as `incoming-<file id>.part`. Bytes
//! only ever pass through a fixed-size buffer, so no blob is ever held whole in memory.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use protocol::{FileId, UploadId};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Error, Result};

/// Bytes moved per read or write.
const BUFFER: usize = 64 * 1024;

const UPLOAD_PREFIX: &str = "upload-";
const INCOMING_PREFIX: &str = "incoming-";
const PART_SUFFIX: &str = ".part";

/// Paths inside the blob directory.
pub(crate) struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    pub(crate) fn open(data_dir: &Path) -> Result<Self> {
        let root = data_dir.join("files");
        std::fs::create_dir_all(&root).map_err(io_error("creating the files dir"))?;
        Ok(Self { root })
    }

    /// A stored blob.
    pub(crate) fn blob(&self, id: FileId) -> PathBuf {
        self.root.join(id.to_string())
    }

    /// The bytes received so far by a resumable upload.
    pub(crate) fn part(&self, id: UploadId) -> PathBuf {
        self.root.join(format!("{UPLOAD_PREFIX}{id}{PART_SUFFIX}"))
    }

    /// A one-request upload being received.
    pub(crate) fn incoming(&self, id: FileId) -> PathBuf {
        self.root.join(format!("{INCOMING_PREFIX}{id}{PART_SUFFIX}"))
    }

    /// Removes what a crash left behind: every one-request upload in flight (none is at start-up), the
    /// parts of uploads that are no longer unfinished (as told by `keep_part`), and blobs that no
    /// record points at (as told by `keep_blob`: a crash after a blob was moved into place but before
    /// its record was committed; the client was never told it was stored).
    pub(crate) fn sweep(
        &self,
        keep_part: impl Fn(UploadId) -> Result<bool>,
        keep_blob: impl Fn(FileId) -> Result<bool>,
    ) -> Result<()> {
        let entries = std::fs::read_dir(&self.root).map_err(io_error("listing the files dir"))?;
        for entry in entries {
            let entry = entry.map_err(io_error("listing the files dir"))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(PART_SUFFIX) else {
                if let Ok(id) = name.parse::<FileId>()
                    && !keep_blob(id)?
                {
                    tracing::info!(file = %entry.path().display(), "removing a blob no file record points at");
                    remove_blocking(&entry.path());
                }
                continue;
            };
            let stale = if stem.starts_with(INCOMING_PREFIX) {
                true
            } else if let Some(id) = stem.strip_prefix(UPLOAD_PREFIX) {
                match id.parse::<UploadId>() {
                    Ok(id) => !keep_part(id)?,
                    Err(_) => true,
                }
            } else {
                false
            };
            if stale {
                tracing::info!(file = %entry.path().display(), "removing a leftover partial upload");
                remove_blocking(&entry.path());
            }
        }
        Ok(())
    }
}

/// Why a bounded copy stopped.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// More than the limit arrived; nothing past the last complete read below the limit was written.
    TooLarge,
    /// The body could not be read (the client went away, or sent a broken stream).
    Read(io::Error),
    /// The disk refused.
    Write(io::Error),
}

/// Copies `reader` to `writer` until it ends, refusing to write more than `limit` bytes in total and
/// feeding every written byte to `hasher` when there is one. Returns the bytes written.
pub(crate) async fn copy_limited<R, W>(
    reader: &mut R,
    writer: &mut W,
    limit: u64,
    mut hasher: Option<&mut Sha256>,
) -> Result<u64, CopyError>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buffer = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let read = reader.read(&mut buffer).await.map_err(CopyError::Read)?;
        if read == 0 {
            return Ok(total);
        }
        let chunk = &buffer[..read];
        if total + read as u64 > limit {
            return Err(CopyError::TooLarge);
        }
        writer.write_all(chunk).await.map_err(CopyError::Write)?;
        if let Some(hasher) = hasher.as_deref_mut() {
            hasher.update(chunk);
        }
        total += read as u64;
    }
}

/// Cuts a part file to `len` bytes (dropping whatever an interrupted chunk left past it) and returns
/// the hex SHA-256 of what remains, reading it through a fixed buffer on the blocking pool.
pub(crate) async fn truncate_and_hash(path: PathBuf, len: u64) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        // An upload of zero bytes never had a chunk written, hence `create`.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error("opening a part file"))?;
        let actual = file.metadata().map_err(io_error("reading a part file"))?.len();
        if actual < len {
            return Err(Error::Internal(format!(
                "part file {} holds {actual} bytes, {len} were recorded",
                path.display()
            )));
        }
        if actual > len {
            file.set_len(len).map_err(io_error("truncating a part file"))?;
        }
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; BUFFER];
        loop {
            let read = file.read(&mut buffer).map_err(io_error("reading a part file"))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        file.sync_all().map_err(io_error("syncing a part file"))?;
        Ok(hex(&hasher.finalize()))
    })
    .await
    .map_err(|err| Error::Internal(format!("hashing task failed: {err}")))?
}

/// Moves a finished part into place as a stored blob, durably.
pub(crate) async fn promote(from: &Path, to: &Path) -> Result<()> {
    tokio::fs::rename(from, to)
        .await
        .map_err(io_error("storing a finished upload"))?;
    // The rename itself must survive a crash before the record that points at the blob does.
    #[cfg(unix)]
    if let Some(dir) = to.parent() {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir).and_then(|dir| dir.sync_all()))
            .await
            .map_err(|err| Error::Internal(format!("syncing the files dir: {err}")))?
            .map_err(io_error("syncing the files dir"))?;
    }
    Ok(())
}

/// Removes a file, treating "already gone" as success; other failures are logged, never fatal, since
/// the sweep at start-up collects anything left.
/// Whether a file is there; an error reading the directory counts as absent (what follows fails
/// with the reason).
pub(crate) async fn exists(path: &Path) -> bool {
    tokio::fs::try_exists(path).await.unwrap_or(false)
}

pub(crate) async fn remove(path: &Path) {
    if let Err(err) = tokio::fs::remove_file(path).await
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(file = %path.display(), error = %err, "could not remove a file");
    }
}

fn remove_blocking(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(file = %path.display(), error = %err, "could not remove a file");
    }
}

/// Creates the file a one-request upload (or a copy of another node's file) is received into, with
/// the guard that removes it unless the caller keeps it.
pub(crate) async fn create_incoming(path: PathBuf) -> Result<(tokio::fs::File, RemoveOnDrop)> {
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await
        .map_err(io_error("creating an incoming file"))?;
    Ok((file, RemoveOnDrop::new(path)))
}

/// Deletes a file when dropped unless disarmed: a request whose future is dropped mid-body (the client
/// went away) must not leave its partial file behind, and drop is the only code that still runs then.
pub(crate) struct RemoveOnDrop {
    path: Option<PathBuf>,
}

impl RemoveOnDrop {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    /// Points the guard at the file's new name after a rename.
    pub(crate) fn moved_to(&mut self, path: PathBuf) {
        self.path = Some(path);
    }

    /// Keeps the file.
    pub(crate) fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            remove_blocking(&path);
        }
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// Turns an I/O failure into an internal error naming what was being done.
pub(crate) fn io_error(doing: &'static str) -> impl Fn(io::Error) -> Error {
    move |err| Error::Internal(format!("{doing}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn copies_are_bounded_and_hashed() {
        let data = vec![7u8; 200_000];
        let mut out = Vec::new();
        let mut hasher = Sha256::new();
        let copied = copy_limited(&mut &data[..], &mut out, 200_000, Some(&mut hasher))
            .await
            .unwrap();
        assert_eq!(copied, 200_000);
        assert_eq!(out, data);
        assert_eq!(hasher.finalize(), Sha256::digest(&data));

        let mut out = Vec::new();
        let refused = copy_limited(&mut &data[..], &mut out, 100_000, None).await;
        assert!(matches!(refused, Err(CopyError::TooLarge)));
        assert!(out.len() <= 100_000, "nothing is written past the limit");
    }

    #[tokio::test]
    async fn parts_are_truncated_to_the_recorded_length_before_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, b"hello world, and garbage").unwrap();
        let digest = truncate_and_hash(path.clone(), 11).await.unwrap();
        assert_eq!(digest, hex(&Sha256::digest(b"hello world")));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        assert!(truncate_and_hash(path, 50).await.is_err());
    }

    #[test]
    fn the_sweep_removes_only_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path()).unwrap();
        let (live, dead) = (UploadId::random(), UploadId::random());
        let (stored, orphan) = (FileId::random(), FileId::random());
        for path in [
            blobs.part(live),
            blobs.part(dead),
            blobs.incoming(FileId::random()),
            blobs.blob(stored),
            blobs.blob(orphan),
        ] {
            std::fs::write(path, b"x").unwrap();
        }
        blobs.sweep(|id| Ok(id == live), |id| Ok(id == stored)).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("files"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        left.sort();
        let mut expected = vec![blobs.part(live), blobs.blob(stored)];
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn guards_remove_unless_disarmed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"x").unwrap();
        std::fs::write(&b, b"x").unwrap();
        drop(RemoveOnDrop::new(a.clone()));
        RemoveOnDrop::new(b.clone()).disarm();
        assert!(!a.exists());
        assert!(b.exists());
    }
}
