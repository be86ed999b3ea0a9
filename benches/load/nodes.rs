//! The nodes under load, served in-process: the local node, and for the federated mode a bootstrap
//! node with two federated nodes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

/// The federated nodes' names; the recipient is addressed as `bob@node-b`.
pub(crate) const NODE_A: &str = "node-a";
pub(crate) const NODE_B: &str = "node-b";
/// Where the bootstrap node and the federated nodes' swarms listen.
pub(crate) const LOCAL_QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";
/// How often a federated node republishes its name record (as the federation tests do).
const RECORD_REFRESH: Duration = Duration::from_secs(2);

/// A node served in-process: its HTTP/WebSocket gateway and, when federated, its libp2p swarm.
pub(crate) struct RunningNode {
    pub(crate) addr: SocketAddr,
    services: Arc<node::Services>,
    federation: Option<node::federation::Handle>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningNode {
    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops the gateway (and the swarm), each bounded.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        if let Some(federation) = self.federation {
            let _ = tokio::time::timeout(Duration::from_secs(5), federation.shutdown()).await;
        }
        drop(self.services);
    }
}

/// The config every bench node uses: data in `dir`, rate limits off (a load test measures the node, not
/// the per-user request budget).
pub(crate) fn node_config(dir: &std::path::Path) -> node::Config {
    let mut config = node::Config::new(dir);
    config.rate_limits.enabled = false;
    config
}

/// Opens a node and serves it on 127.0.0.1 (inside the node runtime); joins the federation when
/// `federate`.
pub(crate) async fn start_node(config: node::Config, federate: bool) -> Result<RunningNode, String> {
    let services = Arc::new(node::Services::open(config).map_err(|err| format!("open node: {err}"))?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("bind: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    tokio::spawn(services.clone().run_background());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(gateway::serve(listener, services.clone(), async {
        let _ = stopped.await;
    }));
    let federation = if federate {
        Some(
            services
                .start_federation()
                .map_err(|err| format!("start federation: {err}"))?,
        )
    } else {
        None
    };
    Ok(RunningNode {
        addr,
        services,
        federation,
        stop,
        server,
    })
}

/// The federated mode's nodes: a bootstrap node, node A (the sender's, hosting the DM) and node B.
pub(crate) struct Federation {
    bootstrap_stop: oneshot::Sender<()>,
    pub(crate) a: RunningNode,
    pub(crate) b: RunningNode,
}

impl Federation {
    /// Starts the bootstrap node and both nodes (inside the node runtime), data under `dir`.
    pub(crate) async fn start(dir: std::path::PathBuf) -> Result<Self, String> {
        let listen: bootstrap::Multiaddr = LOCAL_QUIC.parse().map_err(|err| format!("{LOCAL_QUIC}: {err}"))?;
        let config = bootstrap::Config::new(dir.join("bootstrap.key"), [listen.clone()]);
        let bootstrap = bootstrap::Bootstrap::start(&config)
            .await
            .map_err(|err| format!("bootstrap node: {err}"))?;
        let address = bootstrap
            .addresses()
            .into_iter()
            .next()
            .ok_or("the bootstrap node reported no address")?;
        let (bootstrap_stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(bootstrap.run(async {
            let _ = stopped.await;
        }));
        eprintln!("[fed] bootstrap node listening on {address}");
        let federated = |name: &str| {
            let mut config = node_config(&dir.join(name));
            config.federation.name = Some(name.to_owned());
            config.federation.p2p_listen = vec![listen.clone()];
            config.federation.bootstrap = vec![address.clone()];
            config.federation.record_refresh_interval = RECORD_REFRESH;
            config
        };
        let a = start_node(federated(NODE_A), true).await?;
        let b = start_node(federated(NODE_B), true).await?;
        eprintln!("[fed] {NODE_A} listening on {}, {NODE_B} on {}", a.addr, b.addr);
        Ok(Self { bootstrap_stop, a, b })
    }

    pub(crate) async fn shutdown(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
        let _ = self.bootstrap_stop.send(());
    }
}
