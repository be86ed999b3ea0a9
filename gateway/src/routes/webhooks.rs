use axum::extract::State;
use protocol::WebhookId;
use protocol::api::{CreateWebhookRequest, Webhook, WebhookDeliveryList, WebhookList};

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/webhooks`
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateWebhookRequest>,
) -> ApiResult<Webhook> {
    created(state.services.webhooks.create(&actor, body).await?)
}

/// # `GET /v1/webhooks`
pub(crate) async fn list(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<WebhookList> {
    ok(state.services.webhooks.list(&actor)?)
}

/// # `DELETE /v1/webhooks/{id}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<WebhookId>,
) -> ApiResult<()> {
    ok(state.services.webhooks.delete(&actor, id).await?)
}

/// # `GET /v1/webhooks/{id}/deliveries`
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<WebhookId>,
) -> ApiResult<WebhookDeliveryList> {
    ok(state.services.webhooks.deliveries(&actor, id)?)
}
