//! Encrypted file blobs: resumable uploads and stored files. Bodies are raw bytes streamed straight to
//! disk by the node, so the upload routes lift the 2 MiB body limit (see `router`) and the node enforces
//! the real ones (a chunk, `max_file_bytes`) as bytes arrive. Downloads stream from disk with HTTP
//! range support.

mod range;

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
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
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use self::range::Ranged;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::Binary;
use crate::{ApiError, AppState};

/// Bytes per read when streaming a download.
const DOWNLOAD_BUFFER: usize = 64 * 1024;
/// How much of a refused body is still read (and discarded) so the client sees the answer rather than a
/// reset connection; past this (or `DRAIN_TIME`) the connection is simply closed.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_upload, list_uploads))
        .routes(routes!(completed_uploads))
        .routes(routes!(in_progress_uploads))
        .routes(routes!(stale_uploads, delete_stale_uploads))
        .routes(routes!(upload, cancel_upload))
        .routes(routes!(progress))
        .routes(routes!(complete))
        .routes(routes!(fail))
        // File bodies are streamed to disk; the node enforces their limits as they arrive.
        .routes(routes!(put_chunk).layer(DefaultBodyLimit::disable()))
        .routes(routes!(upload_file).layer(DefaultBodyLimit::disable()))
        .routes(routes!(download))
        .routes(routes!(info))
        .routes(routes!(share))
}

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
#[utoipa::path(
    post,
    path = "/v1/uploads",
    tag = "uploads",
    summary = "Open a resumable upload",
    request_body = CreateUploadRequest,
    responses(
        (status = 201, description = "The session; send its bytes to `upload_url`", body = Upload),
        (status = 403, description = "`uploader_id` is not the caller"),
        (status = 413, description = "The declared size is over the node's file limit"),
    ),
)]
pub(crate) async fn create_upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateUploadRequest>,
) -> ApiResult<Upload> {
    created(state.services.files.create_upload(&actor, body).await?)
}

/// # `GET /v1/uploads?uploader_id=&page=&limit=`
#[utoipa::path(
    get,
    path = "/v1/uploads",
    tag = "uploads",
    summary = "The caller's uploads, newest first",
    params(UploadListQuery),
    responses(
        (status = 200, description = "A page", body = UploadList),
        (status = 403, description = "`uploader_id` is not the caller"),
    ),
)]
pub(crate) async fn list_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UploadListQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.uploads(&actor, query)?)
}

/// # `GET /v1/uploads/completed?page=&limit=`
#[utoipa::path(
    get,
    path = "/v1/uploads/completed",
    tag = "uploads",
    summary = "The caller's completed uploads",
    params(UploadListQuery),
    responses(
        (status = 200, description = "A page", body = UploadList),
        (status = 403, description = "`uploader_id` is not the caller"),
    ),
)]
pub(crate) async fn completed_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UploadListQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.completed_uploads(&actor, query)?)
}

/// # `GET /v1/uploads/in-progress?page=&limit=`
#[utoipa::path(
    get,
    path = "/v1/uploads/in-progress",
    tag = "uploads",
    summary = "The caller's unfinished uploads",
    params(UploadListQuery),
    responses(
        (status = 200, description = "A page", body = UploadList),
        (status = 403, description = "`uploader_id` is not the caller"),
    ),
)]
pub(crate) async fn in_progress_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<UploadListQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.in_progress_uploads(&actor, query)?)
}

/// # `GET /v1/uploads/stale?older_than_sec=`
#[utoipa::path(
    get,
    path = "/v1/uploads/stale",
    tag = "uploads",
    summary = "The caller's stale uploads",
    params(StaleUploadsQuery),
    responses(
        (status = 200, description = "Unfinished uploads untouched for the given time", body = UploadList),
    ),
)]
pub(crate) async fn stale_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<StaleUploadsQuery>,
) -> ApiResult<UploadList> {
    ok(state.services.files.stale_uploads(&actor, query)?)
}

/// # `DELETE /v1/uploads/stale?older_than_sec=`
#[utoipa::path(
    delete,
    path = "/v1/uploads/stale",
    tag = "uploads",
    summary = "Cancel the caller's stale uploads",
    params(StaleUploadsQuery),
    responses(
        (status = 200, description = "What was cancelled", body = StaleUploadsDeleted),
    ),
)]
pub(crate) async fn delete_stale_uploads(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<StaleUploadsQuery>,
) -> ApiResult<StaleUploadsDeleted> {
    ok(state.services.files.delete_stale_uploads(&actor, query).await?)
}

/// # `GET /v1/uploads/{id}`
#[utoipa::path(
    get,
    path = "/v1/uploads/{id}",
    tag = "uploads",
    summary = "An upload session",
    params(("id" = UploadId, Path, description = "The upload session")),
    responses(
        (status = 200, description = "The session", body = Upload),
        (status = 404, description = "No such upload of the caller"),
    ),
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.upload(&actor, id)?)
}

/// # `DELETE /v1/uploads/{id}`
#[utoipa::path(
    delete,
    path = "/v1/uploads/{id}",
    tag = "uploads",
    summary = "Cancel an unfinished upload",
    params(("id" = UploadId, Path, description = "The upload session")),
    responses(
        (status = 200, description = "The cancelled session", body = Upload),
        (status = 404, description = "No such upload of the caller"),
        (status = 409, description = "The upload is finished (a completed one keeps its file), or another request is working on it"),
    ),
)]
pub(crate) async fn cancel_upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.cancel_upload(&actor, id).await?)
}

/// # `PUT /v1/uploads/{id}/data?offset=`
///
/// The body is the raw chunk (`application/octet-stream`), at most 8 MiB, starting at `offset` (the
/// bytes received so far, else 409).
#[utoipa::path(
    put,
    path = "/v1/uploads/{id}/data",
    tag = "uploads",
    summary = "Send the next chunk of an upload",
    params(
        ("id" = UploadId, Path, description = "The upload session"),
        UploadChunkQuery,
    ),
    request_body(content = Binary, content_type = "application/octet-stream", description = "The chunk: raw bytes, at most 8 MiB"),
    responses(
        (status = 200, description = "The session with its new byte count", body = Upload),
        (status = 404, description = "No such upload of the caller"),
        (status = 409, description = "`offset` is not the bytes received so far, the upload is finished, or another request is working on it"),
        (status = 413, description = "The chunk is over 8 MiB or goes past the declared size"),
    ),
)]
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
///
/// The node counts received bytes itself: a report that disagrees with its count is 409.
#[utoipa::path(
    post,
    path = "/v1/uploads/{id}/progress",
    tag = "uploads",
    summary = "Confirm the node's byte count of an upload",
    params(("id" = UploadId, Path, description = "The upload session")),
    request_body = UploadProgressRequest,
    responses(
        (status = 200, description = "The session", body = Upload),
        (status = 404, description = "No such upload of the caller"),
        (status = 409, description = "The count differs (the message names the right one), or the upload is finished or busy"),
    ),
)]
pub(crate) async fn progress(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
    Json(body): Json<UploadProgressRequest>,
) -> ApiResult<Upload> {
    ok(state.services.files.confirm_progress(&actor, id, body).await?)
}

/// # `POST /v1/uploads/{id}/complete`
#[utoipa::path(
    post,
    path = "/v1/uploads/{id}/complete",
    tag = "uploads",
    summary = "Finish an upload: check its size and hash",
    params(("id" = UploadId, Path, description = "The upload session")),
    responses(
        (status = 200, description = "The completed session with its `file_id`", body = Upload),
        (status = 404, description = "No such upload of the caller"),
        (status = 409, description = "The upload is finished, or another request is working on it"),
        (status = 422, description = "Size or SHA-256 differ from the declared ones; the upload is now `FAILED`"),
    ),
)]
pub(crate) async fn complete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UploadId>,
) -> ApiResult<Upload> {
    ok(state.services.files.complete_upload(&actor, id).await?)
}

/// # `POST /v1/uploads/{id}/fail`
#[utoipa::path(
    post,
    path = "/v1/uploads/{id}/fail",
    tag = "uploads",
    summary = "Give an upload up as failed",
    params(("id" = UploadId, Path, description = "The upload session")),
    responses(
        (status = 200, description = "The failed session", body = Upload),
        (status = 404, description = "No such upload of the caller"),
        (status = 409, description = "The upload is finished, or another request is working on it"),
    ),
)]
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
///
/// The body is the whole (encrypted) file, streamed to disk; more than the node's `max_file_bytes` is
/// 413 and nothing is kept.
#[utoipa::path(
    post,
    path = "/v1/files",
    tag = "files",
    summary = "Upload a whole file in one request",
    params(
        StreamUploadQuery,
        ("X-File-Name" = Option<String>, Header, nullable = false, description = "The file name, when not in the query"),
        ("X-File-Content-Type" = Option<String>, Header, nullable = false, description = "The media type, when not in the query (else the body's `Content-Type`)"),
        ("X-Conversation-Id" = Option<String>, Header, nullable = false, description = "The conversation to share it in, when not in the query"),
        ("X-File-Sha256" = Option<String>, Header, nullable = false, description = "The expected hex SHA-256, when not in the query"),
    ),
    request_body(content = Binary, content_type = "application/octet-stream", description = "The (encrypted) file"),
    responses(
        (status = 201, description = "The stored file", body = FileInfo),
        (status = 403, description = "The caller is not a participant of `conversation_id`"),
        (status = 404, description = "No such conversation"),
        (status = 413, description = "The file is over the node's limit (nothing is kept)"),
        (status = 422, description = "Unacceptable metadata, or the SHA-256 differs (nothing is kept)"),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/v1/files/{id}/info",
    tag = "files",
    summary = "A file's metadata",
    params(("id" = FileId, Path, description = "The file")),
    responses(
        (status = 200, description = "The metadata", body = FileInfo),
        (status = 404, description = "No such file, or the caller may not read it"),
    ),
)]
pub(crate) async fn info(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<FileId>,
) -> ApiResult<FileInfo> {
    ok(state.services.files.info(&actor, id)?)
}

/// # `POST /v1/files/{id}/share`
#[utoipa::path(
    post,
    path = "/v1/files/{id}/share",
    tag = "files",
    summary = "Share a file in another conversation",
    params(("id" = FileId, Path, description = "The file")),
    request_body = ShareFileRequest,
    responses(
        (status = 200, description = "The file", body = FileInfo),
        (status = 403, description = "Only the uploader shares, into a conversation they take part in"),
        (status = 404, description = "No such file or conversation"),
    ),
)]
pub(crate) async fn share(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<FileId>,
    Json(body): Json<ShareFileRequest>,
) -> ApiResult<FileInfo> {
    ok(state.services.files.share(&actor, id, body.conversation_id).await?)
}

/// # `GET /v1/files/{id}`
///
/// Streams the blob with its `Content-Type`, `ETag` (its SHA-256) and byte-range support
/// (`Range: bytes=a-b | a- | -n` answers 206, an unsatisfiable range 416).
#[utoipa::path(
    get,
    path = "/v1/files/{id}",
    tag = "files",
    summary = "Download a file's bytes",
    params(
        ("id" = FileId, Path, description = "The file"),
        ("Range" = Option<String>, Header, nullable = false, description = "One range: `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("If-Range" = Option<String>, Header, nullable = false, description = "Honour `Range` only while the ETag is this one"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "Answer 304 when the ETag is among these"),
    ),
    responses(
        (status = 200, description = "The whole file, with its stored media type", content_type = "application/octet-stream", body = Binary, headers(("ETag" = String, description = "The quoted SHA-256"), ("Accept-Ranges" = String, description = "`bytes`"), ("Content-Disposition" = String, description = "`attachment` with the file name"))),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Binary, headers(("Content-Range" = String, description = "`bytes a-b/size`"), ("ETag" = String, description = "The quoted SHA-256"))),
        (status = 304, description = "Not modified (`If-None-Match`)", headers(("ETag" = String, description = "The quoted SHA-256"))),
        (status = 400, description = "A malformed id"),
        (status = 404, description = "No such file, or the caller may not read it"),
        (status = 416, description = "The range lies outside the file", headers(("Content-Range" = String, description = "`bytes */size`"))),
    ),
)]
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
