//! `POST /api/webhooks`: the node's webhooks, configured as the document writes it. Deliveries are the
//! node's own (`docs/DIALECTS.md` says how they differ from the document's payload).

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::api::{CreateWebhookRequest, Webhook};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Json};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

/// # `POST /api/webhooks`
#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = TAG,
    summary = "Register a webhook (messaging-app)",
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The hook (its secret is never shown again)", body = Webhook),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 409, description = "The caller has as many hooks as a user may have", body = ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = ErrorBody),
        (status = 422, description = "An invalid URL, event or secret (16 to 256 characters)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<CreateWebhookRequest>>,
) -> Result<(StatusCode, JsonAnswer<Webhook>)> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let hook = state.services.webhooks.create(&actor, body).await?;
    Ok((StatusCode::CREATED, JsonAnswer(hook)))
}
