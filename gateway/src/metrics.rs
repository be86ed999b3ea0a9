//! HTTP metrics in the node's registry: requests by route and status with their latency, and
//! rate-limit refusals; and the operator's metrics listener that serves them all as `/metrics`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use node::Services;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::net::TcpListener;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LimitLabels {
    pub(crate) category: &'static str,
}

/// The gateway's metrics, kept in the node's registry.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub(crate) rate_limited: Family<LimitLabels, Counter>,
}

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl HttpMetrics {
    pub(crate) fn of(services: &Services) -> Self {
        services.metrics.shared(|registry| {
            let metrics = Self {
                requests: Family::default(),
                latency: Family::new_with_constructor(latency),
                rate_limited: Family::default(),
            };
            registry.register(
                "http_requests",
                "HTTP requests answered, by method, route and status",
                metrics.requests.clone(),
            );
            registry.register(
                "http_request_seconds",
                "Time to answer an HTTP request (to its response head), by method and route",
                metrics.latency.clone(),
            );
            registry.register(
                "rate_limited",
                "Requests refused for exceeding a rate limit, by budget",
                metrics.rate_limited.clone(),
            );
            metrics
        })
    }
}

/// The middleware, on every route: counts and times each request under its route's pattern
/// (`/v1/users/{id}`), so the labels stay as few as the routes. Paths that match no route (the 404
/// fallback) are not counted: their labels would be whatever a scanner sends.
pub(crate) async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Serves `GET /metrics` (the Prometheus text format) on its own listener until `shutdown`: apart
/// from the API, so it can stay on a private address while the API is public.
pub async fn serve_metrics(
    listener: TcpListener,
    services: Arc<Services>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new().route(
        "/metrics",
        get(|State(services): State<Arc<Services>>| async move {
            // Off the runtime: some gauges of stored state are read from the store (accounts, outbox
            // depths), which in a large store takes a while and must not hold up the node's requests.
            let Ok(text) = tokio::task::spawn_blocking(move || services.metrics_text()).await else {
                return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            (
                [(
                    CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                text,
            )
                .into_response()
        }),
    );
    axum::serve(listener, router.with_state(services))
        .with_graceful_shutdown(shutdown)
        .await
}
