//! Encrypted file blobs. Clients encrypt a file before it leaves them, so the node stores and serves
//! opaque bytes: on disk under `<data_dir>/files/` (see `blobs`), never whole in memory, with their
//! metadata in sled. A file arrives either in one streamed request (`store`) or through a resumable
//! upload session (`uploads`). Only its uploader and the participants of a conversation it was shared
//! in may read it; to anyone else it does not exist.

mod blobs;
mod mirrors;
mod uploads;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use protocol::api::{FileInfo, StreamUploadQuery, Timestamp};
use protocol::{ConversationId, FileId, UploadId, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWriteExt};

use self::blobs::{BlobDir, CopyError};
use crate::conversations::records as conversations;
use crate::federation::Destination;
use crate::remote::Remote;
use crate::storage::{Store, decode, encode, keys};
use crate::{Actor, Config, Error, Result, validate};

/// Most bytes one `PUT /v1/uploads/{id}/data` chunk may carry.
pub(crate) const MAX_CHUNK_BYTES: u64 = 8 * 1024 * 1024;
/// Longest file name, in characters.
pub(crate) const MAX_FILE_NAME: usize = 255;
/// Longest media type.
pub(crate) const MAX_CONTENT_TYPE: usize = 255;

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// The name of a file sent without one: a name is metadata the client may leave out.
const UNNAMED_FILE: &str = "file";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileRecord {
    id: FileId,
    file_name: String,
    content_type: String,
    size: u64,
    sha256: String,
    uploader_id: UserId,
    conversation_id: Option<ConversationId>,
    created_at: Timestamp,
    /// The uploader's node, for a copy of a file kept there (see `mirrors`).
    #[serde(default)]
    origin: Option<Destination>,
    /// Users of this node that node said may read its file.
    #[serde(default)]
    granted: Vec<UserId>,
}

impl FileRecord {
    fn view(&self) -> FileInfo {
        FileInfo {
            id: self.id,
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            uploader_id: self.uploader_id,
            conversation_id: self.conversation_id,
            file_url: file_url(self.id),
            created_at: self.created_at,
        }
    }
}

/// Where a stored file is downloaded.
pub(crate) fn file_url(id: FileId) -> String {
    format!("/v1/files/{id}")
}

/// A stored file opened for reading, after its access check.
pub struct Blob {
    /// Its metadata.
    pub info: FileInfo,
    /// The bytes, positioned at the start.
    pub file: tokio::fs::File,
}

/// The files service.
pub struct Files {
    store: Store,
    config: Arc<Config>,
    remote: Arc<Remote>,
    blobs: BlobDir,
    /// Uploads a request is working on right now. A second request on the same upload is refused
    /// (409) rather than queued, so a slow chunk never holds anyone else up and offsets stay exact.
    /// A std mutex: it only guards set membership and is never held across an await.
    busy: Mutex<HashSet<UploadId>>,
}

impl Files {
    pub(crate) fn new(store: Store, config: Arc<Config>, remote: Arc<Remote>) -> Result<Self> {
        let blobs = BlobDir::open(&config.data_dir)?;
        let files = Self {
            store,
            config,
            remote,
            blobs,
            busy: Mutex::default(),
        };
        let unfinished = |id: UploadId| Ok(files.upload_record(id)?.is_some_and(|u| u.status.is_unfinished()));
        // An upload's file takes the upload's id, and its blob may be in place before its record.
        let recorded =
            |id: FileId| Ok(files.record(id)?.is_some() || unfinished(UploadId::from_bytes(*id.as_bytes()))?);
        files.blobs.sweep(unfinished, recorded)?;
        Ok(files)
    }

    fn record(&self, id: FileId) -> Result<Option<FileRecord>> {
        self.store
            .trees
            .fileid_file
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Whether `user` may read the file: its uploader, or a participant of a conversation it was
    /// shared in.
    fn may_read(&self, record: &FileRecord, user: UserId) -> Result<bool> {
        if record.uploader_id == user || record.granted.contains(&user) {
            return Ok(true);
        }
        for entry in self.store.trees.fileconv_share.scan_prefix(record.id.as_bytes()) {
            let (key, _) = entry?;
            let Some(conversation) = keys::id_at(&key, 16).map(ConversationId::from_bytes) else {
                continue;
            };
            if conversations::participant(&self.store, conversation, user)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The file if the caller may read it; otherwise it is "not found", so its existence stays hidden.
    fn readable(&self, actor: &Actor, id: FileId) -> Result<FileRecord> {
        match self.record(id)? {
            Some(record) if self.may_read(&record, actor.user_id)? => Ok(record),
            _ => Err(Error::NotFound("file")),
        }
    }

    /// Erases everything a deleted account uploaded: its upload sessions with their parts, and its
    /// stored files, including those it shared in conversations (the account's data leaves with it).
    pub(crate) async fn forget_user(&self, user: UserId) -> Result<()> {
        let t = &self.store.trees;
        for entry in t.usertimeupload_upload.scan_prefix(user.as_bytes()) {
            let (key, _) = entry?;
            if let Some(id) = key
                .len()
                .checked_sub(16)
                .and_then(|at| keys::id_at(&key, at))
                .map(UploadId::from_bytes)
            {
                blobs::remove(&self.blobs.part(id)).await;
                t.uploadid_upload.remove(id.as_bytes())?;
            }
            t.usertimeupload_upload.remove(key)?;
        }
        let mut owned = Vec::new();
        for entry in t.fileid_file.iter() {
            let record: FileRecord = decode(&entry?.1)?;
            if record.uploader_id == user {
                owned.push(record.id);
            }
        }
        for id in &owned {
            self.unrecord(*id)?;
        }
        self.store.commit().await?;
        for id in owned {
            blobs::remove(&self.blobs.blob(id)).await;
        }
        Ok(())
    }

    /// Files stored, and their bytes together.
    pub(crate) fn totals(&self) -> Result<(u64, u64)> {
        let mut totals = (0, 0);
        for entry in self.store.trees.fileid_file.iter() {
            let record: FileRecord = decode(&entry?.1)?;
            totals.0 += 1;
            totals.1 += record.size;
        }
        Ok(totals)
    }

    /// Forgets a stored file's metadata and shares. The caller commits, then removes the bytes, so a
    /// crash in between leaves stray bytes rather than a record without them.
    fn unrecord(&self, id: FileId) -> Result<()> {
        let t = &self.store.trees;
        for entry in t.fileconv_share.scan_prefix(id.as_bytes()) {
            t.fileconv_share.remove(entry?.0)?;
        }
        t.fileid_file.remove(id.as_bytes())?;
        Ok(())
    }

    /// Deletes a file the caller uploaded: its metadata, its shares and its bytes.
    pub async fn delete(&self, actor: &Actor, id: FileId) -> Result<()> {
        let record = self.readable(actor, id)?;
        if record.uploader_id != actor.user_id {
            return Err(Error::forbidden("only the uploader can delete a file"));
        }
        self.unrecord(id)?;
        self.store.commit().await?;
        blobs::remove(&self.blobs.blob(id)).await;
        Ok(())
    }

    /// A file's metadata.
    pub fn info(&self, actor: &Actor, id: FileId) -> Result<FileInfo> {
        Ok(self.readable(actor, id)?.view())
    }

    /// Opens a file for download. A file another node keeps is named with its `uploader`, a user of
    /// that node (see `mirrors`).
    pub async fn open(&self, actor: &Actor, id: FileId, uploader: Option<UserId>) -> Result<Blob> {
        let record = match (self.readable(actor, id), uploader) {
            (Ok(record), _) => record,
            (Err(Error::NotFound(_)), Some(uploader)) => self.kept_by_uploader(actor, id, uploader).await?,
            (Err(err), _) => return Err(err),
        };
        let file = tokio::fs::File::open(self.blobs.blob(id))
            .await
            .map_err(blobs::io_error("opening a stored file"))?;
        Ok(Blob {
            info: record.view(),
            file,
        })
    }

    /// Shares a file in a conversation the uploader takes part in (idempotent).
    pub async fn share(&self, actor: &Actor, id: FileId, conversation: ConversationId) -> Result<FileInfo> {
        let record = self.readable(actor, id)?;
        if record.uploader_id != actor.user_id {
            return Err(Error::forbidden("only the uploader can share a file"));
        }
        conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let key = keys::file_share(id, conversation);
        if !self.store.trees.fileconv_share.contains_key(&key)? {
            self.store.trees.fileconv_share.insert(key, encode(&Utc::now()))?;
            self.store.commit().await?;
        }
        Ok(record.view())
    }

    /// Stores a file sent in one request, streaming `body` to disk while hashing it. The size limit is
    /// enforced as bytes arrive (`declared_len`, the `Content-Length`, lets an oversized body be refused
    /// before any is read); on any failure the partial file is removed.
    pub async fn store<R>(
        &self,
        actor: &Actor,
        meta: StreamUploadQuery,
        declared_len: Option<u64>,
        body: &mut R,
    ) -> Result<FileInfo>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        let file_name = validate::optional_text("file_name", meta.file_name.as_deref(), MAX_FILE_NAME)?
            .unwrap_or_else(|| UNNAMED_FILE.to_owned());
        let content_type = content_type(meta.content_type.as_deref())?;
        let expected = meta.sha256.as_deref().map(sha256_hex).transpose()?;
        if let Some(conversation) = meta.conversation_id {
            conversations::require_participant(&self.store, conversation, actor.user_id)?;
        }
        let max = self.config.max_file_bytes;
        if declared_len.is_some_and(|len| len > max) {
            return Err(too_large(max));
        }

        let id = FileId::random();
        let incoming = self.blobs.incoming(id);
        let (mut file, mut guard) = blobs::create_incoming(incoming.clone()).await?;
        let mut hasher = Sha256::new();
        let size = match blobs::copy_limited(body, &mut file, max, Some(&mut hasher)).await {
            Ok(size) => size,
            Err(CopyError::TooLarge) => return Err(too_large(max)),
            Err(CopyError::Read(err)) => return Err(Error::invalid("body", format!("upload interrupted: {err}"))),
            Err(CopyError::Write(err)) => return Err(Error::Internal(format!("writing an incoming file: {err}"))),
        };
        file.flush()
            .await
            .map_err(blobs::io_error("writing an incoming file"))?;
        file.sync_all()
            .await
            .map_err(blobs::io_error("syncing an incoming file"))?;
        drop(file);
        let sha256 = blobs::hex(&hasher.finalize());
        if expected.as_ref().is_some_and(|expected| *expected != sha256) {
            return Err(Error::invalid("sha256", "does not match the received bytes"));
        }

        crate::crash::point("file:written");
        let blob = self.blobs.blob(id);
        blobs::promote(&incoming, &blob).await?;
        guard.moved_to(blob);
        crate::crash::point("file:promoted");
        let record = FileRecord {
            id,
            file_name,
            content_type,
            size,
            sha256,
            uploader_id: actor.user_id,
            conversation_id: meta.conversation_id,
            created_at: Utc::now(),
            origin: None,
            granted: Vec::new(),
        };
        self.save_new(&record)?;
        self.store.commit().await?;
        guard.disarm();
        Ok(record.view())
    }

    /// Records a new stored file and its first share.
    fn save_new(&self, record: &FileRecord) -> Result<()> {
        let trees = &self.store.trees;
        trees.fileid_file.insert(record.id.as_bytes(), encode(record))?;
        if let Some(conversation) = record.conversation_id {
            trees
                .fileconv_share
                .insert(keys::file_share(record.id, conversation), encode(&record.created_at))?;
        }
        Ok(())
    }
}

fn too_large(max: u64) -> Error {
    Error::TooLarge(format!("files may be at most {max} bytes"))
}

/// A media type, served back as `Content-Type`, so it must be a header-safe `type/subtype`.
fn content_type(value: Option<&str>) -> Result<String> {
    let sent = value.unwrap_or_default();
    let value = sent.trim();
    if value.is_empty() && sent.chars().count() <= MAX_CONTENT_TYPE {
        return Ok(DEFAULT_CONTENT_TYPE.to_owned());
    }
    let valid = sent.chars().count() <= MAX_CONTENT_TYPE
        && value.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && value
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty());
    if !valid {
        return Err(Error::invalid(
            "content_type",
            "must be a media type such as image/jpeg (printable ASCII)",
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// A SHA-256 as 64 hex digits, normalised to lower case.
fn sha256_hex(value: &str) -> Result<String> {
    let value = value.trim();
    if value.len() != 64 || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "sha256",
            "must be 64 hex digits (SHA-256 of the whole file)",
        ));
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_checked() {
        assert_eq!(content_type(None).unwrap(), "application/octet-stream");
        assert_eq!(content_type(Some(" Image/JPEG ")).unwrap(), "image/jpeg");
        assert_eq!(
            content_type(Some("text/plain; charset=utf-8")).unwrap(),
            "text/plain; charset=utf-8"
        );
        for bad in ["jpeg", "/x", "a/", "image/jpeg\r\nX-Evil: 1", "image/jpég"] {
            assert!(content_type(Some(bad)).is_err(), "{bad:?}");
        }
        let padded = format!("{}a/b", " ".repeat(MAX_CONTENT_TYPE - 2));
        assert!(
            content_type(Some(&padded)).is_err(),
            "the length counts the type as sent"
        );
    }

    #[test]
    fn hashes_are_normalised() {
        let upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        assert_eq!(sha256_hex(upper).unwrap(), upper.to_ascii_lowercase());
        assert!(sha256_hex("abc").is_err());
        assert!(sha256_hex(&"g".repeat(64)).is_err());
    }
}
