//! Parley's HTTP and WebSocket API: routing, authentication, input limits and the one place where node
//! errors become status codes and the `{ success, data | error, code }` envelope.
#![deny(unsafe_code)]

mod error;
mod extract;
mod reply;
mod routes;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use node::Services;
use tokio::net::TcpListener;

pub use error::ApiError;

/// Largest request body accepted (a message with many recipient devices is the largest legitimate one).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What every handler receives.
#[derive(Clone)]
pub struct AppState {
    /// The node's services.
    pub services: Arc<Services>,
}

/// The whole API as a router, ready for `axum::serve` or `oneshot` tests.
pub fn app(services: Arc<Services>) -> Router {
    routes::router()
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(AppState { services })
}

/// Serves the API on an already-bound listener until `shutdown` resolves, then drains connections.
pub async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(services).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
