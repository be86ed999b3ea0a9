//! `/api/v1/files/*`: files encrypted by the client before upload. The upload is the whole file as
//! the request body (its name in `?file_name=` or `X-File-Name`), as `POST /v1/files` takes it; the
//! download streams the stored bytes with range support, as `GET /v1/files/{id}` does.

use axum::Json as JsonAnswer;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protocol::FileId;
use protocol::api::{FileInfo, StreamUploadQuery};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Path, Query};
use crate::routes::files::{downloads, uploads};
use crate::schemas::Binary;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The body is streamed to disk; the node enforces the file limit as bytes arrive.
        .routes(routes!(upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(download))
        .routes(routes!(info))
}

/// # `POST /api/v1/files/upload`
#[utoipa::path(
    post,
    path = "/api/v1/files/upload",
    tag = TAG,
    summary = "Upload an encrypted file (secure-messenger)",
    params(StreamUploadQuery),
    request_body(content = Binary, content_type = "application/octet-stream", description = "The encrypted bytes"),
    responses(
        (status = 201, description = "The file's metadata, with its UUID", body = FileInfo),
        (status = 400, description = "Invalid metadata", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Not a participant of `conversation_id`", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 413, description = "Over the node's file limit (nothing is kept)", body = ErrorBody),
        (status = 415, description = "A multipart form rather than the file's bytes", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    query: Extracted<Query<StreamUploadQuery>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, JsonAnswer<FileInfo>)> {
    let (Auth(actor), Query(query)) = (auth?, query?);
    let info = uploads::store_body(&state, &actor, query, &headers, body).await?;
    Ok((StatusCode::CREATED, JsonAnswer(info)))
}

/// # `GET /api/v1/files/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/files/{id}",
    tag = TAG,
    summary = "Download an encrypted file (secure-messenger)",
    params(("id" = FileId, Path, description = "The file")),
    responses(
        (status = 200, description = "The bytes (ranges as at `GET /v1/files/{id}`)", content_type = "application/octet-stream", body = Binary),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Binary),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such file, or the caller may not read it", body = ErrorBody),
        (status = 416, description = "The range lies outside the file"),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn download(
    state: State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<FileId>>,
    headers: HeaderMap,
) -> Result<Response> {
    let (auth, id) = (auth?, id?);
    Ok(downloads::download(state, auth, id, crate::extract::Query(Default::default()), headers).await?)
}

/// # `GET /api/v1/files/{id}/info`
#[utoipa::path(
    get,
    path = "/api/v1/files/{id}/info",
    tag = TAG,
    summary = "An encrypted file's metadata (secure-messenger)",
    params(("id" = FileId, Path, description = "The file")),
    responses(
        (status = 200, description = "The metadata", body = FileInfo),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such file, or the caller may not read it", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn info(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<FileId>>,
) -> Result<JsonAnswer<FileInfo>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    Ok(JsonAnswer(state.services.files.info(&actor, id)?))
}
