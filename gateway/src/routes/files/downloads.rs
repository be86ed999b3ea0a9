//! Streaming a stored file back from disk, whole or one byte range of it, with caching by its ETag.

use std::io;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, IF_RANGE, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use node::Blob;
use protocol::{FileId, UserId};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::range::{self, Ranged};
use crate::extract::{Auth, Path, Query};
use crate::schemas::{Binary, ErrorEnvelope};
use crate::{ApiError, AppState};

/// Bytes per read when streaming a download.
const DOWNLOAD_BUFFER: usize = 64 * 1024;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}

/// Where a file is kept, when not on this node.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DownloadQuery {
    /// The file's uploader, when that is a user of another node (the sender of the message that
    /// shared it): this node fetches the file from the uploader's node on the caller's behalf, once,
    /// and keeps the copy.
    uploader_id: Option<UserId>,
}

/// # `GET /v1/files/{id}`
///
/// Streams the blob with its `Content-Type`, `ETag` (its SHA-256) and byte-range support
/// (`Range: bytes=a-b | a- | -n` answers 206, an unsatisfiable range 416). A file kept on another
/// node is named with `uploader_id`.
#[utoipa::path(
    get,
    path = "/v1/files/{id}",
    tag = "files",
    summary = "Download a file's bytes",
    params(
        ("id" = FileId, Path, description = "The file"),
        DownloadQuery,
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
        (status = 413, description = "The file another node keeps is larger than this node takes", body = ErrorEnvelope),
        (status = 416, description = "The range lies outside the file", headers(("Content-Range" = String, description = "`bytes */size`"))),
        (status = 503, description = "The uploader's node, which keeps the file, could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<FileId>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Blob { info, mut file } = state.services.files.open(&actor, id, query.uploader_id).await?;
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
