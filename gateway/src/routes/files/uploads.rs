//! Getting a file's bytes onto the node: resumable upload sessions, chunk by chunk, or the whole file
//! in one request.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use futures_util::TryStreamExt;
use protocol::UploadId;
use protocol::api::{
    CreateUploadRequest, FileInfo, StaleUploadsDeleted, StaleUploadsQuery, StreamUploadQuery, Upload, UploadChunkQuery,
    UploadList, UploadListQuery, UploadProgressRequest,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::Binary;
use crate::{ApiError, AppState};

/// How much of a refused body is still read (and discarded) so the client sees the answer rather than a
/// reset connection; past this (or `DRAIN_TIME`) the connection is simply closed.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

pub(super) fn router() -> OpenApiRouter<AppState> {
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
        (status = 404, description = "No such conversation"),
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
    request_body(content = Option<Binary>, content_type = "application/octet-stream", description = "The chunk: raw bytes, at most 8 MiB (none at all is an empty chunk)"),
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
    if header(CONTENT_TYPE.as_str()).is_some_and(|value| is_multipart(&value)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "the body is the file's own bytes (application/octet-stream), not multipart/form-data; \
             name the file with ?file_name= or X-File-Name",
        ));
    }
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

/// A form's framing would be stored as part of the file, so a form is refused rather than kept.
fn is_multipart(content_type: &str) -> bool {
    content_type
        .trim_start()
        .get(..10)
        .is_some_and(|kind| kind.eq_ignore_ascii_case("multipart/"))
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
        (status = 415, description = "The body is a `multipart/*` form rather than the file's bytes"),
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
    created(store_body(&state, &actor, query, &headers, body).await?)
}

/// Streams a request body to disk as a file, its metadata from `query` and the headers; a refused body
/// is drained so the client reads the answer. Also the body of the dialects' one-request uploads.
pub(crate) async fn store_body(
    state: &AppState,
    actor: &node::Actor,
    query: StreamUploadQuery,
    headers: &HeaderMap,
    body: Body,
) -> Result<FileInfo, ApiError> {
    let mut body = reader(body);
    let stored = match stream_meta(query, headers) {
        Ok(meta) => state
            .services
            .files
            .store(actor, meta, content_length(headers), &mut body)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    if stored.is_err() {
        drain(&mut body).await;
    }
    stored
}
