//! The simulated deployment: bootstrap nodes and complete Parley nodes (the real `node::Services`, each
//! with its own sled directory, outbox and swarm), all in this process, connected by the simulated
//! network. Each node runs on a tokio runtime of its own, as it would in its own process: every task it
//! spawns (outbox workers, the swarm, connection pumps) lives there, so a crash drops them all at once,
//! without the node's graceful shutdown, and a restart reopens the same data directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use libp2p::Multiaddr;

use crate::network::SimNetwork;

/// How often nodes republish their name records. A restarted node keeps its key and address, so its
/// old record stays right; republishing often would only load the DHT (a hundred nodes republishing
/// every few seconds cost more CPU than their traffic).
const RECORD_REFRESH: Duration = Duration::from_secs(60);
/// The longest outbox back-off: short enough that convergence after a heal is measured, not waited for.
const OUTBOX_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A running node and the runtime its tasks live on.
struct Running {
    services: Arc<node::Services>,
    federation: node::federation::Handle,
    runtime: tokio::runtime::Runtime,
}

/// A runtime for one node, named after it (threads show up by name in `perf` and `top`).
fn runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|err| format!("{name}: a runtime: {err}"))
}

/// Every node of the run. Node `i` of the scenario is network index `i`; bootstrap node `b` is network
/// index `nodes + b`.
pub(crate) struct Cluster {
    network: SimNetwork,
    names: Vec<String>,
    data: PathBuf,
    bootstrap_addresses: Vec<Multiaddr>,
    bootstraps: std::sync::Mutex<Vec<Option<tokio::runtime::Runtime>>>,
    nodes: RwLock<Vec<Option<Running>>>,
}

impl Cluster {
    /// Starts the bootstrap nodes, then every node, data under `data`.
    pub(crate) async fn start(
        network: SimNetwork,
        names: &[String],
        bootstraps: usize,
        data: &Path,
    ) -> Result<Self, String> {
        let mut cluster = Self {
            network,
            names: names.to_vec(),
            data: data.to_path_buf(),
            bootstrap_addresses: Vec::new(),
            bootstraps: std::sync::Mutex::new(Vec::new()),
            nodes: RwLock::new(Vec::new()),
        };
        for index in 0..bootstraps {
            let (address, runtime) = cluster.start_bootstrap(index).await?;
            cluster.bootstrap_addresses.push(address);
            cluster.bootstraps().push(Some(runtime));
        }
        for index in 0..names.len() {
            let running = cluster.open(index).await?;
            cluster
                .nodes
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(Some(running));
        }
        Ok(cluster)
    }

    async fn start_bootstrap(&self, index: usize) -> Result<(Multiaddr, tokio::runtime::Runtime), String> {
        let slot = self.names.len() + index;
        let config = bootstrap::Config::new(
            self.data.join(format!("bootstrap-{index}.key")),
            self.network.address(slot),
        );
        let network = self.network.clone();
        let runtime = runtime(&format!("bootstrap-{index}"))?;
        let address = runtime
            .spawn(async move {
                let node = bootstrap::Bootstrap::start_over(&config, move |key| network.transport(slot, key))
                    .await
                    .map_err(|err| format!("bootstrap node {index}: {err}"))?;
                let address = node
                    .addresses()
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("bootstrap node {index} reported no address"))?;
                tokio::spawn(node.run(std::future::pending()));
                Ok::<_, String>(address)
            })
            .await
            .map_err(|err| format!("bootstrap node {index}: {err}"))??;
        Ok((address, runtime))
    }

    /// Opens node `index` on its data directory, on a runtime of its own, and joins it to the federation.
    async fn open(&self, index: usize) -> Result<Running, String> {
        let name = self.names[index].clone();
        let mut config = node::Config::new(self.data.join(&name));
        // A simulation measures the federation, not per-user request budgets, nor password hashing (its
        // users' passwords protect nothing; the standard cost would make set-up take minutes).
        config.rate_limits.enabled = false;
        config.password_hashing = node::PasswordHashing::MINIMAL;
        config.federation.name = Some(name.clone());
        config.federation.p2p_listen = self.network.address(index);
        config.federation.bootstrap = self.bootstrap_addresses.clone();
        config.federation.record_refresh_interval = RECORD_REFRESH;
        config.federation.outbox_max_backoff = OUTBOX_MAX_BACKOFF;
        let network = self.network.clone();
        let runtime = runtime(&name)?;
        let started = runtime
            .spawn(async move {
                let services = Arc::new(node::Services::open(config).map_err(|err| format!("node {name}: {err}"))?);
                tokio::spawn(services.clone().run_background());
                let federation = services
                    .start_federation_over(move |key| network.transport(index, key))
                    .map_err(|err| format!("node {name}: {err}"))?;
                Ok::<_, String>((services, federation))
            })
            .await
            .map_err(|err| format!("node {index}: {err}"))?;
        match started {
            Ok((services, federation)) => Ok(Running {
                services,
                federation,
                runtime,
            }),
            Err(err) => {
                runtime.shutdown_background();
                Err(err)
            }
        }
    }

    /// Runs `work` on node `index`'s runtime, so whatever it spawns belongs to that node; `None` when the
    /// node is down (or crashed while working).
    pub(crate) async fn on_node<T, F>(&self, index: usize, work: impl FnOnce(Arc<node::Services>) -> F) -> Option<T>
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let task = {
            let nodes = self.nodes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let running = nodes.get(index)?.as_ref()?;
            running.runtime.spawn(work(running.services.clone()))
        };
        task.await.ok()
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The simulated network under the nodes.
    pub(crate) fn network(&self) -> &SimNetwork {
        &self.network
    }

    /// Stops node `index` as a power loss would: its connections break at once and every task of its
    /// runtime is dropped, with no graceful shutdown.
    pub(crate) fn crash(&self, index: usize) {
        self.network.isolate(index);
        let running = self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner())[index].take();
        if let Some(running) = running {
            let Running {
                services,
                federation,
                runtime,
            } = running;
            runtime.shutdown_background();
            drop(federation);
            drop(services);
        }
    }

    /// Reopens a crashed node on the same data directory.
    pub(crate) async fn restart(&self, index: usize) -> Result<(), String> {
        self.network.restore(index);
        // The old instance's blocking work (a flush in progress) may hold the store for a moment.
        let mut tries = 0;
        let running = loop {
            match self.open(index).await {
                Ok(running) => break running,
                Err(err) if tries < 50 => {
                    tries += 1;
                    tracing::debug!(error = %err, "node not reopened yet");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => return Err(err),
            }
        };
        self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner())[index] = Some(running);
        Ok(())
    }

    /// Stops bootstrap node `index` (nodes keep what they learnt from it).
    pub(crate) fn bootstrap_down(&self, index: usize) {
        self.network.isolate(self.names.len() + index);
        let runtime = self.bootstraps().get_mut(index).and_then(Option::take);
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
    }

    fn bootstraps(&self) -> std::sync::MutexGuard<'_, Vec<Option<tokio::runtime::Runtime>>> {
        self.bootstraps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts bootstrap node `index` again, with its old key and address.
    pub(crate) async fn bootstrap_up(&self, index: usize) -> Result<(), String> {
        self.network.restore(self.names.len() + index);
        let (_, runtime) = self.start_bootstrap(index).await?;
        self.bootstraps()[index] = Some(runtime);
        Ok(())
    }

    /// Stops every node gracefully (its swarm closed, its store flushed), then the bootstrap nodes.
    pub(crate) async fn shutdown(&self) {
        let nodes: Vec<Running> =
            std::mem::take(&mut *self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner()))
                .into_iter()
                .flatten()
                .collect();
        for running in nodes {
            let Running {
                services,
                federation,
                runtime,
            } = running;
            let stopped = runtime.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), federation.shutdown()).await;
                if let Err(err) = services.flush() {
                    tracing::warn!(error = %err, "flushing a node at the end of the run failed");
                }
            });
            let _ = stopped.await;
            runtime.shutdown_background();
        }
        let bootstraps = std::mem::take(&mut *self.bootstraps());
        for runtime in bootstraps.into_iter().flatten() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Cluster {
    /// A runtime may not be dropped from async code, where a cluster usually ends: whatever is still
    /// running (a run that failed half-way) is stopped in the background instead.
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut *self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for running in nodes.into_iter().flatten() {
            running.runtime.shutdown_background();
        }
        let bootstraps = std::mem::take(&mut *self.bootstraps());
        for runtime in bootstraps.into_iter().flatten() {
            runtime.shutdown_background();
        }
    }
}
