//! The processes of a run: one `parley bootstrap` per bootstrap node and one `parley node` per node,
//! each on 127.0.0.1 with ports chosen once (so a restart comes back where it was), its data under
//! `<out>/data/<name>` and its output in `<out>/logs/<name>.log`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::child::{Child, Recipe, free_tcp_port, free_udp_port};
use crate::Error;
use crate::scenario::Scenario;

/// How long a process may take to start: a bootstrap node to print its address, a node to answer
/// `/health` (debug builds open sled and start the swarm slowly).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a starting process is looked at.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// A `/health` request slower than this is no answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest outbox back-off of a node: short, as in engine 1, so recovery is measured rather than
/// waited for.
const OUTBOX_MAX_BACKOFF_SECS: &str = "5";

/// One process slot: how to start it, the running process if any, and the largest peak RSS any of its
/// incarnations reached.
struct Member {
    recipe: Recipe,
    running: Option<Child>,
    peak_rss: u64,
}

impl Member {
    async fn kill(&mut self) {
        if let Some(child) = self.running.take() {
            self.peak_rss = self.peak_rss.max(child.kill().await);
        }
    }
}

/// Peak resident memory of the fleet's processes, each the largest over its restarts.
pub(super) struct PeakRss {
    /// The user-hosting nodes', by node index.
    pub(super) nodes: Vec<u64>,
    /// The bootstrap nodes'.
    pub(super) bootstraps: Vec<u64>,
}

/// Every process of the run. Dropping it kills them all.
pub(super) struct Fleet {
    executable: PathBuf,
    http: reqwest::Client,
    bootstraps: Vec<Member>,
    nodes: Vec<Member>,
    urls: Vec<String>,
}

impl Fleet {
    /// Starts the bootstrap nodes, then every node pointed at them, and waits until each node answers
    /// `/health`. `log` is the nodes' log filter.
    pub(super) async fn start(scenario: &Scenario, executable: &Path, out: &Path, log: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(HEALTH_TIMEOUT)
            .build()
            .map_err(|err| Error::Engine(format!("an HTTP client: {err}")))?;
        let mut fleet = Self {
            executable: executable.to_path_buf(),
            http,
            bootstraps: Vec::new(),
            nodes: Vec::new(),
            urls: Vec::new(),
        };
        let (data, logs) = (out.join("data"), out.join("logs"));
        let mut addresses = Vec::new();
        for name in scenario.nodes().bootstrap() {
            let dir = make_dir(&data.join(name))?;
            let listen = format!("/ip4/127.0.0.1/udp/{}/quic-v1", free_udp_port()?);
            let recipe = Recipe {
                name: name.clone(),
                args: args(&[
                    &"bootstrap",
                    &"--key-file",
                    &dir.join("bootstrap.key"),
                    &"--listen",
                    &listen,
                    &"--log",
                    &log,
                ]),
                log: fresh_log(&logs, name)?,
            };
            let mut child = recipe.spawn(executable)?;
            addresses.push(printed_address(&recipe, &mut child).await?);
            fleet.bootstraps.push(Member {
                recipe,
                running: Some(child),
                peak_rss: 0,
            });
        }
        for name in scenario.nodes().names() {
            let dir = make_dir(&data.join(name))?;
            let http = format!("127.0.0.1:{}", free_tcp_port()?);
            let p2p = format!("/ip4/127.0.0.1/udp/{}/quic-v1", free_udp_port()?);
            let mut args = args(&[
                &"node",
                &"--data-dir",
                &dir,
                &"--http",
                &http,
                &"--p2p",
                &p2p,
                &"--name",
                name,
                &"--log",
                &log,
            ]);
            // Rate limits would throttle the simulated users, who all come from 127.0.0.1.
            args.extend(["--rate-limits", "off", "--outbox-max-backoff", OUTBOX_MAX_BACKOFF_SECS].map(OsString::from));
            for address in &addresses {
                args.extend(["--bootstrap", address.as_str()].map(OsString::from));
            }
            let recipe = Recipe {
                name: name.clone(),
                args,
                log: fresh_log(&logs, name)?,
            };
            let child = recipe.spawn(executable)?;
            fleet.urls.push(format!("http://{http}"));
            fleet.nodes.push(Member {
                recipe,
                running: Some(child),
                peak_rss: 0,
            });
        }
        for node in 0..fleet.nodes.len() {
            fleet.wait_healthy(node).await?;
        }
        Ok(fleet)
    }

    /// Each node's base URL, by node index.
    pub(super) fn urls(&self) -> Vec<String> {
        self.urls.clone()
    }

    /// Kills node `node` abruptly (SIGKILL).
    pub(super) async fn crash(&mut self, node: usize) {
        self.nodes[node].kill().await;
    }

    /// Starts node `node` again on its data and ports, and waits until it answers `/health`.
    pub(super) async fn restart(&mut self, node: usize) -> Result<(), Error> {
        let member = &mut self.nodes[node];
        member.kill().await;
        member.running = Some(member.recipe.spawn(&self.executable)?);
        self.wait_healthy(node).await
    }

    /// Kills bootstrap node `bootstrap` (SIGKILL).
    pub(super) async fn bootstrap_down(&mut self, bootstrap: usize) {
        self.bootstraps[bootstrap].kill().await;
    }

    /// Starts bootstrap node `bootstrap` again, with its key and port (so at its old address).
    pub(super) async fn bootstrap_up(&mut self, bootstrap: usize) -> Result<(), Error> {
        let member = &mut self.bootstraps[bootstrap];
        member.kill().await;
        let child = member.recipe.spawn(&self.executable)?;
        member.running = Some(child);
        Ok(())
    }

    /// Stops every process (SIGTERM, SIGKILL after a bound), all at once, and reports their peaks.
    pub(super) async fn stop(&mut self) -> PeakRss {
        let stopping = self
            .nodes
            .iter_mut()
            .chain(self.bootstraps.iter_mut())
            .map(|member| async move {
                if let Some(child) = member.running.take() {
                    member.peak_rss = member.peak_rss.max(child.stop().await);
                }
            });
        futures_util::future::join_all(stopping).await;
        PeakRss {
            nodes: self.nodes.iter().map(|member| member.peak_rss).collect(),
            bootstraps: self.bootstraps.iter().map(|member| member.peak_rss).collect(),
        }
    }

    async fn wait_healthy(&mut self, node: usize) -> Result<(), Error> {
        let url = format!("{}/health", self.urls[node]);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let member = &mut self.nodes[node];
        loop {
            let answer = self.http.get(&url).send().await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return Ok(());
            }
            let failed = |why: String| {
                Error::Engine(format!(
                    "{} {why}; see {}",
                    member.recipe.name,
                    member.recipe.log.display()
                ))
            };
            match member.running.as_mut().map(Child::exited) {
                None => return Err(failed("is not running".to_owned())),
                Some(Some(status)) => return Err(failed(format!("exited ({status}) before answering /health"))),
                Some(None) if tokio::time::Instant::now() >= deadline => {
                    return Err(failed(format!("did not answer {url} within {START_TIMEOUT:?}")));
                }
                Some(None) => tokio::time::sleep(POLL_EVERY).await,
            }
        }
    }
}

/// The multiaddr a bootstrap node prints for nodes to use (`  --bootstrap /ip4/…/p2p/…`), read from its
/// log as it starts.
async fn printed_address(recipe: &Recipe, child: &mut Child) -> Result<String, Error> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let printed = std::fs::read_to_string(&recipe.log).unwrap_or_default();
        let address = printed
            .lines()
            .find_map(|line| line.trim().strip_prefix("--bootstrap "))
            .map(|address| address.trim().to_owned());
        if let Some(address) = address {
            return Ok(address);
        }
        let failed = |why: String| Error::Engine(format!("{} {why}; see {}", recipe.name, recipe.log.display()));
        if let Some(status) = child.exited() {
            return Err(failed(format!("exited ({status}) before printing its address")));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(format!("printed no address within {START_TIMEOUT:?}")));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn make_dir(dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(dir.to_path_buf())
}

/// `<logs>/<name>.log`, emptied: a log left by an earlier run in the same directory must not be read
/// for this run's bootstrap address.
fn fresh_log(logs: &Path, name: &str) -> Result<PathBuf, Error> {
    let log = make_dir(logs)?.join(format!("{name}.log"));
    match std::fs::remove_file(&log) {
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(Error::Io { path: log, source }),
        _ => Ok(log),
    }
}

fn args(parts: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    parts.iter().map(|part| part.as_ref().to_os_string()).collect()
}
