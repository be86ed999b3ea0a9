//! Management of a private, throw-away ejabberd instance for benchmarking.
//!
//! The instance is started straight from `erl` (not through `ejabberdctl`) so
//! that it runs as the calling user (root works fine), so that every file it
//! writes (config, Mnesia spool, logs, Erlang cookie, crash dump) lives under
//! one caller-chosen directory, and so that our child process *is* the
//! `beam.smp` doing the work, which makes CPU/RSS accounting trivial.

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod install;

pub use install::ensure_installed;

/// The Erlang launcher; it `exec`s `erlexec`, which `exec`s `beam.smp`, so
/// the spawned child's pid ends up being the emulator's pid.
const ERL: &str = "/usr/bin/erl";

/// Where Debian puts ejabberd's own OTP application (`ERL_LIBS` for `erl`).
const EJABBERD_LIBS: &str = "/usr/lib/x86_64-linux-gnu";

/// The single virtual host served by the instance.
const DOMAIN: &str = "localhost";

/// Upper bound for the VM to boot, create a fresh Mnesia schema and open
/// the c2s listener (typically 2-4 s on this machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Upper bound for a graceful `init:stop()` after SIGTERM before we SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running private ejabberd; stopped (with all its OS processes except
/// the shared `epmd` name daemon) when dropped.
pub struct Ejabberd {
    child: Child,
    pid: u32,
    port: u16,
    dir: PathBuf,
}

impl Ejabberd {
    /// Starts a fresh instance whose config, spool, logs and cookie live in
    /// `dir`, serving plain-TCP c2s on a free 127.0.0.1 port, and waits until
    /// it answers an XMPP stream header with stream features.
    pub fn start(dir: &Path) -> Result<Ejabberd, String> {
        let port = free_port()?;
        let node = format!("parleybench{port}@localhost");
        let layout = Layout::create(dir)?;
        layout.write_files(port)?;
        let child = spawn_vm(&layout, &node)?;
        let mut server = Ejabberd {
            pid: child.id(),
            child,
            port,
            dir: dir.to_path_buf(),
        };
        server.pid = server.resolve_beam_pid()?;
        server.wait_until_serving()?;
        Ok(server)
    }

    /// Pid of the `beam.smp` process running ejabberd (for /proc accounting).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Socket address of the c2s listener.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The XMPP domain (virtual host) accounts live on.
    pub fn domain(&self) -> &str {
        DOMAIN
    }

    /// `erl` normally execs its way to `beam.smp`; if a future launcher adds
    /// a wrapper process instead, find the emulator among its children.
    fn resolve_beam_pid(&mut self) -> Result<u32, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if process_name(self.pid).as_deref() == Some("beam.smp") {
                return Ok(self.pid);
            }
            if let Some(pid) = child_named(self.pid, "beam.smp") {
                return Ok(pid);
            }
            self.fail_if_exited()?;
            if Instant::now() > deadline {
                return Err(format!("no beam.smp process found under pid {}", self.pid));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls until a c2s stream can be opened, failing early (with the log
    /// tail) if the VM dies, e.g. because of a config error.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.fail_if_exited()?;
            if stream_features_seen(self.addr()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ejabberd did not serve c2s on {} within {START_TIMEOUT:?}; log tail:\n{}",
                    self.addr(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn fail_if_exited(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "ejabberd exited during startup with {status}; log tail:\n{}",
                self.log_tail()
            )),
            Err(e) => Err(format!("cannot poll ejabberd process: {e}")),
        }
    }

    /// Last lines of the VM's console output and ejabberd's log, for errors.
    fn log_tail(&self) -> String {
        let layout = Layout::under(&self.dir);
        let mut text = String::new();
        for path in [layout.console_log(), layout.ejabberd_log()] {
            let content = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let start = lines.len().saturating_sub(20);
            text.push_str(&format!("== {} ==\n", path.display()));
            text.push_str(&lines[start..].join("\n"));
            text.push('\n');
        }
        text
    }

    /// SIGTERM makes the Erlang VM run `init:stop()` (clean Mnesia close);
    /// SIGKILL is the fallback. `erl_child_setup` exits with the VM.
    fn shutdown(&mut self) -> Result<(), String> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(format!("cannot poll ejabberd process: {e}")),
            }
        }
        self.child
            .kill()
            .and_then(|()| self.child.wait().map(drop))
            .map_err(|e| format!("cannot kill ejabberd (pid {}): {e}", self.pid))
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("warning: {e}");
        }
    }
}

/// Paths of everything the instance writes, all below one directory.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn under(dir: &Path) -> Self {
        Layout { dir: dir.to_path_buf() }
    }

    /// Creates the directory tree; the spool must be empty so Mnesia starts
    /// from a fresh schema (no accounts left over from an earlier run).
    fn create(dir: &Path) -> Result<Self, String> {
        let layout = Self::under(dir);
        let spool = layout.spool();
        if spool.exists() {
            std::fs::remove_dir_all(&spool).map_err(|e| format!("cannot clear old spool {}: {e}", spool.display()))?;
        }
        for sub in [spool, layout.logs()] {
            std::fs::create_dir_all(&sub).map_err(|e| format!("cannot create {}: {e}", sub.display()))?;
        }
        Ok(layout)
    }

    fn spool(&self) -> PathBuf {
        self.dir.join("spool")
    }

    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    fn config(&self) -> PathBuf {
        self.dir.join("ejabberd.yml")
    }

    fn cookie(&self) -> PathBuf {
        self.dir.join(".erlang.cookie")
    }

    fn console_log(&self) -> PathBuf {
        self.logs().join("console.log")
    }

    fn ejabberd_log(&self) -> PathBuf {
        self.logs().join("ejabberd.log")
    }

    /// Writes the config and a random cookie (mode 0400, as Erlang demands);
    /// with `HOME` pointing here, neither the instance nor our ctl nodes
    /// ever read the system instance's cookie.
    fn write_files(&self, port: u16) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let config = self.config();
        std::fs::write(&config, config_yaml(port)).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let cookie = self.cookie();
        let _ = std::fs::remove_file(&cookie);
        std::fs::write(&cookie, format!("PB{:016X}", random_u64()))
            .and_then(|()| std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o400)))
            .map_err(|e| format!("cannot write {}: {e}", cookie.display()))
    }
}

/// The ejabberd configuration, tuned so that the server (not limits) is
/// what a benchmark measures:
/// - one plain c2s listener on 127.0.0.1 (no STARTTLS offered, no certs),
///   with `shaper: none` and the `c2s_shaper` rule set to `none`;
/// - SASL restricted to PLAIN over internal auth with plain-text password
///   storage, so logins do not pay for SCRAM's PBKDF2 on either side;
/// - in-band registration (mod_register) open to everyone and
///   `registration_timeout: infinity` (the default allows one registration
///   per IP every 600 s);
/// - `max_fsm_queue` raised far above any backlog a benchmark creates;
/// - `cache_size` (auth, roster, ... caches; default 1000 entries) raised
///   so thousands of logins do not thrash the auth cache;
/// - only roster, offline storage (default backend), disco and register
///   modules; in particular no MAM, no stream management, no carbons.
fn config_yaml(port: u16) -> String {
    format!(
        r#"hosts:
  - {DOMAIN}
loglevel: warning
log_rotate_count: 0
hide_sensitive_log_data: true
auth_method: [internal]
auth_password_format: plain
disable_sasl_mechanisms:
  - digest-md5
  - x-oauth2
  - scram-sha-1
  - scram-sha-1-plus
  - scram-sha-256
  - scram-sha-256-plus
  - scram-sha-512
  - scram-sha-512-plus
registration_timeout: infinity
max_fsm_queue: 1000000
cache_size: 100000
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: false
    starttls_required: false
    backlog: 4096
acl:
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 5000
  c2s_shaper: none
modules:
  mod_disco: {{}}
  mod_offline: {{}}
  mod_roster: {{}}
  mod_register:
    access: register
    ip_access: all
    password_strength: 0
    welcome_message: {{}}
"#
    )
}

/// Builds an `erl` invocation with ejabberd's code path and `HOME` set to
/// the instance directory (so `.erlang.cookie` is read from there). If no
/// `epmd` runs yet, the VM starts one that outlives it; `ERL_EPMD_ADDRESS`
/// keeps such an `epmd` on loopback.
fn erl_command(dir: &Path) -> Command {
    let mut cmd = Command::new(ERL);
    cmd.env("HOME", dir)
        .env("ERL_LIBS", EJABBERD_LIBS)
        .env("ERL_CRASH_DUMP", dir.join("logs").join("erl_crash.dump"))
        .env("ERL_CRASH_DUMP_BYTES", "0")
        .env("ERL_EPMD_ADDRESS", "127.0.0.1")
        .current_dir(dir);
    cmd
}

/// Spawns the VM in the foreground (`-noinput`, not `-detached`) so it stays
/// our child: we own its lifetime and its pid.
fn spawn_vm(layout: &Layout, node: &str) -> Result<Child, String> {
    let console = std::fs::File::create(layout.console_log())
        .map_err(|e| format!("cannot create {}: {e}", layout.console_log().display()))?;
    let console_err = console
        .try_clone()
        .map_err(|e| format!("cannot duplicate console log handle: {e}"))?;
    let spool = format!("\"{}\"", layout.spool().display());
    erl_command(&layout.dir)
        .env("EJABBERD_CONFIG_PATH", layout.config())
        .env("EJABBERD_LOG_PATH", layout.ejabberd_log())
        .args(["-sname", node, "-noinput"])
        .args(["+P", "1000000", "+Q", "65536"])
        .args(["-mnesia", "dir", &spool, "-s", "ejabberd"])
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(console_err)
        .spawn()
        .map_err(|e| format!("cannot start {ERL}: {e}"))
}

/// Asks the kernel for a free port, then releases it for ejabberd to bind.
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind a probe socket on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read probe socket address: {e}"))
}

/// True once the server answers a c2s stream header with `<stream:features`,
/// which means the listener, auth backend and modules are all up.
fn stream_features_seen(addr: SocketAddr) -> bool {
    let Ok(mut sock) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let header = format!(
        "<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    );
    if sock.set_read_timeout(Some(Duration::from_secs(2))).is_err() || sock.write_all(header.as_bytes()).is_err() {
        return false;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = sock.read(&mut buf) {
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(16).any(|w| w == b"<stream:features") {
            return true;
        }
    }
    false
}

/// The `comm` name of a process, if it exists.
fn process_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_owned())
}

/// Finds a direct child of `parent` with the given `comm` name.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| parent_pid(pid) == Some(parent) && process_name(pid).as_deref() == Some(name))
}

/// Parent pid from /proc/<pid>/stat (field 4, after the parenthesised comm).
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// A random number from std's per-process SipHash keys (no extra crate).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}
