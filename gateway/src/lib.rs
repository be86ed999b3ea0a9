//! Parley's HTTP and WebSocket API: routing, authentication, input limits and the one place where node
//! errors become status codes and the `{ success, data | error, code }` envelope; and, on the same node
//! services, the other API documents' dialects at their own paths and shapes (`dialects`).
#![deny(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod client_address;
mod dialects;
mod error;
mod extract;
mod limits;
mod metrics;
mod openapi;
mod reply;
mod request_id;
mod routes;
mod schemas;
mod server;
mod ws;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::{Router, middleware};
use node::Services;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

pub(crate) use error::ApiError;
pub use metrics::serve_metrics;
pub use server::{Tls, serve, serve_over};

/// Largest request body accepted (a message with many recipient devices is the largest legitimate one).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What every handler receives.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The node's services.
    pub(crate) services: Arc<Services>,
    limiter: Arc<limits::Limiter>,
    /// Requests, latencies and refusals, in the node's registry.
    metrics: metrics::HttpMetrics,
    /// Built once with the routes it describes, and served as it is.
    document: Arc<utoipa::openapi::OpenApi>,
}

/// The whole API as a router: what `serve` answers with, and what `oneshot` tests call.
pub fn app(services: Arc<Services>) -> Router {
    let (routes, mut document) = routes::router();
    openapi::configure(&mut document, &services.config);
    let state = AppState {
        metrics: metrics::HttpMetrics::of(&services),
        services,
        limiter: Arc::default(),
        document: Arc::new(document),
    };
    let cors = cors(&state.services.config.cors_origins);
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), limits::limit))
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics::record))
        .layer(cors)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn(request_id::tag))
        .with_state(state)
}

/// CORS for browser clients: none by default, any origin with `*`, or the listed origins.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods(Any)
        .allow_headers(Any)
        .expose_headers(Any)
        .max_age(std::time::Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        layer.allow_origin(AllowOrigin::list(
            origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
    }
}
