use std::path::PathBuf;
use std::time::Duration;

mod http;

pub use http::{ConnectionLimits, TrustedProxy};

/// What an operator may tune. Defaults are the embedded single-command setup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where sled, the node key and the token secret live.
    pub data_dir: PathBuf,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
    /// Lifetime of password-reset tokens.
    pub reset_token_ttl: Duration,
    /// Development mode: password-reset tokens are returned in the API response.
    pub dev_mode: bool,
    /// Live WebSocket connections allowed per user.
    pub max_connections_per_user: usize,
    /// Frames buffered per connection before a slow client is dropped (it resumes from the store).
    pub connection_buffer: usize,
    /// How often background maintenance (message retention, abandoned uploads) runs.
    pub maintenance_interval: Duration,
    /// Unfinished uploads untouched this long are cancelled and their bytes removed.
    pub upload_idle_timeout: Duration,
    /// STUN/TURN servers handed to WebRTC clients.
    pub ice_servers: Vec<protocol::api::IceServer>,
    /// Largest file blob accepted, in bytes (uploads beyond it are refused with 413).
    pub max_file_bytes: u64,
    /// The first webhook retry waits about this long; each further retry doubles it (capped, jittered).
    pub webhook_retry_base: Duration,
    /// Requests allowed per minute, per user (per address before login).
    pub rate_limits: RateLimits,
    /// Origins allowed to call the API from a browser; empty sends no CORS headers, `*` allows any.
    pub cors_origins: Vec<String>,
    /// Connections the HTTP listener holds, and for how long.
    pub connections: ConnectionLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client; none by default.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Federation settings (the node's name, its libp2p listen address, bootstrap peers).
    pub federation: FederationConfig,
    /// The cost of hashing a password.
    pub password_hashing: PasswordHashing,
    /// Whether this node's users may send messages in the clear (`body` instead of per-device
    /// ciphertexts), as the clients of the other API dialects do. Off makes every message from this
    /// node's users, and every message submitted to a conversation it hosts, end-to-end encrypted.
    pub allow_unencrypted: bool,
    /// Bytes of the store's pages sled keeps in memory. The rest is read from disk when needed, so this
    /// bounds the node's memory as its store grows.
    pub store_cache_bytes: u64,
    /// Who may create an account through the API.
    pub registration: Registration,
}

/// Who may create an account: anyone who reaches the node, whoever holds a registration token an
/// operator made, or only operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Anyone who can reach the node registers.
    Open,
    /// A registration needs a token an operator created (`/v1/admin/registration-tokens`).
    Token,
    /// Only operators create accounts.
    Closed,
}

impl std::str::FromStr for Registration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "open" => Ok(Self::Open),
            "token" => Ok(Self::Token),
            "closed" => Ok(Self::Closed),
            other => Err(format!("{other:?} is not one of open, token, closed")),
        }
    }
}

impl std::fmt::Display for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Token => "token",
            Self::Closed => "closed",
        })
    }
}

/// The store's default page cache: sled's own default is 1 GiB, more than a small community's server
/// may have to spare.
pub const DEFAULT_STORE_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// Argon2id's cost for new password hashes. Stored hashes carry their own parameters, so changing it
/// affects only passwords set afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes over that memory.
    pub iterations: u32,
}

impl PasswordHashing {
    /// The smallest cost Argon2 accepts: only for simulations and tests whose users' passwords are not
    /// what is measured or protected. Never for a node people use.
    pub const MINIMAL: Self = Self {
        memory_kib: 8,
        iterations: 1,
    };
}

impl Default for PasswordHashing {
    /// The argon2 crate's defaults (19 MiB, 2 passes, one lane), OWASP's recommended minimum.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// Where a node's federation listens unless told otherwise: QUIC, and TCP for networks that block UDP.
pub const DEFAULT_P2P_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/udp/4433/quic-v1", "/ip4/0.0.0.0/tcp/4433"];

/// How the node joins the federation. The swarm only runs once `Services::start_federation` is called.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    /// The node's name in the DHT; `None` derives one from the PeerId.
    pub name: Option<String>,
    /// The addresses the libp2p swarm listens on: QUIC (`/udp/<port>/quic-v1`) and TCP (`/tcp/<port>`).
    pub p2p_listen: Vec<libp2p::Multiaddr>,
    /// Bootstrap nodes, each ending in `/p2p/<peer id>`.
    pub bootstrap: Vec<libp2p::Multiaddr>,
    /// How often the node re-signs and republishes its name record.
    pub record_refresh_interval: std::time::Duration,
    /// Nodes the operator refuses: their connections are closed and their requests answered `denied`.
    pub denied_peers: Vec<libp2p::PeerId>,
    /// Requests one peer may make per minute; beyond it the answer is `rate_limited`.
    pub peer_requests_per_minute: u32,
    /// The longest wait between two delivery attempts to an unreachable node.
    pub outbox_max_backoff: std::time::Duration,
    /// Connections with no traffic are closed after this long. The DHT connects a node to many peers
    /// it then rarely talks to; a large federation (or a simulation of one) keeps fewer of them open
    /// with a shorter wait, at the cost of redialing peers it talks to less often than this.
    pub idle_connection_timeout: std::time::Duration,
    /// How this node looks up other nodes' users.
    pub lookups: Lookups,
    /// AutoNAT, the relay client and DCUtR, so the node finds out whether it is behind NAT and stays
    /// reachable if so. On for real nodes; simulations, whose in-memory network has no NAT, turn it off
    /// and save the three behaviours' state on every connection.
    pub nat_traversal: bool,
}

/// How this node looks up other nodes' users (a handle, a profile, a device list, a key bundle): from
/// the copy it keeps while that is recent, else at the user's home node, falling back on the copy when
/// the home node does not answer in time.
#[derive(Debug, Clone, Copy)]
pub struct Lookups {
    /// How long a lookup waits for the home node before answering from the copy, marked stale.
    /// Lookups with no copy to fall back on wait for the answer.
    pub timeout: std::time::Duration,
    /// A copy younger than this answers without asking the home node.
    pub max_age: std::time::Duration,
}

impl Default for Lookups {
    fn default() -> Self {
        Self {
            timeout: std::time::Duration::from_millis(300),
            max_age: std::time::Duration::from_secs(30),
        }
    }
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            name: None,
            p2p_listen: DEFAULT_P2P_LISTEN
                .iter()
                .map(|address| address.parse().expect("a valid multiaddr"))
                .collect(),
            bootstrap: Vec::new(),
            record_refresh_interval: std::time::Duration::from_secs(10 * 60),
            denied_peers: Vec::new(),
            peer_requests_per_minute: 6000,
            outbox_max_backoff: std::time::Duration::from_secs(30),
            idle_connection_timeout: std::time::Duration::from_secs(120),
            lookups: Lookups::default(),
            nat_traversal: true,
        }
    }
}

/// Per-minute request budgets, as in the reference API's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Off for load tests and trusted deployments.
    pub enabled: bool,
    /// Register, login, refresh, password reset.
    pub auth: u32,
    /// Message sends (REST, WebSocket, broadcasts, forwards).
    pub messages: u32,
    /// Call creation.
    pub calls: u32,
    /// Everything else.
    pub general: u32,
    /// New WebSocket connections.
    pub websocket: u32,
    /// Failed logins against one account, from all addresses together, per 15 minutes; 0 for none.
    pub failed_logins_per_account: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            auth: 5,
            messages: 30,
            calls: 10,
            general: 100,
            websocket: 10,
            failed_logins_per_account: 10,
        }
    }
}

impl Config {
    /// Defaults with the given data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            access_token_ttl: Duration::from_secs(12 * 3600),
            refresh_token_ttl: Duration::from_secs(14 * 24 * 3600),
            reset_token_ttl: Duration::from_secs(30 * 60),
            dev_mode: false,
            max_connections_per_user: 10,
            connection_buffer: 1024,
            maintenance_interval: Duration::from_secs(60),
            upload_idle_timeout: Duration::from_secs(24 * 3600),
            ice_servers: Vec::new(),
            max_file_bytes: 50 * 1024 * 1024,
            webhook_retry_base: Duration::from_secs(2),
            rate_limits: RateLimits::default(),
            cors_origins: Vec::new(),
            connections: ConnectionLimits::default(),
            trusted_proxies: Vec::new(),
            federation: FederationConfig::default(),
            password_hashing: PasswordHashing::default(),
            allow_unencrypted: true,
            store_cache_bytes: DEFAULT_STORE_CACHE_BYTES,
            registration: Registration::Open,
        }
    }
}
