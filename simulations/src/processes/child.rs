//! One process of the fleet: `parley node` or `parley bootstrap` started from a fixed command line (so a
//! restart is the same node on the same data and ports), its output appended to a log file, and stopped
//! within a bounded time however it behaves.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Error;
use crate::engine::peak_rss_of;

/// How long a stopped node may take to drain its connections and flush its store.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long reaping a killed process may take (the kernel's work: near instant).
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start one process of the fleet.
pub(super) struct Recipe {
    /// The scenario's name for it, for messages.
    pub(super) name: String,
    /// Arguments after the executable.
    pub(super) args: Vec<OsString>,
    /// Where its stdout and stderr go (appended across restarts).
    pub(super) log: PathBuf,
}

/// A running process. Dropping it kills it (SIGKILL), so no error path leaves a node behind.
pub(super) struct Child {
    process: tokio::process::Child,
}

impl Recipe {
    /// Starts the process. Environment variables `PARLEY_*` are not passed on: the command line says
    /// everything, and a stray one (a deny list, a rate limit) would change the node under test.
    pub(super) fn spawn(&self, executable: &Path) -> Result<Child, Error> {
        let io = |source| Error::Io {
            path: self.log.clone(),
            source,
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io)?;
        let mut command = tokio::process::Command::new(executable);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PARLEY_") {
                command.env_remove(key);
            }
        }
        let process = command
            .spawn()
            .map_err(|err| Error::Engine(format!("{}: cannot start {}: {err}", self.name, executable.display())))?;
        Ok(Child { process })
    }
}

impl Child {
    /// Its peak resident memory so far (0 once it has exited).
    pub(super) fn peak_rss(&self) -> u64 {
        self.process.id().map_or(0, |pid| peak_rss_of(&pid.to_string()))
    }

    /// How it exited, if it has.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// Kills it at once (SIGKILL: no shutdown, as in a crash) and reaps it; returns its peak RSS.
    pub(super) async fn kill(mut self) -> u64 {
        let peak = self.peak_rss();
        let _ = self.process.start_kill();
        let _ = tokio::time::timeout(REAP_TIMEOUT, self.process.wait()).await;
        peak
    }

    /// Asks it to stop (SIGTERM: a node drains its connections and flushes its store), kills it if it
    /// has not within the stop timeout, and reaps it; returns its peak RSS.
    pub(super) async fn stop(mut self) -> u64 {
        let peak = self.peak_rss();
        // `id` is `None` once reaped, so a recycled pid is never signalled.
        let Some(pid) = self.process.id().and_then(|pid| i32::try_from(pid).ok()) else {
            return peak;
        };
        if kill(Pid::from_raw(pid), Signal::SIGTERM).is_ok()
            && tokio::time::timeout(STOP_TIMEOUT, self.process.wait()).await.is_ok()
        {
            return peak;
        }
        self.kill().await.max(peak)
    }
}

/// A port on 127.0.0.1 free for TCP now (the OS picks it; the listener is closed at once for the
/// child to bind it).
pub(super) fn free_tcp_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(no_port)?;
    Ok(listener.local_addr().map_err(no_port)?.port())
}

/// A port on 127.0.0.1 free for UDP (QUIC) now.
pub(super) fn free_udp_port() -> Result<u16, Error> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(no_port)?;
    Ok(socket.local_addr().map_err(no_port)?.port())
}

fn no_port(err: std::io::Error) -> Error {
    Error::Engine(format!("no free port on 127.0.0.1: {err}"))
}
