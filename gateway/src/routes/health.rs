use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::reply::{ApiResult, ok};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ping)).routes(routes!(health))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Pong {
    /// Always `pong`.
    message: &'static str,
}

/// # `GET /ping`
#[utoipa::path(
    get,
    path = "/ping",
    tag = "health",
    summary = "Whether the node answers",
    security(()),
    responses((status = 200, description = "It does", body = Pong)),
)]
pub(crate) async fn ping() -> ApiResult<Pong> {
    ok(Pong { message: "pong" })
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `healthy`.
    status: &'static str,
    /// The node's Ed25519 public key, standard base64.
    node_public_key: String,
    /// Live WebSocket connections.
    connections: usize,
}

/// # `GET /health`
///
/// Healthy only when the store answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    summary = "Whether the node is healthy",
    security(()),
    responses(
        (status = 200, description = "The store answers", body = Health),
        (status = 503, description = "The store does not answer (`UNHEALTHY`)"),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> ApiResult<Health> {
    let services = &state.services;
    if let Err(err) = services.health() {
        tracing::error!(error = %err, "health check failed");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNHEALTHY",
            "store unavailable",
        ));
    }
    ok(Health {
        status: "healthy",
        node_public_key: protocol::Base64Bytes(services.identity.public_key().to_vec()).encode(),
        connections: services.hub.connection_count(),
    })
}
