//! The node's numbers for Prometheus (`/metrics` on the operator's metrics listener). Each node has
//! its own registry, so the many nodes of a simulation or a test process never mix their counts. The
//! services that do the work hold the handles they update; gauges of state (queue depths, open
//! sockets, live tasks) are read when scraped instead of kept up to date on every change.

use std::any::Any;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use crate::Services;

/// A peer node, by name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PeerLabel {
    pub(crate) peer: String,
}

/// A federation request: which way, what kind, how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FederationLabels {
    pub(crate) direction: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) outcome: &'static str,
}

/// What the federation layer counts: requests both ways, and DHT lookups.
#[derive(Clone, Debug, Default)]
pub(crate) struct FederationCounters {
    pub(crate) requests: Family<FederationLabels, Counter>,
    pub(crate) dht_lookups: Counter,
}

impl FederationCounters {
    pub(crate) fn request(&self, direction: &'static str, kind: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&FederationLabels {
                direction,
                kind,
                outcome,
            })
            .inc();
    }
}

pub(crate) type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latencies from a millisecond to about half a minute.
pub(crate) fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Delivery to another node can wait out its downtime: buckets up to about half a day.
pub(crate) fn delivery() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 12))
}

/// The node's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Metrics other crates keep here, one of each type (see `shared`).
    shared: Mutex<Vec<Box<dyn Any + Send + Sync>>>,
    pub(crate) commit_seconds: Histogram,
    pub(crate) messages_delivered: Counter,
    pub(crate) outbox_delivery_seconds: Histograms<PeerLabel>,
    pub(crate) federation: FederationCounters,
    messages_stored: Gauge,
    users: Gauge,
    websocket_connections: Gauge,
    outbox_depth: Family<PeerLabel, Gauge>,
    tokio_tasks: Gauge,
}

impl Metrics {
    /// The services keep their own counters and timings; they are registered here.
    pub(crate) fn new(
        commit_seconds: Histogram,
        messages_delivered: Counter,
        outbox_delivery_seconds: Histograms<PeerLabel>,
    ) -> Self {
        let metrics = Self {
            registry: Mutex::new(Registry::with_prefix("parley")),
            shared: Mutex::default(),
            commit_seconds,
            messages_delivered,
            outbox_delivery_seconds,
            federation: FederationCounters::default(),
            messages_stored: Gauge::default(),
            users: Gauge::default(),
            websocket_connections: Gauge::default(),
            outbox_depth: Family::default(),
            tokio_tasks: Gauge::default(),
        };
        metrics.register(
            "store_commit_seconds",
            "Time to make writes durable (the group commit's flush, fsync included), as callers wait it",
            metrics.commit_seconds.clone(),
        );
        metrics.register(
            "messages_delivered",
            "Message copies acknowledged by the recipient device",
            metrics.messages_delivered.clone(),
        );
        metrics.register(
            "outbox_delivery_seconds",
            "From queueing an event for another node to that node accepting it",
            metrics.outbox_delivery_seconds.clone(),
        );
        metrics.register(
            "federation_requests",
            "Requests between nodes, by direction (in, out), kind and outcome",
            metrics.federation.requests.clone(),
        );
        metrics.register(
            "dht_lookups",
            "Lookups of other nodes' names sent to the DHT",
            metrics.federation.dht_lookups.clone(),
        );
        metrics.register(
            "messages_stored",
            "Messages in the store",
            metrics.messages_stored.clone(),
        );
        metrics.register("users", "Accounts on this node", metrics.users.clone());
        metrics.register(
            "websocket_connections",
            "Open WebSocket connections",
            metrics.websocket_connections.clone(),
        );
        metrics.register(
            "outbox_depth",
            "Events waiting for delivery to another node",
            metrics.outbox_depth.clone(),
        );
        metrics.register(
            "tokio_tasks",
            "Live tasks of the node's async runtime",
            metrics.tokio_tasks.clone(),
        );
        metrics
    }

    /// Adds a metric kept elsewhere (the gateway's HTTP metrics) to this node's registry.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .register(name, help, metric);
    }

    /// The metrics of type `T` another crate keeps in this registry (the gateway's HTTP metrics): made
    /// and registered by `make` on first use only, so a node that builds its router twice still
    /// counts each request once.
    pub fn shared<T: Clone + Send + Sync + 'static>(&self, make: impl FnOnce(&Self) -> T) -> T {
        let mut shared = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = shared.iter().find_map(|kept| kept.downcast_ref::<T>()) {
            return found.clone();
        }
        let made = make(self);
        shared.push(Box::new(made.clone()));
        made
    }

    /// The registry in the Prometheus text format, state gauges read now.
    pub(crate) fn render(&self, services: &Services) -> String {
        let t = &services.store.trees;
        self.messages_stored.set(gauge(services.store.counts.messages()));
        self.users.set(gauge(t.userid_user.len()));
        self.websocket_connections.set(gauge(services.hub.connection_count()));
        self.outbox_depth.clear();
        match services.outbox.depths() {
            Ok(depths) => {
                for (peer, depth) in depths {
                    self.outbox_depth.get_or_create(&PeerLabel { peer }).set(gauge(depth));
                }
            }
            Err(err) => tracing::error!(error = %err, "reading the outbox depths for /metrics failed"),
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.tokio_tasks.set(gauge(runtime.metrics().num_alive_tasks()));
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::error!(error = %err, "encoding /metrics failed");
        }
        text
    }
}

fn gauge(count: impl TryInto<i64>) -> i64 {
    count.try_into().unwrap_or(i64::MAX)
}
