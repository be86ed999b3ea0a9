//! The API describing itself: the OpenAPI document and a page that browses it, both public.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::response::{Html, IntoResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The page and everything it runs is inline; it only ever talks to this node.
const PAGE_POLICY: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi)).routes(routes!(page))
}

/// # `GET /v1/openapi.json`
///
/// Generated from the handlers' annotations and the `protocol` types, so it changes with the code.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "docs",
    summary = "This API as an OpenAPI 3.1 document",
    security(()),
    responses((
        status = 200,
        description = "The document itself (not wrapped in the envelope)",
        content_type = "application/json",
        body = Object,
    )),
)]
pub(crate) async fn openapi(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(state.document.as_ref().clone())
}

/// # `GET /docs`
///
/// A self-contained page (no external scripts or styles, so it works offline) that fetches
/// `/v1/openapi.json` and lists the operations by tag with their parameters, bodies and answers.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    summary = "Browse this API",
    security(()),
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)),
)]
pub(crate) async fn page() -> impl IntoResponse {
    (
        [(CONTENT_SECURITY_POLICY, PAGE_POLICY)],
        Html(include_str!("../openapi/docs.html")),
    )
}
