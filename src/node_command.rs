//! `parley node`: opens the data dir, binds the HTTP listener and serves until Ctrl-C or SIGTERM,
//! then drains connections and flushes the store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use node::{Config, ConnectionLimits, RateLimits, Services, TrustedProxy};
use protocol::api::IceServer;
use tracing_subscriber::EnvFilter;

#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    /// A TOML file of settings named like these flags (`http = "127.0.0.1:8080"`); flags and the
    /// environment take precedence over it.
    #[arg(long, env = "PARLEY_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Print the effective configuration as TOML, saying where each value came from, and exit.
    #[arg(long)]
    pub(crate) print_config: bool,

    /// Where the node keeps its store, keypair and token secret (created if missing).
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Address the REST + WebSocket API listens on.
    #[arg(long, env = "PARLEY_HTTP", default_value = "127.0.0.1:8080")]
    http: SocketAddr,

    /// Development mode: password-reset tokens are returned by the API instead of only logged.
    #[arg(long, env = "PARLEY_DEV")]
    dev: bool,

    /// Who may create an account: `open` (anyone who reaches the node), `token` (whoever holds a
    /// registration token from `parley admin registration-token create`) or `closed` (only operators).
    /// Default: `open` when the API listens on a loopback address only, `closed` otherwise.
    #[arg(long, env = "PARLEY_REGISTRATION")]
    registration: Option<node::Registration>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "PARLEY_ACCESS_TOKEN_TTL", default_value_t = 12 * 3600)]
    access_token_ttl: u64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "PARLEY_REFRESH_TOKEN_TTL", default_value_t = 14 * 24 * 3600)]
    refresh_token_ttl: u64,

    /// Live WebSocket connections allowed per user.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS_PER_USER", default_value_t = 10)]
    max_connections_per_user: usize,

    /// A STUN/TURN server for WebRTC clients, `URL` or `URL;username;credential`; repeatable.
    #[arg(long = "ice-server", env = "PARLEY_ICE_SERVERS", value_delimiter = ',', value_parser = parse_ice_server)]
    ice_servers: Vec<IceServer>,

    /// Largest file blob accepted, in bytes.
    #[arg(long = "max-file-size", env = "PARLEY_MAX_FILE_SIZE", default_value_t = 50 * 1024 * 1024)]
    max_file_bytes: u64,

    /// Per-user request budgets (per address before login); `off` disables them, e.g. for load tests.
    #[arg(long, env = "PARLEY_RATE_LIMITS", default_value = "on", value_parser = ["on", "off"])]
    rate_limits: String,

    /// Authentication requests per minute.
    #[arg(long, env = "PARLEY_RATE_LIMIT_AUTH", default_value_t = 5)]
    rate_limit_auth: u32,

    /// Message sends per minute.
    #[arg(long, env = "PARLEY_RATE_LIMIT_MESSAGES", default_value_t = 30)]
    rate_limit_messages: u32,

    /// Call creations per minute.
    #[arg(long, env = "PARLEY_RATE_LIMIT_CALLS", default_value_t = 10)]
    rate_limit_calls: u32,

    /// Other API requests per minute.
    #[arg(long, env = "PARLEY_RATE_LIMIT_GENERAL", default_value_t = 100)]
    rate_limit_general: u32,

    /// New WebSocket connections per minute.
    #[arg(long, env = "PARLEY_RATE_LIMIT_WEBSOCKET", default_value_t = 10)]
    rate_limit_websocket: u32,

    /// Failed logins against one account, from all addresses together, per 15 minutes (0: no limit).
    #[arg(long, env = "PARLEY_FAILED_LOGINS_PER_ACCOUNT", default_value_t = 10)]
    failed_logins_per_account: u32,

    /// An origin allowed to call the API from a browser (`*` for any); repeatable. None by default.
    #[arg(long = "cors-origin", env = "PARLEY_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,

    /// Open HTTP connections (WebSockets included) in total; lowered to fit the open-file limit.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_total)]
    max_connections: usize,

    /// Open HTTP connections from one client address.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = ConnectionLimits::default().max_per_address)]
    max_connections_per_address: usize,

    /// Seconds a client has to send a request's headers (and an idle keep-alive connection stays open).
    #[arg(long, env = "PARLEY_HEADER_READ_TIMEOUT", default_value_t = ConnectionLimits::default().header_read_timeout.as_secs())]
    header_read_timeout: u64,

    /// Seconds a connection (a WebSocket too) may pass with no byte moving either way before it is closed.
    #[arg(long, env = "PARLEY_IDLE_TIMEOUT", default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    idle_timeout: u64,

    /// A reverse proxy (address or CIDR block) whose `X-Forwarded-For` names the client; repeatable.
    /// From any other peer the header is ignored.
    #[arg(long = "trusted-proxy", env = "PARLEY_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<TrustedProxy>,

    /// Whether this node's users may send messages in the clear (the clients of the other API dialects
    /// do); `false` refuses them, and such messages submitted to conversations this node hosts.
    #[arg(long, env = "PARLEY_ALLOW_UNENCRYPTED", default_value_t = true, action = clap::ArgAction::Set)]
    allow_unencrypted: bool,

    /// Megabytes of the store's pages kept in memory (the rest is read from disk when needed).
    #[arg(long, env = "PARLEY_STORE_CACHE_MB", default_value_t = node::DEFAULT_STORE_CACHE_BYTES / (1024 * 1024))]
    store_cache_mb: u64,

    /// This node's name in the federation DHT (default: derived from its PeerId).
    #[arg(long, env = "PARLEY_NAME")]
    name: Option<String>,

    /// An address the federation (libp2p) listens on: QUIC (`/ip4/../udp/<port>/quic-v1`) or TCP
    /// (`/ip4/../tcp/<port>`, for peers whose networks block UDP); repeatable.
    #[arg(long = "p2p", env = "PARLEY_P2P", value_delimiter = ',', default_values = node::DEFAULT_P2P_LISTEN)]
    p2p: Vec<node::federation::Multiaddr>,

    /// A bootstrap node's multiaddr ending in `/p2p/<peer id>`; repeatable.
    #[arg(long = "bootstrap", env = "PARLEY_BOOTSTRAP", value_delimiter = ',')]
    bootstrap: Vec<node::federation::Multiaddr>,

    /// A node (by PeerId) whose traffic is refused: its connections are closed; repeatable.
    #[arg(long = "deny-node", env = "PARLEY_DENY_NODES", value_delimiter = ',')]
    deny_nodes: Vec<node::federation::PeerId>,

    /// Federation requests one peer may make per minute.
    #[arg(long, env = "PARLEY_PEER_RATE_LIMIT", default_value_t = 6000)]
    peer_rate_limit: u32,

    /// Longest wait, in seconds, between two delivery attempts to an unreachable node (retries back off
    /// exponentially with jitter up to this).
    #[arg(long, env = "PARLEY_OUTBOX_MAX_BACKOFF", default_value_t = 30)]
    outbox_max_backoff: u64,

    /// Milliseconds a lookup of another node's user (handle, profile, devices, key bundle) waits for
    /// that node before answering from the copy this node keeps, marked `stale`.
    #[arg(long, env = "PARLEY_LOOKUP_TIMEOUT_MS", default_value_t = 300)]
    lookup_timeout_ms: u64,

    /// Seconds this node answers lookups of another node's user from its copy without asking that
    /// user's home node again.
    #[arg(long, env = "PARLEY_LOOKUP_MAX_AGE", default_value_t = 30)]
    lookup_max_age: u64,

    /// A PEM certificate chain: the API is then served over HTTPS (and WebSockets as `wss://`). Read
    /// again, with the key, on SIGHUP.
    #[arg(long, env = "PARLEY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "PARLEY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve Prometheus metrics at `http://<address>/metrics` (off unless given; keep it private,
    /// e.g. 127.0.0.1:9100).
    #[arg(long, env = "PARLEY_METRICS")]
    metrics: Option<SocketAddr>,

    /// Log filter, e.g. `info` or `parley=debug,tower_http=debug`.
    #[arg(long, env = "PARLEY_LOG", default_value = "info")]
    log: String,
}

pub(crate) fn run(args: NodeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log).context("invalid --log filter")?)
        // Colours only for a person at a terminal, never into a journal or a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let mut config = Config::new(&args.data_dir);
    config.dev_mode = args.dev;
    config.registration = args.registration.unwrap_or(if args.http.ip().is_loopback() {
        node::Registration::Open
    } else {
        node::Registration::Closed
    });
    config.access_token_ttl = Duration::from_secs(args.access_token_ttl);
    config.refresh_token_ttl = Duration::from_secs(args.refresh_token_ttl);
    config.max_connections_per_user = args.max_connections_per_user;
    config.ice_servers = args.ice_servers.clone();
    config.rate_limits = RateLimits {
        enabled: args.rate_limits == "on",
        auth: args.rate_limit_auth,
        messages: args.rate_limit_messages,
        calls: args.rate_limit_calls,
        general: args.rate_limit_general,
        websocket: args.rate_limit_websocket,
        failed_logins_per_account: args.failed_logins_per_account,
    };
    config.cors_origins = args.cors_origins.clone();
    let file_limit = crate::file_limit::raise();
    config.connections = ConnectionLimits {
        max_total: crate::file_limit::connections_that_fit(args.max_connections, file_limit),
        max_per_address: args.max_connections_per_address,
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
    };
    if config.connections.max_total < args.max_connections {
        tracing::warn!(
            file_limit,
            max_connections = config.connections.max_total,
            "the open-file limit allows fewer connections than configured"
        );
    }
    config.trusted_proxies = args.trusted_proxies.clone();
    config.max_file_bytes = args.max_file_bytes;
    config.allow_unencrypted = args.allow_unencrypted;
    config.store_cache_bytes = args.store_cache_mb.saturating_mul(1024 * 1024);
    config.federation.name = args.name.clone();
    config.federation.p2p_listen = args.p2p.clone();
    config.federation.bootstrap = args.bootstrap.clone();
    config.federation.denied_peers = args.deny_nodes.clone();
    config.federation.peer_requests_per_minute = args.peer_rate_limit;
    config.federation.outbox_max_backoff = std::time::Duration::from_secs(args.outbox_max_backoff.max(1));
    config.federation.lookups = node::Lookups {
        timeout: Duration::from_millis(args.lookup_timeout_ms.max(1)),
        max_age: Duration::from_secs(args.lookup_max_age),
    };

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(gateway::Tls::load(cert, key).map_err(anyhow::Error::msg)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let services = Arc::new(
            Services::open(config).with_context(|| format!("opening the data dir {}", args.data_dir.display()))?,
        );
        let listener = tokio::net::TcpListener::bind(args.http).await.map_err(|err| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "{} is already in use (by another node on this machine?): give this node another \
                     address with --http, e.g. --http 127.0.0.1:8081",
                    args.http
                )
            } else {
                anyhow::anyhow!("listening on {}: {err}", args.http)
            }
        })?;
        let address = listener.local_addr()?;
        let federation = crate::joining::start_federation(&services).await?;
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics = match args.metrics {
            Some(address) => {
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("listening for metrics on {address}"))?;
                let stopped = async {
                    let _ = metrics_stopped.await;
                };
                let address = listener.local_addr()?;
                Some((
                    address,
                    tokio::spawn(gateway::serve_metrics(listener, services.clone(), stopped)),
                ))
            }
            None => None,
        };
        let shutdown = crate::signals::shutdown_signal();
        if let Some(tls) = &tls {
            // Before the node says it serves, so an early SIGHUP reloads rather than kills.
            tokio::spawn(reload_on_hangup(tls.clone()));
        }
        write_node_url(&args.data_dir, scheme, address);
        // Said only once both listeners are up: whoever waits for this line can use the node.
        say(&format!(
            "parley node serving {scheme}://{address} (data dir {}, registration {})",
            args.data_dir.display(),
            services.config.registration
        ));
        if let Some((address, _)) = &metrics {
            say(&format!("metrics at http://{address}/metrics"));
        }
        tracing::info!(%address, dev = args.dev, "node started");
        let maintenance = tokio::spawn(services.clone().run_background());
        if let Some(local) = services.federation() {
            let local = local.local_node().await?;
            say(&format!("federation: node {} (peer id {})", local.name, local.peer_id));
        }
        gateway::serve_over(listener, services.clone(), tls, shutdown).await?;
        let _ = stop_metrics.send(());
        if let Some((_, metrics)) = metrics {
            let _ = metrics.await;
        }
        federation.shutdown().await;
        maintenance.abort();
        tracing::info!("shutting down; flushing the store");
        services.flush().context("flushing the store")?;
        say("parley node stopped");
        Ok(())
    })
}

fn parse_ice_server(text: &str) -> Result<IceServer, String> {
    let mut parts = text.split(';');
    let url = parts.next().unwrap_or_default().trim();
    if !(url.starts_with("stun:") || url.starts_with("turn:") || url.starts_with("turns:")) {
        return Err(format!("{url:?} is not a stun:, turn: or turns: URL"));
    }
    let username = parts.next().map(str::to_owned);
    let credential = parts.next().map(str::to_owned);
    if parts.next().is_some() || username.is_some() != credential.is_some() {
        return Err("expected URL or URL;username;credential".into());
    }
    Ok(IceServer {
        urls: vec![url.to_owned()],
        username,
        credential,
    })
}

/// Tells `parley admin`, run with the same data dir, where this node's API answers.
fn write_node_url(data_dir: &std::path::Path, scheme: &str, address: SocketAddr) {
    let mut reachable = address;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let path = data_dir.join(NODE_URL_FILE);
    if let Err(err) = std::fs::write(&path, format!("{scheme}://{reachable}\n")) {
        tracing::warn!(path = %path.display(), error = %err, "could not record the node's URL for parley admin");
    }
}

/// The file in the data dir naming the running node's API.
pub(crate) const NODE_URL_FILE: &str = "node.url";

/// Prints a status line; a closed stdout (a supervisor that stopped reading) must not crash the node.
fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// Reads the certificate again at each SIGHUP, as certificate renewal tools expect. The handler is
/// installed when this is called, so call it before the node announces itself.
fn reload_on_hangup(tls: std::sync::Arc<gateway::Tls>) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        async move {
            let Ok(mut hangups) = hangups else {
                return;
            };
            while hangups.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(err) => tracing::error!(error = %err, "TLS certificate reload failed; keeping the current one"),
                }
            }
        }
    }
    #[cfg(not(unix))]
    async move {
        drop(tls);
    }
}
