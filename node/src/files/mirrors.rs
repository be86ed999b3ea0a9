//! Files kept on other nodes. A file lives on its uploader's node; a member of the conversation it was
//! shared in who lives elsewhere downloads it through their own node, naming the uploader. That node
//! fetches it once, in chunks, on the member's behalf (`Request::FetchFile`: the uploader's node
//! checks that the member may read it and that the asking node is the member's home), checks the copy
//! against the SHA-256 the uploader's node gave, keeps it, and serves it from then on: to that member
//! at once, even while the uploader's node is down; to another of its users once the uploader's node
//! says they may read it too. The bytes are ciphertext the clients made; no node can read them.

use chrono::Utc;
use libp2p::PeerId;
use protocol::federation::{FileChunk, MAX_FILE_CHUNK, Request, Response};
use protocol::{FileId, UserId};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::blobs;
use super::{FileRecord, Files, content_type, too_large};
use crate::federation::Destination;
use crate::remote::{homes, speaks_for};
use crate::storage::encode;
use crate::{Actor, Error, Result, validate};

impl Files {
    /// The file `id` that `uploader` (a user of another node) keeps there, for `actor`: this node's
    /// copy, fetched first if there is none (see the module's doc).
    pub(super) async fn kept_by_uploader(&self, actor: &Actor, id: FileId, uploader: UserId) -> Result<FileRecord> {
        let home = homes::get(&self.store, uploader)?
            .ok_or(Error::NotFound("file"))?
            .destination();
        match self.record(id)? {
            Some(record) if self.may_read(&record, actor.user_id)? => Ok(record),
            Some(mut record) if record.origin.as_ref() == Some(&home) => {
                self.fetch(&home, actor.user_id, id, 0, 0).await?;
                record.granted.push(actor.user_id);
                self.store.trees.fileid_file.insert(id.as_bytes(), encode(&record))?;
                self.store.commit().await?;
                Ok(record)
            }
            Some(_) => Err(Error::NotFound("file")),
            None => self.copy_from(&home, actor.user_id, id).await,
        }
    }

    /// Fetches the whole file from `home` for `reader` and keeps it.
    async fn copy_from(&self, home: &Destination, reader: UserId, id: FileId) -> Result<FileRecord> {
        let first = self.fetch(home, reader, id, 0, MAX_FILE_CHUNK).await?;
        if first.size > self.config.max_file_bytes {
            return Err(too_large(self.config.max_file_bytes));
        }
        validate::text("file_name", &first.file_name, 1, super::MAX_FILE_NAME)?;
        let file_name = first.file_name.clone();
        let content_type = content_type(Some(&first.content_type))?;
        let incoming = self.blobs.incoming(FileId::random());
        let (mut file, mut guard) = blobs::create_incoming(incoming.clone()).await?;
        let mut hasher = Sha256::new();
        let mut chunk = first.bytes;
        let mut written = 0;
        loop {
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(blobs::io_error("writing an incoming file"))?;
            written += chunk.len() as u64;
            if written >= first.size || chunk.is_empty() {
                break;
            }
            chunk = self.fetch(home, reader, id, written, MAX_FILE_CHUNK).await?.bytes;
        }
        file.sync_all()
            .await
            .map_err(blobs::io_error("syncing an incoming file"))?;
        drop(file);
        if written != first.size || blobs::hex(&hasher.finalize()) != first.sha256 {
            return Err(Error::Unavailable(format!(
                "node {} sent a copy of the file that does not match its size or SHA-256",
                home.node
            )));
        }
        let blob = self.blobs.blob(id);
        blobs::promote(&incoming, &blob).await?;
        guard.moved_to(blob);
        let record = FileRecord {
            id,
            file_name,
            content_type,
            size: first.size,
            sha256: first.sha256,
            uploader_id: first.uploader_id,
            conversation_id: None,
            created_at: Utc::now(),
            origin: Some(home.clone()),
            granted: vec![reader],
        };
        self.save_new(&record)?;
        self.store.commit().await?;
        guard.disarm();
        Ok(record)
    }

    /// Asks `home` for part of the file for `reader`; not found when `reader` may not read it there.
    async fn fetch(
        &self,
        home: &Destination,
        reader: UserId,
        id: FileId,
        offset: u64,
        length: u32,
    ) -> Result<FileChunk> {
        let request = Request::FetchFile {
            user_id: reader,
            file_id: id,
            offset,
            length,
        };
        self.remote
            .ask_for_user(home, request, |answer| match answer {
                Response::FileChunk(chunk) => Ok(Some(*chunk)),
                Response::NotFound => Ok(None),
                other => Err(Box::new(other)),
            })
            .await?
            .ok_or(Error::NotFound("file"))
    }

    /// Answers `peer`'s request for part of a file kept here, for one of its users.
    pub(crate) async fn serve_chunk(
        &self,
        peer: PeerId,
        reader: UserId,
        id: FileId,
        offset: u64,
        length: u32,
    ) -> Result<Option<FileChunk>> {
        speaks_for(&self.store, peer, reader)?;
        let Some(record) = self.record(id)?.filter(|record| record.origin.is_none()) else {
            return Ok(None);
        };
        if !self.may_read(&record, reader)? {
            return Ok(None);
        }
        let length = u64::from(length.min(MAX_FILE_CHUNK)).min(record.size.saturating_sub(offset));
        let mut bytes = vec![0; usize::try_from(length).unwrap_or(0)];
        if !bytes.is_empty() {
            let mut file = tokio::fs::File::open(self.blobs.blob(id))
                .await
                .map_err(blobs::io_error("opening a stored file"))?;
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(blobs::io_error("seeking in a stored file"))?;
            file.read_exact(&mut bytes)
                .await
                .map_err(blobs::io_error("reading a stored file"))?;
        }
        Ok(Some(FileChunk {
            file_name: record.file_name,
            content_type: record.content_type,
            size: record.size,
            sha256: record.sha256,
            uploader_id: record.uploader_id,
            bytes,
        }))
    }
}
