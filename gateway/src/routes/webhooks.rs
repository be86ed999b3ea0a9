use axum::extract::State;
use protocol::WebhookId;
use protocol::api::{CreateWebhookRequest, Webhook, WebhookDeliveryList, WebhookList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::Null;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(delete))
        .routes(routes!(deliveries))
}

/// # `POST /v1/webhooks`
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    summary = "Register a hook",
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The hook (without its secret)", body = Webhook),
        (status = 409, description = "The caller has too many hooks"),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateWebhookRequest>,
) -> ApiResult<Webhook> {
    created(state.services.webhooks.create(&actor, body).await?)
}

/// # `GET /v1/webhooks`
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "webhooks",
    summary = "The caller's hooks",
    responses(
        (status = 200, description = "The hooks", body = WebhookList),
    ),
)]
pub(crate) async fn list(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<WebhookList> {
    ok(state.services.webhooks.list(&actor)?)
}

/// # `DELETE /v1/webhooks/{id}`
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Remove a hook",
    params(("id" = WebhookId, Path, description = "The hook")),
    responses(
        (status = 200, description = "Removed", body = Null),
        (status = 404, description = "No such hook of the caller"),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<WebhookId>,
) -> ApiResult<()> {
    ok(state.services.webhooks.delete(&actor, id).await?)
}

/// # `GET /v1/webhooks/{id}/deliveries`
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "A hook's recent deliveries",
    params(("id" = WebhookId, Path, description = "The hook")),
    responses(
        (status = 200, description = "The last 100, newest first", body = WebhookDeliveryList),
        (status = 404, description = "No such hook of the caller"),
    ),
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<WebhookId>,
) -> ApiResult<WebhookDeliveryList> {
    ok(state.services.webhooks.deliveries(&actor, id)?)
}
