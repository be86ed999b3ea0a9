//! Hosts of the tests' own: Linux network namespaces joined by veth pairs, for federation across
//! networks loopback cannot stand for (UDP blocked, NAT between hosts). Everything lives inside the
//! namespaces (addresses, routes, firewall rules), so nothing of the machine's own network changes and
//! concurrent runs cannot collide. Needs root, as CI has; a machine without it fails these tests rather
//! than skipping them.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One network namespace, deleted (with its interfaces) when dropped.
pub(crate) struct Host {
    name: String,
}

impl Host {
    pub(crate) fn new() -> Self {
        let name = format!("parley-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        run(Command::new("ip").args(["netns", "add", &name]), "ip netns add");
        let host = Self { name };
        host.sh("ip link set lo up");
        host
    }

    /// Runs a shell script inside this host, failing the test if it fails; returns its stdout.
    pub(crate) fn sh(&self, script: &str) -> String {
        run(self.command("sh").args(["-c", script]), script)
    }

    /// `program` to be run inside this host (`ip netns exec` sets the namespace, then execs it: the
    /// child's pid is the program's own, so killing it kills the program).
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Drops every UDP packet in and out of this host, as a network that only lets TCP through.
    pub(crate) fn block_udp(&self) {
        self.sh("iptables -A INPUT -p udp -j DROP && iptables -A OUTPUT -p udp -j DROP");
    }

    /// UDP packets this host's firewall dropped so far (in and out).
    pub(crate) fn dropped_udp_packets(&self) -> u64 {
        self.sh("iptables -L INPUT -v -n -x && iptables -L OUTPUT -v -n -x")
            .lines()
            // With -n the protocol shows as its number: 17 is UDP, and only UDP is dropped here.
            .filter(|line| line.split_whitespace().nth(2) == Some("DROP"))
            .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    /// Runs `future` on a runtime of its own whose sockets are this host's: the thread running it
    /// enters the namespace first, and a current-thread runtime opens every socket on that thread.
    pub(crate) fn block_on<T: Send>(&self, future: impl Future<Output = T> + Send) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let namespace = std::fs::File::open(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
                    // SAFETY: setns on a namespace file this thread holds open changes only this
                    // thread's network namespace.
                    let entered = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(future)
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Host {
    /// Lets this host route between its links (it is a router, or a NAT).
    pub(crate) fn forward(&self) {
        self.sh("sysctl -qw net.ipv4.ip_forward=1");
    }

    /// Starts `parley bootstrap` here, its key in `dir` (made if missing), listening on `listen`
    /// (comma-separated multiaddrs) with `extra` arguments; returns it with the addresses it prints for
    /// nodes, one per listen address.
    pub(crate) fn start_bootstrap(&self, dir: &Path, listen: &str, extra: &[&str]) -> (Running, Vec<String>) {
        std::fs::create_dir_all(dir).unwrap();
        let mut child = self
            .command(env!("CARGO_BIN_EXE_parley"))
            .args(["bootstrap", "--log", "warn", "--key-file"])
            .arg(dir.join("bootstrap.key"))
            .args(["--listen", listen])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("parley bootstrap starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let running = Running(child);
        let mut lines = stdout.lines().map_while(Result::ok);
        let wanted = listen.split(',').count();
        let mut addresses = Vec::new();
        for line in lines.by_ref() {
            if let Some(address) = line.trim().strip_prefix("--bootstrap ") {
                addresses.push(address.to_owned());
                if addresses.len() == wanted {
                    break;
                }
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        (running, addresses)
    }

    /// Starts `parley node` named `name` here, its data in `dir`: its API at `http_ip`, federating on
    /// `p2p` (comma-separated multiaddrs) through `bootstrap`; returns it with its API's URL.
    pub(crate) fn start_node(
        &self,
        name: &str,
        dir: &Path,
        http_ip: &str,
        p2p: &str,
        bootstrap: &[String],
    ) -> (Running, String) {
        let mut command = self.command(env!("CARGO_BIN_EXE_parley"));
        command
            .args([
                "node",
                "--http",
                &format!("{http_ip}:0"),
                "--registration",
                "open",
                "--dev",
            ])
            .args(["--rate-limits", "off", "--log", "warn"])
            .args(["--name", name, "--p2p", p2p, "--bootstrap", &bootstrap.join(",")])
            .arg("--data-dir")
            .arg(dir);
        let (child, base) = crate::support::spawn_node(command);
        let running = Running(child);
        (running, base.unwrap_or_else(|| panic!("{name} exited before serving")))
    }
}

/// Listen addresses on both transports at `ip`, on ports the system picks.
pub(crate) fn quic_and_tcp(ip: &str) -> String {
    format!("/ip4/{ip}/udp/0/quic-v1,/ip4/{ip}/tcp/0")
}

/// A process killed when the test ends, however it ends.
pub(crate) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.name]).status();
    }
}

/// Joins two hosts with a veth pair, `a` at `a_address` and `b` at `b_address` (each `address/prefix`).
pub(crate) fn link(a: &Host, a_address: &str, b: &Host, b_address: &str) {
    let interface = format!("veth{}", NEXT.fetch_add(1, Ordering::Relaxed));
    run(
        Command::new("ip")
            .args(["-n", &a.name, "link", "add", &interface, "type", "veth", "peer", "name"])
            .args([&interface, "netns", &b.name]),
        "ip link add",
    );
    for (host, address) in [(a, a_address), (b, b_address)] {
        host.sh(&format!(
            "ip addr add {address} dev {interface} && ip link set {interface} up"
        ));
    }
}

fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(
        output.status.success(),
        "{what} failed (network namespaces need root): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
