//! Encrypted file blobs: resumable uploads and stored files. Bodies are raw bytes streamed straight to
//! disk by the node, so these routes lift the 2 MiB body limit (see `routes.rs`) and the node enforces
//! the real ones (a chunk, `max_file_bytes`) as bytes arrive. Downloads stream from disk with HTTP
//! range support.

mod range;

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, IF_RANGE, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use node::files::Blob;
use protocol::api::{
    CreateUploadRequest, FileInfo, ShareFileRequest, StaleUploadsDeleted, StaleUploadsQuery, StreamUploadQuery, Upload,
    UploadChunkQuery, UploadList, UploadListQuery, UploadProgressRequest,
};
use protocol::{FileId, UploadId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio_util::io::{ReaderStream, StreamReader};

use self::range::Ranged;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::{ApiError, AppState};

/// Bytes per read when streaming a download.
const DOWNLOAD_BUFFER: usize = 64 * 1024;
/// How much of a refused body is still read (and discarded) so the client sees the answer rather than a
/// reset connection; past this (or `DRAIN_TIME`) the connection is simply closed.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A request body as a byte reader, without buffering it.
fn reader(body: Body) -> impl AsyncRead + Unpin + Send {
    StreamReader::new(body.into_data_stream().map_err(io::Error::other))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Reads what is left of a refused body, within bounds. A server that answers without reading the body
/// and then closes the connection makes the client's TCP stack see a reset, and lose the answer.
async fn drain(body: &mut (impl AsyncRead + Unpin)) {
    let mut rest = body.take(DRAIN_BYTES);
    let _ = tokio::time::timeout(DRAIN_TIME, tokio::io::copy(&mut rest, &mut tokio::io::sink())).await;
}

/// # `POST /v1/uploads`
pub(crate) async fn create_upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateUploadRequest>,
) -> ApiResult<Upload> {
    created(state.services.files.create_upload(&actor, body).await?)
}

/// # `GET /v1/uploads?uploader_id=&page=&limit=`
pub(crate) async fn list_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UploadListQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.uploads(&actor, query)?)
}

/// # `GET /v1/uploads/completed?page=&limit=`
pub(crate) async fn completed_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UploadListQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.completed_uploads(&actor, query)?)
}

/// # `GET /v1/uploads/in-progress?page=&limit=`
pub(crate) async fn in_progress_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UploadListQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.in_progress_uploads(&actor, query)?)
}

/// # `GET /v1/uploads/stale?older_than_sec=`
pub(crate) async fn stale_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<StaleUploadsQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.stale_uploads(&actor, query)?)
}

/// # `DELETE /v1/uploads/stale?older_than_sec=`
pub(crate) async fn delete_stale_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<StaleUploadsQuery>,
) -> ApiResult<StaleUploadsDeleted> {
    ok(state.services.files.delete_stale_uploads(&actor, query).await?)
}

/// # `GET /v1/uploads/{id}`
pub(crate) async fn upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.upload(&actor, id)?)
}

/// # `DELETE /v1/uploads/{id}`
pub(crate) async fn cancel_upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.cancel_upload(&actor, id).await?)
}

/// # `PUT /v1/uploads/{id}/data?offset=`
/// The body is the raw chunk (`application/octet-stream`), at most 8 MiB, starting at `offset` (the
/// bytes received so far, else 409).
pub(crate) async fn put_chunk(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
    Query(query): Query<UploadChunkQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Upload> {
    let mut body = reader(body);
    let written = state
        .services
        .files
        .write_chunk(&actor, id, query.offset, content_length(&headers), &mut body)
        .await;
    if written.is_err() {
        drain(&mut body).await;
    }
    ok(written?)
}

/// # `POST /v1/uploads/{id}/progress`
/// The node counts received bytes itself: a report that disagrees with its count is 409.
pub(crate) async fn progress(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
    Json(body): Json<UploadProgressRequest>,
) -> ApiResult<Upload> {
    ok(state.services.files.confirm_progress(&actor, id, body).await?)
}

/// # `POST /v1/uploads/{id}/complete`
pub(crate) async fn complete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.complete_upload(&actor, id).await?)
}

/// # `POST /v1/uploads/{id}/fail`
pub(crate) async fn fail(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.fail_upload(&actor, id).await?)
}

/// Metadata of a one-request upload: the query string first, then `X-File-*` headers, then the body's
/// own `Content-Type`.
fn stream_meta(mut query: StreamUploadQuery, headers: &HeaderMap) -> Result<StreamUploadQuery, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    query.file_name = query.file_name.or_else(|| header("x-file-name"));
    query.content_type = query
        .content_type
        .or_else(|| header("x-file-content-type"))
        .or_else(|| header(CONTENT_TYPE.as_str()));
    query.sha256 = query.sha256.or_else(|| header("x-file-sha256"));
    if query.conversation_id.is_none()
        && let Some(value) = header("x-conversation-id")
    {
        let id = value
            .trim()
            .parse()
            .map_err(|err| ApiError::validation(format!("X-Conversation-Id: {err}")))?;
        query.conversation_id = Some(id);
    }
    Ok(query)
}

/// # `POST /v1/files?file_name=&content_type=&conversation_id=&sha256=`
/// The body is the whole (encrypted) file, streamed to disk; more than the node's `max_file_bytes` is
/// 413 and nothing is kept.
pub(crate) async fn upload_file(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<StreamUploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<FileInfo> {
    let mut body = reader(body);
    let stored = match stream_meta(query, &headers) {
        Ok(meta) => state
            .services
            .files
            .store(&actor, meta, content_length(&headers), &mut body)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    if stored.is_err() {
        drain(&mut body).await;
    }
    created(stored?)
}

/// # `GET /v1/files/{id}/info`
pub(crate) async fn info(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<FileId>,
) -> ApiResult<FileInfo> {
    ok(state.services.files.info(&actor, id)?)
}

/// # `POST /v1/files/{id}/share`
pub(crate) async fn share(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<FileId>,
    Json(body): Json<ShareFileRequest>,
) -> ApiResult<FileInfo> {
    ok(state.services.files.share(&actor, id, body.conversation_id).await?)
}

/// # `GET /v1/files/{id}`
/// Streams the blob with its `Content-Type`, `ETag` (its SHA-256) and byte-range support
/// (`Range: bytes=a-b | a- | -n` answers 206, an unsatisfiable range 416).
pub(crate) async fn download(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<FileId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Blob { info, mut file } = state.services.files.open(&actor, id).await?;
    let etag = format!("\"{}\"", info.sha256);
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|err| ApiError::from(node::Error::Internal(err.to_string())))?;
    let header = |name| headers.get(name).and_then(|value: &HeaderValue| value.to_str().ok());

    if header(IF_NONE_MATCH).is_some_and(|tags| etag_matches(tags, &etag)) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(ETAG, etag_value);
        return Ok(response);
    }
    // A range is honoured only for the version the client names in `If-Range`, when it names one.
    let range_header = match header(IF_RANGE) {
        Some(tag) if tag.trim() != etag => None,
        _ => header(RANGE),
    };
    let (status, start, len) = match range::parse(range_header, info.size) {
        Ranged::Full => (StatusCode::OK, 0, info.size),
        Ranged::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Ranged::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_NOT_SATISFIABLE",
                format!("the range lies outside the file's {} bytes", info.size),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", info.size)) {
                response.headers_mut().insert(CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    if start > 0 {
        file.seek(io::SeekFrom::Start(start))
            .await
            .map_err(|err| ApiError::from(node::Error::Internal(format!("seeking in a stored file: {err}"))))?;
    }
    let stream = ReaderStream::with_capacity(file.take(len), DOWNLOAD_BUFFER);
    let mut response = Body::from_stream(stream).into_response();
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&info.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    out.insert(CONTENT_LENGTH, HeaderValue::from(len));
    out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(ETAG, etag_value);
    out.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    // User-supplied bytes must never be rendered as a page of this origin.
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        ascii_file_name(&info.file_name)
    )) {
        out.insert(CONTENT_DISPOSITION, disposition);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let content_range = format!("bytes {start}-{}/{}", start + len - 1, info.size);
        if let Ok(value) = HeaderValue::from_str(&content_range) {
            out.insert(CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// Whether an `If-None-Match` list names `etag` (or is `*`).
fn etag_matches(tags: &str, etag: &str) -> bool {
    tags.split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// A file name safe inside a quoted `Content-Disposition` parameter: anything but ASCII letters, digits
/// and `.-_ ` becomes `_` (the exact name is in the file's metadata).
fn ascii_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_lists_and_wildcards() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }

    #[test]
    fn file_names_are_made_header_safe() {
        assert_eq!(ascii_file_name("photo 1.jpg"), "photo 1.jpg");
        assert_eq!(ascii_file_name("a\"b\r\nc/é.txt"), "a_b__c__.txt");
    }
}
