//! Parley only: what the hop between two nodes adds. A bootstrap node and two Parley nodes that find
//! each other through it, all on 127.0.0.1 (QUIC). Each pair's sender lives on node A, which hosts
//! their DM, and the partner on node B, so every message crosses A -> B and every receipt B -> A. The
//! same row runs between the sender and a partner on node A, interleaved with it, and the report is
//! the difference in latency, and the CPU per message of both nodes together.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::Row;
use crate::api::Registered;
use crate::contenders::measured;
use crate::measure::median;
use crate::pairs;
use crate::parley::{ParleyInbox, ParleyNode, ParleyOutbox, spawn_until};
use crate::report::Sample;

/// `PARLEY_COMPARE_FEDERATION`'s run.
pub(crate) struct Federation {
    pub(crate) row: Row,
    pub(crate) repeats: usize,
    pub(crate) timeout: Duration,
}

/// Messages per pair sent once over both paths before measuring, so neither pays for first contact
/// (the DM reaching node B, QUIC connections, caches).
const WARM_UP: u32 = 20;

/// The bootstrap process; killed on drop.
struct Bootstrap {
    child: Child,
    address: String,
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bootstrap {
    fn start(binary: &Path, dir: &Path) -> Result<Self, String> {
        let mut command = Command::new(binary);
        command
            .args(["bootstrap", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--log", "warn"])
            .arg("--key-file")
            .arg(dir.join("bootstrap.key"));
        let (child, address) = spawn_until(command, |word| word.starts_with("/ip4/") && word.contains("/p2p/"))?;
        Ok(Self { child, address })
    }
}

type Connected = pairs::Pair<ParleyOutbox, ParleyInbox, ParleyInbox>;

/// Every pair's sender, its partner on its own node and its partner on the other, and the two DMs.
struct Pairs {
    senders: Vec<Registered>,
    local: Vec<(Registered, String)>,
    remote: Vec<(Registered, String)>,
}

/// One build's bootstrap node, two nodes and their accounts.
struct Setup {
    name: &'static str,
    _bootstrap: Bootstrap,
    a: ParleyNode,
    b: ParleyNode,
    pairs: Pairs,
}

impl Setup {
    async fn start(name: &'static str, binary: &Path, dir: &Path, pairs: usize) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let bootstrap = Bootstrap::start(binary, dir)?;
        let node = |node_name: &str| {
            let data = dir.join(node_name);
            std::fs::create_dir_all(&data).map_err(|err| format!("{}: {err}", data.display()))?;
            let args = ["--name", node_name, "--bootstrap", &bootstrap.address].map(str::to_owned);
            ParleyNode::start_with(binary, &data, None, args.to_vec())
        };
        let (a, b) = (node("bench-a")?, node("bench-b")?);
        eprintln!("[federation] {name}: two nodes and a bootstrap node started; setting up {pairs} pairs ...");
        let pairs = set_up(&a, &b, pairs).await?;
        Ok(Self {
            name,
            _bootstrap: bootstrap,
            a,
            b,
            pairs,
        })
    }

    /// Every pair connected, its partner on node B when `remote`, else on node A.
    async fn connect(&self, remote: bool, window: usize) -> Result<Vec<Connected>, String> {
        let mut connected = Vec::new();
        for (i, sender) in self.pairs.senders.iter().enumerate() {
            let ((partner, body), partner_node) = if remote {
                (&self.pairs.remote[i], &self.b)
            } else {
                (&self.pairs.local[i], &self.a)
            };
            connected.push(Connected {
                sender_inbox: self.a.inbox(sender).await?,
                inbox: partner_node.inbox(partner).await?,
                outbox: self.a.outbox(sender, body, window),
            });
        }
        Ok(connected)
    }
}

/// Runs the row on one node and across two, for each build in `builds` (name and binary), all
/// interleaved; prints a table per build.
pub(crate) async fn run(settings: Federation, builds: &[(&'static str, std::path::PathBuf)]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|err| format!("temp dir: {err}"))?;
    let row = settings.row;
    let mut setups = Vec::new();
    for (name, binary) in builds {
        let build_dir = dir.path().join(name);
        setups.push(Setup::start(name, binary, &build_dir, row.users / 2).await?);
    }
    let mut run_id = 0;
    for setup in &setups {
        for remote in [false, true] {
            run_id += 1;
            pairs::run(
                setup.connect(remote, row.window).await?,
                run_id,
                WARM_UP,
                row.window,
                settings.timeout,
            )
            .await?;
        }
    }
    // samples[build][remote]
    let mut samples: Vec<[Vec<Sample>; 2]> = setups.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    let turns = 2 * setups.len();
    for repeat in 0..settings.repeats {
        // Rotate who goes first, so no run always follows the same one.
        for turn in 0..turns {
            let slot = (turn + repeat) % turns;
            let (build, remote) = (slot / 2, slot % 2 == 1);
            let setup = &setups[build];
            run_id += 1;
            eprintln!(
                "[federation {}/{}] {row} on {}, {} ...",
                repeat + 1,
                settings.repeats,
                setup.name,
                if remote { "across two nodes" } else { "on one node" }
            );
            let connected = setup.connect(remote, row.window).await?;
            let sample = measured(
                &[setup.a.pid(), setup.b.pid()],
                connected,
                row,
                run_id,
                settings.timeout,
            )
            .await?;
            eprintln!("    {sample}");
            samples[build][usize::from(remote)].push(sample);
        }
    }
    for (setup, samples) in setups.iter().zip(&samples) {
        print(setup.name, row, settings.repeats, samples);
    }
    Ok(())
}

/// Registers the accounts (senders and local partners on `a`, remote partners on `b`), lets `a` find
/// each remote partner, and makes both DMs of every pair, hosted on `a`.
async fn set_up(a: &ParleyNode, b: &ParleyNode, pairs: usize) -> Result<Pairs, String> {
    let mut set = Pairs {
        senders: Vec::new(),
        local: Vec::new(),
        remote: Vec::new(),
    };
    for i in 0..pairs {
        let sender = a.register(&format!("sender{i}")).await?;
        let local = a.register(&format!("local{i}")).await?;
        let remote_name = format!("remote{i}");
        let remote = b.register(&remote_name).await?;
        a.find(&sender, &format!("{remote_name}@bench-b")).await?;
        let local_dm = a.dm(&sender, &local).await?;
        let remote_dm = a.dm(&sender, &remote).await?;
        set.senders.push(sender);
        set.local.push((local, local_dm));
        set.remote.push((remote, remote_dm));
    }
    Ok(set)
}

fn print(name: &str, row: Row, repeats: usize, samples: &[Vec<Sample>; 2]) {
    let medians = |path: &[Sample]| {
        let of = |field: fn(&Sample) -> f64| median(&path.iter().map(field).collect::<Vec<_>>());
        [
            of(|s| s.per_second),
            of(|s| s.cpu_per_thousand),
            of(|s| s.p50),
            of(|s| s.p99),
        ]
    };
    let [local, remote] = [medians(&samples[0]), medians(&samples[1])];
    println!();
    println!("Federation, {name}, {row} (medians of {repeats}); CPU of both nodes:");
    println!();
    println!("| path | msgs/s | server CPU s per 1,000 msgs | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for (name, figures) in [("one node", local), ("across two nodes", remote)] {
        println!(
            "| {name} | {:.0} | {:.3} | {:.2} | {:.2} |",
            figures[0], figures[1], figures[2], figures[3]
        );
    }
    println!(
        "| the hop | {:.2}x | {:.2}x | +{:.2} | +{:.2} |",
        remote[0] / local[0],
        remote[1] / local[1],
        remote[2] - local[2],
        remote[3] - local[3]
    );
}
