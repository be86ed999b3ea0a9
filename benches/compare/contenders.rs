//! The two servers behind one face: start, register accounts, hold idle connections, run a row.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};

use crate::api::Registered;
use crate::ejabberd::Ejabberd;
use crate::group::{self, GroupSample};
use crate::pairs::{self, Inbox, Outbox, Pair};
use crate::parley::ParleyNode;
use crate::report::Sample;
use crate::xmpp::{XmppInbox, XmppSender};
use crate::xmpp_workload::{self, XmppAccount};
use crate::{Row, measure};

/// Registrations and connections made at once while setting up.
const SETUP_CONCURRENCY: usize = 16;

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Parley,
    Ejabberd,
    /// Another build of `parley` (`PARLEY_COMPARE_BASELINE`), for before/after figures from one run.
    Baseline,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Parley => "Parley",
            Kind::Ejabberd => "ejabberd",
            Kind::Baseline => "baseline",
        }
    }

    /// A Parley build's name and program; `None` for ejabberd, or a baseline without its path.
    pub(crate) fn parley_binary(self) -> Option<(&'static str, PathBuf)> {
        match self {
            Kind::Parley => Some((self.name(), PathBuf::from(env!("CARGO_BIN_EXE_parley")))),
            Kind::Baseline => {
                std::env::var_os("PARLEY_COMPARE_BASELINE").map(|path| (self.name(), PathBuf::from(path)))
            }
            Kind::Ejabberd => None,
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "parley" => Ok(Kind::Parley),
            "ejabberd" => Ok(Kind::Ejabberd),
            "baseline" => Ok(Kind::Baseline),
            other => Err(format!("{other:?}: the servers are parley, ejabberd and baseline")),
        }
    }
}

pub(crate) enum Contender {
    Parley {
        kind: Kind,
        node: ParleyNode,
        accounts: Vec<Registered>,
        /// Per pair, the body every send into its DM shares.
        dms: Vec<String>,
    },
    Ejabberd {
        server: Ejabberd,
        accounts: Vec<XmppAccount>,
    },
}

/// Connections held open until dropped.
pub(crate) enum Held {
    Parley(#[allow(dead_code)] Vec<crate::api::Socket>),
    Ejabberd(#[allow(dead_code)] Vec<(XmppSender, XmppInbox)>),
}

/// The bench and both servers (which inherit it) hold thousands of sockets; the soft open-file limit
/// is often 1,024.
/// As root the hard limit itself is raised, for `PARLEY_COMPARE_HELD_SOCKETS` in the hundred thousands.
pub(crate) fn raise_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const WANTED: u64 = 1 << 20;
    let limit = getrlimit(Resource::Nofile);
    let raised = |maximum: Option<u64>| Rlimit {
        current: maximum,
        maximum,
    };
    if setrlimit(Resource::Nofile, raised(Some(WANTED))).is_err()
        && let Err(err) = setrlimit(Resource::Nofile, raised(limit.maximum))
    {
        eprintln!("compare: could not raise the open-file limit: {err}");
    }
}

impl Contender {
    /// Starts a fresh server in `dir`; `store_cache_mb` caps a Parley node's page cache.
    pub(crate) fn start(kind: Kind, dir: &Path, store_cache_mb: Option<u64>) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        Ok(match kind {
            Kind::Parley | Kind::Baseline => {
                let (_, binary) = kind
                    .parley_binary()
                    .ok_or("the baseline server needs PARLEY_COMPARE_BASELINE, the path of another parley build")?;
                Contender::Parley {
                    kind,
                    node: ParleyNode::start(&binary, dir, store_cache_mb)?,
                    accounts: Vec::new(),
                    dms: Vec::new(),
                }
            }
            Kind::Ejabberd => {
                crate::ejabberd::ensure_installed()?;
                Contender::Ejabberd {
                    server: Ejabberd::start(dir)?,
                    accounts: Vec::new(),
                }
            }
        })
    }

    /// Parley only: stops the node, runs `between` while its data dir is free, and starts it again on
    /// the same data (`ParleyNode::restart`).
    pub(crate) fn restart(&mut self, between: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        match self {
            Contender::Parley { node, .. } => node.restart(between),
            Contender::Ejabberd { .. } => Err("only a Parley node restarts on its own data here".into()),
        }
    }

    /// Parley only: how long the first commit after start took (`ParleyNode::first_commit`).
    pub(crate) async fn first_commit(&self, name: &str, limit: Duration) -> Result<Option<Duration>, String> {
        match self {
            Contender::Parley { node, .. } => node.first_commit(name, limit).await.map(Some),
            Contender::Ejabberd { .. } => Ok(None),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Contender::Parley { kind, .. } => kind.name(),
            Contender::Ejabberd { .. } => Kind::Ejabberd.name(),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        match self {
            Contender::Parley { node, .. } => node.pid(),
            Contender::Ejabberd { server, .. } => server.pid(),
        }
    }

    pub(crate) async fn register(&mut self, count: usize) -> Result<(), String> {
        self.register_as("bench", count).await
    }

    /// Registers `count` accounts named `prefix0`, `prefix1`, ...
    pub(crate) async fn register_as(&mut self, prefix: &str, count: usize) -> Result<(), String> {
        let names = (0..count).map(|i| format!("{prefix}{i}"));
        match self {
            Contender::Parley { node, accounts, .. } => {
                let node = &*node;
                *accounts = futures_util::stream::iter(names)
                    .map(|name| async move { node.register(&name).await })
                    .buffered(SETUP_CONCURRENCY)
                    .try_collect()
                    .await?;
            }
            Contender::Ejabberd { server, accounts } => {
                let server = &*server;
                *accounts = futures_util::stream::iter(names)
                    .map(|name| async move { xmpp_workload::register(server, &name).await })
                    .buffered(SETUP_CONCURRENCY)
                    .try_collect()
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn hold_idle(&self, count: usize) -> Result<Held, String> {
        Ok(match self {
            Contender::Parley { node, accounts, .. } => Held::Parley(
                futures_util::stream::iter(&accounts[..count])
                    .map(|account| node.connect(account))
                    .buffered(SETUP_CONCURRENCY)
                    .try_collect()
                    .await?,
            ),
            Contender::Ejabberd { server, accounts } => Held::Ejabberd(
                futures_util::stream::iter(&accounts[..count])
                    .map(|account| xmpp_workload::connect(server, account))
                    .buffered(SETUP_CONCURRENCY)
                    .try_collect()
                    .await?,
            ),
        })
    }

    /// Parley only: holds `count` idle sockets over the registered accounts; says how many bytes of
    /// resident memory they added and how long opening them took.
    pub(crate) async fn hold_many(&self, count: usize) -> Result<Option<(u64, std::time::Duration)>, String> {
        let Contender::Parley { node, accounts, .. } = self else {
            return Ok(None);
        };
        let before = measure::resident_bytes(node.pid())?;
        let started = std::time::Instant::now();
        let held = node.hold(accounts, count).await?;
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let grown = measure::resident_bytes(node.pid())?.saturating_sub(before);
        drop(held);
        Ok(Some((grown, took)))
    }

    /// Parley only: one sender into a group (`group.rs`).
    pub(crate) async fn group(&self, shape: Row, timeout: Duration) -> Result<Option<GroupSample>, String> {
        let Contender::Parley { node, accounts, .. } = self else {
            return Ok(None);
        };
        if shape.users > accounts.len() {
            return Err(format!("a group of {} needs as many accounts", shape.users));
        }
        group::run(node, accounts, shape.users, shape.messages, shape.window, timeout)
            .await
            .map(Some)
    }

    /// Whatever a row needs beyond accounts: Parley's DMs between partners.
    pub(crate) async fn prepare(&mut self, users: usize) -> Result<(), String> {
        if let Contender::Parley {
            node, accounts, dms, ..
        } = self
        {
            for pair in accounts[..users].chunks_exact(2) {
                dms.push(node.dm(&pair[0], &pair[1]).await?);
            }
        }
        Ok(())
    }

    pub(crate) async fn run(&self, row: Row, run_id: u32, timeout: Duration) -> Result<Sample, String> {
        let pairs = row.users / 2;
        match self {
            Contender::Parley {
                node, accounts, dms, ..
            } => {
                let mut connected = Vec::with_capacity(pairs);
                for (pair, body) in accounts[..row.users].chunks_exact(2).zip(dms) {
                    connected.push(node.pair(&pair[0], &pair[1], body, row.window).await?);
                }
                measured(&[node.pid()], connected, row, run_id, timeout).await
            }
            Contender::Ejabberd { server, accounts } => {
                let mut connected = Vec::with_capacity(pairs);
                for pair in accounts[..row.users].chunks_exact(2) {
                    connected.push(xmpp_workload::pair(server, &pair[0], &pair[1]).await?);
                }
                measured(&[server.pid()], connected, row, run_id, timeout).await
            }
        }
    }
}

/// Runs a row over connected pairs and reads the CPU time of the server's processes around it.
pub(crate) async fn measured<O: Outbox, S: Inbox, I: Inbox>(
    pids: &[u32],
    connected: Vec<Pair<O, S, I>>,
    row: Row,
    run_id: u32,
    timeout: Duration,
) -> Result<Sample, String> {
    let cpu_seconds = || {
        pids.iter()
            .map(|&pid| measure::cpu_seconds(pid))
            .sum::<Result<f64, String>>()
    };
    let before = cpu_seconds()?;
    let outcome = pairs::run(connected, run_id, row.messages, row.window, timeout).await?;
    tokio::time::sleep(measure::SETTLE).await;
    let cpu = cpu_seconds()? - before;
    // Only now, with the CPU read, may the run's sessions close.
    drop(outcome.connections);
    Ok(Sample::new(outcome.latencies, outcome.wall, cpu))
}
