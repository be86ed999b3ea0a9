//! `/media`: a multipart upload of a (client-encrypted) file for a chat, and its download. The `file`
//! part is streamed to disk as it arrives, never held in memory; the chat may be named before or after
//! it (a file named first is shared with the chat once stored, and removed again if that fails).
//! `filename` and `mimetype` parts count when they come before `file`; otherwise the file part's own
//! name and type are used.

use axum::Json as JsonAnswer;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::TryStreamExt;
use node::Actor;
use protocol::api::{FileInfo, StreamUploadQuery, Timestamp};
use protocol::{ConversationId, FileId};
use serde::Serialize;
use tokio_util::io::StreamReader;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::extract::{Auth, Path};
use crate::routes::files::downloads;
use crate::schemas::Binary;
use crate::{ApiError, AppState};

/// Longest `chat_id`, `filename` or `mimetype` part read.
const MAX_TEXT_PART: usize = 1024;
/// Most parts a form may have: the body has no size limit (the file's is the node's), so parts the
/// upload does not use are bounded in number, and each of them in size by `MAX_TEXT_PART`.
const MAX_PARTS: usize = 16;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The file is streamed to disk; the node enforces its limit (50 MiB by default) as bytes arrive.
        .routes(routes!(upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(download))
}

/// A stored media file.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumMedia)]
pub(super) struct Media {
    id: FileId,
    chat_id: ConversationId,
    filename: String,
    mimetype: String,
    size: u64,
    sha256: String,
    created_at: Timestamp,
}

impl Media {
    /// The file as shared with `chat`.
    fn new(info: FileInfo, chat: ConversationId) -> Self {
        Self {
            id: info.id,
            chat_id: chat,
            filename: info.file_name,
            mimetype: info.content_type,
            size: info.size,
            sha256: info.sha256,
            created_at: info.created_at,
        }
    }
}

/// The parts of the form, as the OpenAPI document describes them; the handler reads the parts one by
/// one as they stream in, so this type is never built.
#[derive(Debug, ToSchema)]
#[schema(as = ChatsAxumMediaForm)]
#[allow(dead_code)]
struct MediaForm {
    /// The (encrypted) bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    chat_id: ConversationId,
    filename: Option<String>,
    mimetype: Option<String>,
}

/// A short text part, read chunk by chunk so that an oversized one is refused before it is held.
async fn text(mut field: Field<'_>, name: &str) -> std::result::Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|err| ApiError::bad_request(format!("{name}: {}", err.body_text())))?
    {
        if bytes.len() + chunk.len() > MAX_TEXT_PART {
            return Err(ApiError::validation(format!("{name}: at most {MAX_TEXT_PART} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    let value = String::from_utf8(bytes).map_err(|_| ApiError::validation(format!("{name}: not UTF-8")))?;
    Ok(value.trim().to_owned())
}

/// # `POST /media`
#[utoipa::path(
    post,
    path = "/media",
    tag = TAG,
    summary = "Upload a file for a chat, multipart (chats-axum)",
    request_body(content = MediaForm, content_type = "multipart/form-data", description = "`file`, `chat_id`, and optionally `filename` and `mimetype` before `file`"),
    responses(
        (status = 201, description = "The stored file, shared with the chat", body = Media),
        (status = 400, description = "Not a multipart form, no `file` or no `chat_id`, or a malformed part", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member of the chat", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 413, description = "Over the size limit (50 MB by default); nothing is kept", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    form: std::result::Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, JsonAnswer<Media>)> {
    let Auth(actor) = auth?;
    let mut form = form.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let mut chat: Option<ConversationId> = None;
    let mut meta = StreamUploadQuery {
        file_name: None,
        content_type: None,
        conversation_id: None,
        sha256: None,
    };
    let mut stored: Option<FileInfo> = None;
    let mut parts = 0;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|err| ApiError::bad_request(err.body_text()))?
    {
        parts += 1;
        if parts > MAX_PARTS {
            if let Some(info) = stored.take() {
                state.services.files.delete(&actor, info.id).await?;
            }
            return Err(ApiError::validation(format!("form: at most {MAX_PARTS} parts")).into());
        }
        match field.name().unwrap_or_default() {
            "chat_id" => {
                let value = text(field, "chat_id").await?;
                chat = Some(
                    value
                        .parse()
                        .map_err(|_| ApiError::validation("chat_id: not a chat id"))?,
                );
            }
            "filename" => meta.file_name = Some(text(field, "filename").await?),
            "mimetype" => meta.content_type = Some(text(field, "mimetype").await?),
            "file" if stored.is_none() => stored = Some(store(&state, &actor, &mut meta, chat, field).await?),
            "file" => {
                if let Some(info) = stored.take() {
                    state.services.files.delete(&actor, info.id).await?;
                }
                return Err(ApiError::validation("file: only one file per upload").into());
            }
            other => {
                let name = other.to_owned();
                text(field, &name).await?;
            }
        }
    }
    let info = stored.ok_or_else(|| ApiError::validation("file: required"))?;
    match (chat, info.conversation_id) {
        (Some(chat), Some(_)) => Ok((StatusCode::CREATED, JsonAnswer(Media::new(info, chat)))),
        (Some(chat), None) => match state.services.files.share(&actor, info.id, chat).await {
            Ok(shared) => Ok((StatusCode::CREATED, JsonAnswer(Media::new(shared, chat)))),
            Err(err) => {
                state.services.files.delete(&actor, info.id).await?;
                Err(err.into())
            }
        },
        (None, _) => {
            state.services.files.delete(&actor, info.id).await?;
            Err(ApiError::validation("chat_id: required").into())
        }
    }
}

/// Streams the `file` part to disk, shared with `chat` when it was named before.
async fn store(
    state: &AppState,
    actor: &Actor,
    meta: &mut StreamUploadQuery,
    chat: Option<ConversationId>,
    field: Field<'_>,
) -> std::result::Result<FileInfo, ApiError> {
    let request = StreamUploadQuery {
        file_name: meta
            .file_name
            .take()
            .or_else(|| field.file_name().map(str::to_owned))
            .or_else(|| Some("file".to_owned())),
        content_type: meta
            .content_type
            .take()
            .or_else(|| field.content_type().map(str::to_owned)),
        conversation_id: chat,
        sha256: None,
    };
    let mut reader = StreamReader::new(field.map_err(std::io::Error::other));
    Ok(state.services.files.store(actor, request, None, &mut reader).await?)
}

/// # `GET /media/{id}`
#[utoipa::path(
    get,
    path = "/media/{id}",
    tag = TAG,
    summary = "Stream a file's (encrypted) bytes (chats-axum)",
    params(("id" = FileId, Path, description = "The file")),
    responses(
        (status = 200, description = "The bytes (byte ranges as at `GET /v1/files/{id}`)", content_type = "application/octet-stream", body = Binary),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Binary),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 404, description = "No such file, or the caller may not read it", body = ErrorBody),
        (status = 416, description = "The range lies outside the file"),
        (status = 429, description = "Throttled", body = ErrorBody),
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
