//! Encrypted file blobs: resumable upload sessions (`/v1/uploads`) and stored files (`/v1/files`).
//! Clients encrypt a file before uploading it, so the node only ever stores and serves ciphertext; the
//! key travels inside an end-to-end encrypted message that references the file id.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::{ConversationId, FileId, UploadId, UserId};

/// Where an upload session stands. `PENDING` and `IN_PROGRESS` are unfinished; the other three are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadStatus {
    /// Created; no bytes received yet.
    Pending,
    /// Some bytes received.
    InProgress,
    /// Every byte received and verified; the file is stored.
    Completed,
    /// Failed verification, or marked failed by the client; its bytes are gone.
    Failed,
    /// Cancelled by the client (or cleaned up as stale); its bytes are gone.
    Cancelled,
}

impl UploadStatus {
    /// Whether bytes may still be added.
    pub fn is_unfinished(self) -> bool {
        matches!(self, Self::Pending | Self::InProgress)
    }

    /// The name used on the wire, e.g. `IN_PROGRESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// `POST /v1/uploads`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUploadRequest {
    /// The file's name as the uploader wants recipients to see it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub file_name: String,
    /// Exact size of the (encrypted) blob in bytes.
    pub file_size: u64,
    /// Its media type, served back as `Content-Type`.
    #[cfg_attr(feature = "openapi", schema(max_length = 255, format = "media-type"))]
    pub content_type: String,
    /// Lower- or upper-case hex SHA-256 of the whole blob, checked on completion.
    #[cfg_attr(feature = "openapi", schema(format = "sha256"))]
    pub sha256: String,
    /// The conversation the file will be shared in; its participants may download it.
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    /// Checked against the token, never trusted.
    #[serde(default)]
    pub uploader_id: Option<UserId>,
}

/// A resumable upload session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Upload {
    /// The session.
    pub id: UploadId,
    /// The file's name.
    pub file_name: String,
    /// Declared size in bytes.
    pub file_size: u64,
    /// Its media type.
    pub content_type: String,
    /// Declared hex SHA-256 (lower case).
    pub sha256: String,
    /// Who uploads it.
    pub uploader_id: UserId,
    /// The conversation it will be shared in.
    pub conversation_id: Option<ConversationId>,
    /// Where it stands.
    pub status: UploadStatus,
    /// Bytes the node has received and stored so far (counted by the node, not reported by the client).
    pub uploaded_bytes: u64,
    /// Where to `PUT` the next chunk (`?offset=` the bytes received so far).
    pub upload_url: String,
    /// The stored file, once completed.
    pub file_id: Option<FileId>,
    /// Where to download the stored file, once completed.
    pub file_url: Option<String>,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When it last changed (a chunk, a status change); stale sessions are judged by this.
    pub updated_at: Timestamp,
    /// When it completed.
    pub completed_at: Option<Timestamp>,
}

/// `PUT /v1/uploads/{id}/data?offset=`: the body is the raw chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct UploadChunkQuery {
    /// Where the chunk starts; must equal the bytes received so far.
    pub offset: u64,
}

/// `POST /v1/uploads/{id}/progress`. The node counts bytes itself, so this only confirms the count.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadProgressRequest {
    /// What the client believes was received; must equal the node's count.
    pub uploaded_bytes: u64,
}

/// `GET /v1/uploads`, `/v1/uploads/completed`, `/v1/uploads/in-progress`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct UploadListQuery {
    /// Must be the caller when given: only one's own uploads can be listed.
    #[serde(default)]
    pub uploader_id: Option<UserId>,
    /// 1-based page.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub page: Option<u32>,
    /// At most 100; default 20.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

/// Upload sessions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadList {
    /// The sessions.
    pub uploads: Vec<Upload>,
}

/// `GET|DELETE /v1/uploads/stale?older_than_sec=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct StaleUploadsQuery {
    /// Unfinished sessions untouched for at least this many seconds; default 3600.
    #[serde(default)]
    pub older_than_sec: Option<u64>,
}

/// `DELETE /v1/uploads/stale`: the sessions cancelled and whose bytes were removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaleUploadsDeleted {
    /// How many were cancelled.
    pub deleted: usize,
    /// Which.
    pub upload_ids: Vec<UploadId>,
}

/// `POST /v1/files`: metadata of a one-request streaming upload, in the query string (or the
/// `X-File-Name`, `X-File-Content-Type`, `X-Conversation-Id` and `X-File-Sha256` headers).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct StreamUploadQuery {
    /// The file's name; `file` when it is left out or blank.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 255))]
    pub file_name: Option<String>,
    /// Its media type; default `application/octet-stream`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 255, format = "media-type"))]
    pub content_type: Option<String>,
    /// The conversation it is shared in.
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    /// When given, the hex SHA-256 the received blob must have (else 422 and nothing is kept).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(format = "sha256"))]
    pub sha256: Option<String>,
}

/// A stored file's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileInfo {
    /// The file.
    pub id: FileId,
    /// Its name.
    pub file_name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the blob (also its `ETag`).
    pub sha256: String,
    /// Who uploaded it.
    pub uploader_id: UserId,
    /// The conversation it was uploaded for, if any.
    pub conversation_id: Option<ConversationId>,
    /// Where to download it.
    pub file_url: String,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// `POST /v1/files/{id}/share`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareFileRequest {
    /// A conversation the uploader takes part in; its participants may then download the file.
    pub conversation_id: ConversationId,
}
