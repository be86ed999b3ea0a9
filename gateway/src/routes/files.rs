//! Encrypted file blobs: resumable uploads and one-request uploads (`uploads`), downloads with HTTP
//! range support (`downloads`), and a stored file's metadata and sharing here. Bodies are raw bytes
//! streamed straight to disk by the node, so the upload routes lift the 2 MiB body limit and the node
//! enforces the real ones (a chunk, `max_file_bytes`) as bytes arrive.

pub(crate) mod downloads;
mod range;
pub(crate) mod uploads;

use axum::extract::State;
use protocol::FileId;
use protocol::api::{FileInfo, ShareFileRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, ok};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(uploads::router())
        .merge(downloads::router())
        .routes(routes!(info))
        .routes(routes!(share))
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
