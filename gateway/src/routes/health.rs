use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::reply::{ApiResult, ok};
use crate::{ApiError, AppState};

#[derive(Serialize)]
pub(crate) struct Pong {
    message: &'static str,
}

/// # `GET /ping`
pub(crate) async fn ping() -> ApiResult<Pong> {
    ok(Pong { message: "pong" })
}

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    node_public_key: String,
    connections: usize,
}

/// # `GET /health`
/// Healthy only when the store answers.
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
