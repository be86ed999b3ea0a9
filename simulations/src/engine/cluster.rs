//! The simulated deployment: bootstrap nodes and complete Parley nodes (the real `node::Services`, each
//! with its own sled directory, outbox and swarm), all in this process, connected by the simulated
//! network. They share the process's runtime, but each node's work is its own: every task it spawns
//! (outbox workers, the swarm and its connections, requests being answered) and every call a client
//! makes of it runs in its task set, so a crash (`Services::halt`) drops them all at once, without the
//! node's graceful shutdown, and a restart reopens the same data directory. (A runtime per node, as
//! before, cost two threads per node: 300 nodes spent an eighth of their time switching between 650
//! threads.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use libp2p::Multiaddr;

use crate::network::SimNetwork;

/// How long a connection without traffic stays open. The DHT's queries connect every node to most
/// others; held for the node's default two minutes, those connections made a 300-node run hold a
/// near-full mesh (45,000 connections), each with its handlers and buffers.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(20);
/// Time between two nodes' starts. A node joining the DHT connects to a few hundred others within
/// seconds (its bootstrap queries), and each connection stays until it has been idle for
/// `IDLE_CONNECTION_TIMEOUT`, so the connections open at once grow with the nodes joining per second of
/// the simulated clock. 1,000 nodes started at one instant held 10 GB while their users registered
/// (and their name records went to the few peers each knew then, so lookups failed); 20 ms apart, 6 GB
/// before the last had started. Nodes joining one after another, as a real federation grows, keep
/// that down, and their periodic DHT refreshes are not synchronised either.
const START_SPACING: Duration = Duration::from_millis(100);
/// The longest outbox back-off: short enough that convergence after a heal is measured, not waited for.
const OUTBOX_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A running node.
struct Running {
    services: Arc<node::Services>,
    federation: node::federation::Handle,
}

/// Every node of the run. Node `i` of the scenario is network index `i`; bootstrap node `b` is network
/// index `nodes + b`.
pub(crate) struct Cluster {
    network: SimNetwork,
    names: Vec<String>,
    data: PathBuf,
    bootstrap_addresses: Vec<Multiaddr>,
    /// Each bootstrap node's task, while it is up.
    bootstraps: std::sync::Mutex<Vec<Option<tokio::task::JoinHandle<()>>>>,
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
            let (address, task) = cluster.start_bootstrap(index).await?;
            cluster.bootstrap_addresses.push(address);
            cluster.bootstraps().push(Some(task));
        }
        for index in 0..names.len() {
            if index > 0 {
                tokio::time::sleep(START_SPACING).await;
            }
            let running = cluster.open(index).await?;
            cluster
                .nodes
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(Some(running));
        }
        Ok(cluster)
    }

    async fn start_bootstrap(&self, index: usize) -> Result<(Multiaddr, tokio::task::JoinHandle<()>), String> {
        let slot = self.names.len() + index;
        let config = bootstrap::Config::new(
            self.data.join(format!("bootstrap-{index}.key")),
            [self.network.address(slot)],
        );
        let network = self.network.clone();
        let node = bootstrap::Bootstrap::start_over(&config, move |key| network.transport(slot, key))
            .await
            .map_err(|err| format!("bootstrap node {index}: {err}"))?;
        let address = node
            .addresses()
            .into_iter()
            .next()
            .ok_or_else(|| format!("bootstrap node {index} reported no address"))?;
        Ok((address, tokio::spawn(node.run(std::future::pending()))))
    }

    /// Opens node `index` on its data directory and joins it to the federation.
    async fn open(&self, index: usize) -> Result<Running, String> {
        let name = self.names[index].clone();
        let mut config = node::Config::new(self.data.join(&name));
        // A simulation measures the federation, not per-user request budgets, nor password hashing (its
        // users' passwords protect nothing; the standard cost would make set-up take minutes).
        config.rate_limits.enabled = false;
        config.password_hashing = node::PasswordHashing::MINIMAL;
        config.federation.name = Some(name.clone());
        config.federation.p2p_listen = vec![self.network.address(index)];
        config.federation.bootstrap = self.bootstrap_addresses.clone();
        config.federation.outbox_max_backoff = OUTBOX_MAX_BACKOFF;
        config.federation.idle_connection_timeout = IDLE_CONNECTION_TIMEOUT;
        // The in-memory network has no NAT to get through.
        config.federation.nat_traversal = false;
        let network = self.network.clone();
        let services = Arc::new(node::Services::open(config).map_err(|err| format!("node {name}: {err}"))?);
        services.spawn(services.clone().run_background());
        match services.start_federation_over(move |key| network.transport(index, key)) {
            Ok(federation) => Ok(Running { services, federation }),
            Err(err) => {
                services.halt();
                Err(format!("node {name}: {err}"))
            }
        }
    }

    /// Runs `work` as node `index`'s own work, so a crash drops it with the node's other tasks; `None`
    /// when the node is down (or crashed while working).
    pub(crate) async fn on_node<T, F>(&self, index: usize, work: impl FnOnce(Arc<node::Services>) -> F) -> Option<T>
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let task = {
            let nodes = self.nodes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let running = nodes.get(index)?.as_ref()?;
            running.services.spawn(work(running.services.clone()))
        };
        task.await.ok().flatten()
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The simulated network under the nodes.
    pub(crate) fn network(&self) -> &SimNetwork {
        &self.network
    }

    /// Stops node `index` as a power loss would: its connections break at once and every task of its
    /// own is dropped, with no graceful shutdown.
    pub(crate) fn crash(&self, index: usize) {
        self.network.isolate(index);
        let running = self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner())[index].take();
        if let Some(Running { services, federation }) = running {
            services.halt();
            drop(federation);
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
        let task = self.bootstraps().get_mut(index).and_then(Option::take);
        if let Some(task) = task {
            task.abort();
        }
    }

    fn bootstraps(&self) -> std::sync::MutexGuard<'_, Vec<Option<tokio::task::JoinHandle<()>>>> {
        self.bootstraps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts bootstrap node `index` again, with its old key and address.
    pub(crate) async fn bootstrap_up(&self, index: usize) -> Result<(), String> {
        self.network.restore(self.names.len() + index);
        let (_, task) = self.start_bootstrap(index).await?;
        self.bootstraps()[index] = Some(task);
        Ok(())
    }

    /// Stops every node gracefully (its swarm closed, its store flushed), then the bootstrap nodes.
    pub(crate) async fn shutdown(&self) {
        let nodes: Vec<Running> =
            std::mem::take(&mut *self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner()))
                .into_iter()
                .flatten()
                .collect();
        for Running { services, federation } in nodes {
            let _ = tokio::time::timeout(Duration::from_secs(5), federation.shutdown()).await;
            if let Err(err) = services.flush() {
                tracing::warn!(error = %err, "flushing a node at the end of the run failed");
            }
            services.halt();
        }
        self.stop_bootstraps();
    }

    fn stop_bootstraps(&self) {
        let bootstraps = std::mem::take(&mut *self.bootstraps());
        for task in bootstraps.into_iter().flatten() {
            task.abort();
        }
    }
}

impl Drop for Cluster {
    /// Whatever is still running when the cluster goes (a run that failed half-way) stops with it.
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut *self.nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for running in nodes.into_iter().flatten() {
            running.services.halt();
        }
        self.stop_bootstraps();
    }
}
