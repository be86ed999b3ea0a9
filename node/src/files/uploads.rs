//! Resumable upload sessions (`/v1/uploads`). The client declares the blob's size and SHA-256, then
//! sends it in chunks, each at the offset the node has received so far; the node counts the bytes
//! itself (a client's progress report is only checked against that count) and verifies size and hash
//! when the client completes the upload. A chunk is all or nothing: one that fails or goes past the
//! declared size leaves the part file as it was before it.

mod listing;

use std::collections::HashSet;
use std::io::SeekFrom;
use std::sync::Mutex;

use chrono::Utc;
use protocol::api::{CreateUploadRequest, Timestamp, Upload, UploadProgressRequest, UploadStatus};
use protocol::{ConversationId, FileId, UploadId, UserId};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt};

use super::blobs::{self, CopyError};
use super::{FileRecord, Files, MAX_CHUNK_BYTES, MAX_FILE_NAME, content_type, file_url, sha256_hex};
use crate::conversations::records as conversations;
use crate::storage::{decode, encode, keys};
use crate::{Actor, Error, Result, validate};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct UploadRecord {
    id: UploadId,
    file_name: String,
    file_size: u64,
    content_type: String,
    sha256: String,
    uploader_id: UserId,
    conversation_id: Option<ConversationId>,
    pub(super) status: UploadStatus,
    uploaded_bytes: u64,
    file_id: Option<FileId>,
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Option<Timestamp>,
}

impl UploadRecord {
    fn view(&self) -> Upload {
        Upload {
            id: self.id,
            file_name: self.file_name.clone(),
            file_size: self.file_size,
            content_type: self.content_type.clone(),
            sha256: self.sha256.clone(),
            uploader_id: self.uploader_id,
            conversation_id: self.conversation_id,
            status: self.status,
            uploaded_bytes: self.uploaded_bytes,
            upload_url: format!("/v1/uploads/{}/data", self.id),
            file_id: self.file_id,
            file_url: self.file_id.map(file_url),
            created_at: self.created_at,
            updated_at: self.updated_at,
            completed_at: self.completed_at,
        }
    }
}

fn unfinished(record: &UploadRecord) -> Result<()> {
    if record.status.is_unfinished() {
        Ok(())
    } else {
        Err(Error::Conflict(format!("upload is {}", record.status.as_str())))
    }
}

/// Marks an upload as claimed by one request until dropped (also when the request's future is
/// dropped because its client went away).
struct Busy<'a> {
    set: &'a Mutex<HashSet<UploadId>>,
    id: UploadId,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.id);
    }
}

impl Files {
    pub(super) fn upload_record(&self, id: UploadId) -> Result<Option<UploadRecord>> {
        self.store
            .trees
            .uploadid_upload
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// The caller's own upload; anyone else's is "not found".
    fn own_upload(&self, actor: &Actor, id: UploadId) -> Result<UploadRecord> {
        match self.upload_record(id)? {
            Some(record) if record.uploader_id == actor.user_id => Ok(record),
            _ => Err(Error::NotFound("upload")),
        }
    }

    fn try_claim(&self, id: UploadId) -> Option<Busy<'_>> {
        let mut busy = self.busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        busy.insert(id).then_some(Busy { set: &self.busy, id })
    }

    /// Claims the caller's upload for this request and reads it afresh under the claim.
    fn claim(&self, actor: &Actor, id: UploadId) -> Result<(Busy<'_>, UploadRecord)> {
        self.own_upload(actor, id)?;
        let busy = self
            .try_claim(id)
            .ok_or_else(|| Error::Conflict("another request is working on this upload; retry when it ends".into()))?;
        Ok((busy, self.own_upload(actor, id)?))
    }

    fn save_upload(&self, record: &UploadRecord) -> Result<()> {
        self.store
            .trees
            .uploadid_upload
            .insert(record.id.as_bytes(), encode(record))?;
        Ok(())
    }

    /// Ends an unfinished upload as failed or cancelled and removes its bytes (after the record, so a
    /// crash in between leaves a part the start-up sweep removes).
    async fn finish(&self, record: &mut UploadRecord, status: UploadStatus) -> Result<()> {
        record.status = status;
        record.updated_at = Utc::now();
        self.save_upload(record)?;
        self.store.commit().await?;
        blobs::remove(&self.blobs.part(record.id)).await;
        Ok(())
    }

    /// `POST /v1/uploads`: opens a session for a blob of a declared size and hash.
    pub async fn create_upload(&self, actor: &Actor, request: CreateUploadRequest) -> Result<Upload> {
        if request.uploader_id.is_some_and(|user| user != actor.user_id) {
            return Err(Error::forbidden("you can only upload as yourself"));
        }
        let file_name = validate::text("file_name", &request.file_name, 1, MAX_FILE_NAME)?;
        let content_type = content_type(Some(&request.content_type))?;
        let sha256 = sha256_hex(&request.sha256)?;
        let max = self.config.max_file_bytes;
        if request.file_size > max {
            return Err(Error::TooLarge(format!("file_size: files may be at most {max} bytes")));
        }
        if let Some(conversation) = request.conversation_id {
            conversations::require_participant(&self.store, conversation, actor.user_id)?;
        }
        let now = Utc::now();
        let record = UploadRecord {
            id: UploadId::random(),
            file_name,
            file_size: request.file_size,
            content_type,
            sha256,
            uploader_id: actor.user_id,
            conversation_id: request.conversation_id,
            status: UploadStatus::Pending,
            uploaded_bytes: 0,
            file_id: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        self.save_upload(&record)?;
        self.store
            .trees
            .usertimeupload_upload
            .insert(keys::upload_listing(actor.user_id, now, record.id), &[])?;
        self.store.commit().await?;
        Ok(record.view())
    }

    /// `GET /v1/uploads/{id}`.
    pub fn upload(&self, actor: &Actor, id: UploadId) -> Result<Upload> {
        Ok(self.own_upload(actor, id)?.view())
    }

    /// `PUT /v1/uploads/{id}/data?offset=`: appends one chunk, streamed from `body` to the part file.
    /// `offset` must equal the bytes received so far (409 naming it otherwise); the chunk may carry at
    /// most `MAX_CHUNK_BYTES` and never go past the declared size (413, and nothing is kept).
    /// `declared_len` (the `Content-Length`) lets an oversized chunk be refused before it is read.
    pub async fn write_chunk<R>(
        &self,
        actor: &Actor,
        id: UploadId,
        offset: u64,
        declared_len: Option<u64>,
        body: &mut R,
    ) -> Result<Upload>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        let (_busy, mut record) = self.claim(actor, id)?;
        unfinished(&record)?;
        if offset != record.uploaded_bytes {
            return Err(Error::Conflict(format!(
                "offset must be {} (the bytes received so far), not {offset}",
                record.uploaded_bytes
            )));
        }
        let room = record.file_size - record.uploaded_bytes;
        let limit = room.min(MAX_CHUNK_BYTES);
        let refused = || {
            if room <= MAX_CHUNK_BYTES {
                Error::TooLarge(format!(
                    "the chunk goes past the declared file_size ({} bytes, {offset} received)",
                    record.file_size
                ))
            } else {
                Error::TooLarge(format!("a chunk may carry at most {MAX_CHUNK_BYTES} bytes"))
            }
        };
        if declared_len.is_some_and(|len| len > limit) {
            return Err(refused());
        }

        let path = self.blobs.part(id);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .await
            .map_err(blobs::io_error("opening a part file"))?;
        // Whatever lies past the count (from a chunk whose client went away) is not part of the upload.
        file.set_len(offset)
            .await
            .map_err(blobs::io_error("truncating a part file"))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(blobs::io_error("seeking in a part file"))?;
        let copied = blobs::copy_limited(body, &mut file, limit, None).await;
        let written = match copied {
            Ok(written) => written,
            Err(err) => {
                // All or nothing: cut the part back to where this chunk started.
                if let Err(err) = file.set_len(offset).await {
                    tracing::warn!(upload = %id, error = %err, "could not cut back a refused chunk");
                }
                return Err(match err {
                    CopyError::TooLarge => refused(),
                    CopyError::Read(err) => Error::invalid("body", format!("chunk interrupted: {err}")),
                    CopyError::Write(err) => Error::Internal(format!("writing a part file: {err}")),
                });
            }
        };
        // The count is recorded only once the bytes it counts are on disk.
        file.flush().await.map_err(blobs::io_error("writing a part file"))?;
        file.sync_data().await.map_err(blobs::io_error("syncing a part file"))?;
        drop(file);
        crate::crash::point("upload:chunk-written");

        record.uploaded_bytes += written;
        if record.uploaded_bytes > 0 {
            record.status = UploadStatus::InProgress;
        }
        record.updated_at = Utc::now();
        self.save_upload(&record)?;
        self.store.commit().await?;
        Ok(record.view())
    }

    /// `POST /v1/uploads/{id}/progress`: the node counts received bytes itself, so a report is accepted
    /// only when it agrees with that count (409 naming the count otherwise); it keeps the upload fresh.
    pub async fn confirm_progress(
        &self,
        actor: &Actor,
        id: UploadId,
        request: UploadProgressRequest,
    ) -> Result<Upload> {
        let (_busy, mut record) = self.claim(actor, id)?;
        unfinished(&record)?;
        if request.uploaded_bytes != record.uploaded_bytes {
            return Err(Error::Conflict(format!(
                "the node has received {} bytes (it counts them itself), not {}",
                record.uploaded_bytes, request.uploaded_bytes
            )));
        }
        record.updated_at = Utc::now();
        self.save_upload(&record)?;
        self.store.commit().await?;
        Ok(record.view())
    }

    /// `POST /v1/uploads/{id}/complete`: checks that every declared byte arrived and that they hash to
    /// the declared SHA-256 (streaming the part file), then stores the file. A failed check is 422 and
    /// ends the upload as `FAILED`. Completing a completed upload answers it again.
    pub async fn complete_upload(&self, actor: &Actor, id: UploadId) -> Result<Upload> {
        let (_busy, mut record) = self.claim(actor, id)?;
        if record.status == UploadStatus::Completed {
            return Ok(record.view());
        }
        unfinished(&record)?;
        if record.uploaded_bytes != record.file_size {
            let reason = format!(
                "{} of the declared {} bytes were received",
                record.uploaded_bytes, record.file_size
            );
            self.finish(&mut record, UploadStatus::Failed).await?;
            return Err(Error::invalid("file_size", reason));
        }
        // The file takes the upload's id: a completion cut short after the part became the blob, but
        // before the records say so, finds the blob where the part was and finishes.
        let file_id = FileId::from_bytes(*id.as_bytes());
        let (part, blob) = (self.blobs.part(id), self.blobs.blob(file_id));
        let promoted = !blobs::exists(&part).await && blobs::exists(&blob).await;
        let received = if promoted { blob.clone() } else { part.clone() };
        let digest = blobs::truncate_and_hash(received.clone(), record.file_size).await?;
        if digest != record.sha256 {
            self.finish(&mut record, UploadStatus::Failed).await?;
            if promoted {
                blobs::remove(&blob).await;
            }
            return Err(Error::invalid(
                "sha256",
                "the received bytes do not match the declared SHA-256",
            ));
        }
        if !promoted {
            blobs::promote(&part, &blob).await?;
            crate::crash::point("upload:promoted");
        }
        // Sharing needs membership now, not only when the upload was opened.
        let conversation = match record.conversation_id {
            Some(conversation) if conversations::participant(&self.store, conversation, actor.user_id)?.is_some() => {
                Some(conversation)
            }
            _ => None,
        };
        let now = Utc::now();
        let file = FileRecord {
            id: file_id,
            file_name: record.file_name.clone(),
            content_type: record.content_type.clone(),
            size: record.file_size,
            sha256: digest,
            uploader_id: record.uploader_id,
            conversation_id: conversation,
            created_at: now,
            origin: None,
            granted: Vec::new(),
        };
        record.status = UploadStatus::Completed;
        record.file_id = Some(file_id);
        record.updated_at = now;
        record.completed_at = Some(now);
        let trees = &self.store.trees;
        trees.gated(|| {
            (
                trees.uploadid_upload.sled(),
                trees.fileid_file.sled(),
                trees.fileconv_share.sled(),
            )
                .transaction(
                    |(uploads, files, shares)| -> Result<(), ConflictableTransactionError<Error>> {
                        uploads.insert(&record.id.as_bytes()[..], encode(&record))?;
                        files.insert(&file_id.as_bytes()[..], encode(&file))?;
                        if let Some(conversation) = conversation {
                            shares.insert(keys::file_share(file_id, conversation), encode(&now))?;
                        }
                        Ok(())
                    },
                )
        })?;
        self.store.commit().await?;
        Ok(record.view())
    }

    /// `POST /v1/uploads/{id}/fail`: the client gives up; the bytes are removed.
    pub async fn fail_upload(&self, actor: &Actor, id: UploadId) -> Result<Upload> {
        let (_busy, mut record) = self.claim(actor, id)?;
        if record.status != UploadStatus::Failed {
            unfinished(&record)?;
            self.finish(&mut record, UploadStatus::Failed).await?;
        }
        Ok(record.view())
    }

    /// `DELETE /v1/uploads/{id}`: cancels an unfinished upload and removes its bytes. Failed and
    /// cancelled uploads have none left and are answered as they are; a completed one is refused,
    /// since its file may already be shared.
    pub async fn cancel_upload(&self, actor: &Actor, id: UploadId) -> Result<Upload> {
        let (_busy, mut record) = self.claim(actor, id)?;
        match record.status {
            UploadStatus::Completed => Err(Error::Conflict(
                "upload is COMPLETED; its file is kept and cannot be cancelled".into(),
            )),
            UploadStatus::Failed | UploadStatus::Cancelled => Ok(record.view()),
            UploadStatus::Pending | UploadStatus::InProgress => {
                self.finish(&mut record, UploadStatus::Cancelled).await?;
                Ok(record.view())
            }
        }
    }
}
