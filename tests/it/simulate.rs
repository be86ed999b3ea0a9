//! `parley simulate`: the in-process engine runs real nodes over the simulated network and measures
//! what they delivered. Scenarios here are small so the suite stays quick; faults are real (a
//! partition cuts the simulated links, a crash drops a node's runtime and reopens its sled directory).

use std::time::Duration;

use simulations::{Clock, RunOptions, Scenario, Summary};

use crate::support::output_within;

/// A three-node scenario with a fault appended; short enough for the suite.
fn scenario(seed: u64, faults: &str) -> Scenario {
    let text = format!(
        r#"
name = "test"
seed = {seed}
duration = "20s"

[nodes]
count = 3

[users]
per_node = 4

[conversations]
dms = 6
groups = 2
group_size = {{ min = 3, max = 4 }}
cross_node_fraction = 0.75

[traffic]
rate_per_user = 0.5
start_after = "1s"

[network]
latency = "10ms"
jitter = "2ms"

{faults}
"#
    );
    Scenario::from_toml(&text).unwrap()
}

/// Runs `scenario` on the simulated clock (which needs the current-thread runtime `#[tokio::test]`
/// gives).
async fn run(scenario: &Scenario) -> (Summary, tempfile::TempDir) {
    run_on(scenario, Clock::Simulated).await
}

async fn run_on(scenario: &Scenario, clock: Clock) -> (Summary, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.progress = false;
    options.drain_timeout = Duration::from_secs(90);
    options.clock = clock;
    let summary = simulations::run(scenario, &options).await.unwrap();
    (summary, out)
}

/// Rows of `deliveries.csv` as (sent ms, delivered ms, sender node, recipient node).
fn deliveries(out: &tempfile::TempDir) -> Vec<(f64, f64, usize, usize)> {
    let text = std::fs::read_to_string(out.path().join("deliveries.csv")).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("message,conversation,sender"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (
                fields[7].parse().unwrap(),
                fields[8].parse().unwrap(),
                fields[3].parse().unwrap(),
                fields[5].parse().unwrap(),
            )
        })
        .collect()
}

fn assert_everything_arrived(summary: &Summary) {
    assert!(summary.deliveries_expected > 0, "{summary:?}");
    assert_eq!(summary.messages_acknowledged, summary.messages_planned, "{summary:?}");
    assert_eq!(summary.deliveries, summary.deliveries_expected, "{summary:?}");
    assert_eq!(summary.delivery_ratio, 1.0);
    assert_eq!(summary.duplicates, 0, "{summary:?}");
    assert_eq!(summary.out_of_order, 0, "{summary:?}");
    assert!(summary.encryption);
    assert_eq!(summary.undecryptable, 0, "{summary:?}");
}

#[test]
fn the_smoke_scenario_runs_from_the_command_line_and_delivers_everything_once_in_order() {
    let out = tempfile::tempdir().unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/simulations/scenarios/smoke.toml");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["simulate", scenario, "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenario"], "smoke");
    assert_eq!(summary["real_time"], false, "the simulated clock is the default");
    assert!(summary["speed"].as_f64().unwrap() > 1.0, "{summary}");
    assert_eq!(summary["delivery_ratio"], 1.0, "{summary}");
    assert_eq!(summary["duplicates"], 0);
    assert_eq!(summary["out_of_order"], 0);
    assert_eq!(summary["encryption"], true, "end-to-end encryption is on by default");
    assert_eq!(summary["undecryptable"], 0, "{summary}");
    assert!(summary["deliveries"].as_u64().unwrap() > 0);
    assert!(
        summary["latency_cross_node"]["count"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(summary["bytes_on_wire"].as_u64().unwrap() > 0);
    assert!(summary["peak_connections"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary.get("unacknowledged").is_none(), "{summary}");
    let csv = std::fs::read_to_string(out.path().join("deliveries.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64 - 1, summary["deliveries"].as_u64().unwrap());
    let timeseries = std::fs::read_to_string(out.path().join("timeseries.csv")).unwrap();
    assert!(
        timeseries.lines().count() > 4 * 20,
        "a sample per node per second:\n{timeseries}"
    );
    let open_connections = timeseries
        .lines()
        .skip(1)
        .filter(|row| row.rsplit(',').next().is_some_and(|open| open != "0"))
        .count();
    assert!(
        open_connections > 0,
        "nodes' open connections are sampled:\n{timeseries}"
    );
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    for plot in [
        "latency_cdf.svg",
        "delivery_ratio.svg",
        "outbox_depth.svg",
        "bytes_per_message.svg",
    ] {
        let svg = std::fs::read_to_string(out.path().join(plot)).unwrap();
        assert!(
            svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{plot}"
        );
        assert!(index.contains(&format!("src=\"{plot}\"")), "index.html shows {plot}");
    }
}

#[test]
fn a_malformed_scenario_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/simulations/scenarios/smoke.toml"))
        .unwrap()
        .replace("rate_per_user = 0.2", "rate_per_user = -1.0");
    std::fs::write(&path, text).unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["simulate"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("traffic.rate_per_user"), "{stderr}");
}

#[tokio::test]
async fn messages_queued_during_a_partition_arrive_after_it_heals() {
    let scenario = scenario(
        3,
        r#"
[[faults]]
kind = "partition"
at = "4s"
sides = [["node-0"], ["node-1", "node-2"]]
heal_after = "8s"

[[faults]]
kind = "forge"
at = "14s"
node = "node-2"
target = "node-1"
count = 10
"#,
    );
    let (summary, out) = run(&scenario).await;
    assert_everything_arrived(&summary);
    assert_eq!(summary.attacks.forged_sent, 10);
    assert_eq!(summary.attacks.forged_accepted, 0, "a forged envelope was applied");
    let heal = summary
        .convergence
        .iter()
        .find(|c| c.event == "heal")
        .expect("the heal is reported");
    assert!(heal.converged_after_s.is_some(), "{summary:?}");
    // Messages sent across the cut while it held arrived, and only after the heal.
    let (cut, healed) = (4_000.0, 12_000.0);
    let across: Vec<_> = deliveries(&out)
        .into_iter()
        .filter(|(sent, _, from, to)| (cut + 500.0..healed - 500.0).contains(sent) && (*from == 0) != (*to == 0))
        .collect();
    assert!(!across.is_empty(), "no message crossed the partition");
    assert!(
        across.iter().all(|(_, delivered, _, _)| *delivered >= healed),
        "{across:?}"
    );
}

#[tokio::test]
async fn a_crashed_node_loses_nothing_it_acknowledged() {
    let scenario = scenario(
        4,
        r#"
[[faults]]
kind = "crash"
at = "5s"
node = "node-1"
restart_after = "5s"
"#,
    );
    let (summary, out) = run(&scenario).await;
    assert_everything_arrived(&summary);
    assert!(
        summary.convergence.iter().any(|c| c.event == "restart node-1"),
        "{summary:?}"
    );
    // Node-1's users got what was sent to them while it was down, after it came back.
    let while_down = deliveries(&out)
        .into_iter()
        .filter(|(sent, _, from, to)| (5_500.0..9_500.0).contains(sent) && *to == 1 && *from != 1)
        .count();
    assert!(while_down > 0, "nothing was sent to node-1 while it was down");
}

fn counts(s: &Summary) -> (usize, usize, usize, usize, usize, usize, usize, usize) {
    (
        s.users,
        s.conversations,
        s.messages_planned,
        s.messages_acknowledged,
        s.deliveries_expected,
        s.deliveries,
        s.duplicates,
        s.out_of_order,
    )
}

#[tokio::test]
async fn one_seed_gives_the_same_counts_twice() {
    let scenario = scenario(5, "");
    let (first, _a) = run(&scenario).await;
    let (second, _b) = run(&scenario).await;
    assert_eq!(counts(&first), counts(&second));
    assert_everything_arrived(&first);
}

/// The simulated clock skips what the wall clock waits through, and only that: one scenario on both
/// delivers the same, a cross-node copy still takes at least a link's latency, and only the wall-clock
/// run takes its scenario's time.
#[test]
fn the_simulated_clock_runs_faster_than_the_wall_clock_and_delivers_the_same() {
    let scenario = scenario(6, "");
    let on = |clock: Clock| clock.runtime().unwrap().block_on(run_on(&scenario, clock)).0;
    let (simulated, wall) = (on(Clock::Simulated), on(Clock::Wall));
    assert_everything_arrived(&simulated);
    assert_everything_arrived(&wall);
    assert_eq!(counts(&simulated), counts(&wall));
    assert!(!simulated.real_time && wall.real_time);
    assert!(simulated.simulated_seconds >= 20.0, "{simulated:?}");
    assert!(simulated.speed > 1.0, "{simulated:?}");
    assert!(wall.wall_seconds >= 20.0, "{wall:?}");
    let link_ms = 10.0 - 2.0;
    for run in [&simulated, &wall] {
        assert!(run.latency_cross_node.count > 0, "{run:?}");
        assert!(run.latency_cross_node.p50_ms >= link_ms, "{run:?}");
    }
}

#[test]
fn the_simulated_clock_refuses_a_multi_threaded_runtime() {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.progress = false;
    let refused = Clock::Wall
        .runtime()
        .unwrap()
        .block_on(simulations::run(&scenario(7, ""), &options))
        .unwrap_err();
    assert!(refused.to_string().contains("current-thread runtime"), "{refused}");
}

#[test]
fn a_scenario_exports_to_compose_and_kubernetes_from_the_command_line() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/simulations/scenarios/partition.toml");
    for (target, expected) in [
        (
            "compose",
            &["docker-compose.yml", "netem.sh", "links.tsv", "faults.sh"][..],
        ),
        (
            "kubernetes",
            &[
                "kubernetes/30-nodes.yaml",
                "kubernetes/50-driver.yaml",
                "kubernetes/faults/workflow.yaml",
                "kubernetes/start-faults.sh",
            ][..],
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["simulate", "export", scenario, "--to", target, "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains("README.md"), "{stdout}");
        let common = [
            "Dockerfile",
            "Dockerfile.dockerignore",
            "scenario.toml",
            "README.md",
            "keys/bootstrap-0.key",
        ];
        for file in common.iter().chain(expected) {
            assert!(out.path().join(file).is_file(), "{target}: {file}");
        }
        let deployed = std::fs::read_to_string(out.path().join(expected[0])).unwrap();
        for node in ["alpha", "beta", "gamma", "delta"] {
            assert!(deployed.contains(&format!("\"{node}\"")), "{target}: {node}");
        }
    }
}

/// Engine 2's scenario: three node processes (and a bootstrap process), three users each, 15 s of
/// traffic with a fault appended; small, since every user is a real client with a profile on disk.
fn processes_scenario(dir: &std::path::Path, cross_node_fraction: f64, faults: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
name = "processes"
seed = 11
duration = "15s"

[nodes]
count = 3

[users]
per_node = 3

[conversations]
dms = 4
groups = 2
group_size = {{ min = 3, max = 3 }}
cross_node_fraction = {cross_node_fraction}

[traffic]
rate_per_user = 0.4
start_after = "1s"

{faults}
"#
    );
    let path = dir.join("processes.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `parley simulate <args>`, killed if it outlives `limit`; returns (success, stderr).
fn parley_simulate(args: &[&std::ffi::OsStr], limit: Duration) -> (bool, String) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("simulate")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let output = output_within(child, limit, "parley simulate");
    (output.status.success(), String::from_utf8(output.stderr).unwrap())
}

/// Runs a scenario file with `--engine processes` into `out` and returns its summary.
fn run_processes(scenario: &std::path::Path, out: &std::path::Path) -> serde_json::Value {
    let args = ["--engine", "processes", "--drain-secs", "30", "--out"].map(std::ffi::OsStr::new);
    let (ok, stderr) = parley_simulate(
        &[&[scenario.as_os_str()], &args[..], &[out.as_os_str()]].concat(),
        Duration::from_secs(150),
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("loopback has no link model"), "{stderr}");
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

fn assert_processes_delivered_everything(summary: &serde_json::Value) {
    assert_eq!(summary["engine"], "processes");
    assert!(summary["deliveries_expected"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(
        summary["messages_acknowledged"], summary["messages_planned"],
        "{summary}"
    );
    assert_eq!(summary["delivery_ratio"], 1.0, "{summary}");
    assert_eq!(summary["duplicates"], 0, "{summary}");
    assert_eq!(summary["out_of_order"], 0, "{summary}");
    assert_eq!(summary["encryption"], true);
    assert_eq!(summary["undecryptable"], 0, "{summary}");
    assert_eq!(summary["link_model"], false);
    assert_eq!(summary["bytes_on_wire"], 0, "real QUIC is not measured");
}

#[test]
fn the_processes_engine_runs_node_processes_and_delivers_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let summary = run_processes(&processes_scenario(dir.path(), 0.75, ""), &out);
    assert_processes_delivered_everything(&summary);
    assert_eq!(summary["users"], 9);
    assert!(
        summary["latency_cross_node"]["count"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(summary["cpu_seconds"].as_f64().unwrap() > 0.0, "{summary}");
    // The same outputs as engine 1.
    let csv = std::fs::read_to_string(out.join("deliveries.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64 - 1, summary["deliveries"].as_u64().unwrap());
    let timeseries = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(
        timeseries.lines().filter(|line| line.contains(",true,")).count() > 3 * 10,
        "{timeseries}"
    );
    assert!(
        std::fs::read_to_string(out.join("index.html"))
            .unwrap()
            .contains("latency_cdf.svg")
    );
    // Every node was a process of its own, stopped gracefully at the end.
    for node in ["node-0", "node-1", "node-2"] {
        let log = std::fs::read_to_string(out.join("logs").join(format!("{node}.log"))).unwrap();
        assert!(log.contains("parley node serving"), "{log}");
        assert!(log.contains("parley node stopped"), "{log}");
    }
}

#[test]
fn the_processes_engine_kills_and_restarts_a_node_process_without_losing_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Conversations span nodes: a member sending while another member's node is down, before its own node
    // ever fetched that member's devices, is told to retry (503) rather than leaving them out.
    let crash = r#"
[[faults]]
kind = "crash"
at = "4s"
node = "node-1"
restart_after = "4s"
"#;
    let summary = run_processes(&processes_scenario(dir.path(), 0.75, crash), &out);
    assert_processes_delivered_everything(&summary);
    let restart = &summary["convergence"][0];
    assert_eq!(restart["event"], "restart node-1", "{summary}");
    assert!(restart["converged_after_s"].is_number(), "{summary}");
    // The node was down between the crash and the restart, and up again after it.
    let samples: Vec<(f64, bool)> = std::fs::read_to_string(out.join("timeseries.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| fields[1] == "node-1")
        .map(|fields| (fields[0].parse().unwrap(), fields[2] == "true"))
        .collect();
    assert!(
        samples.iter().any(|(at, up)| (4.5..7.5).contains(at) && !up),
        "{samples:?}"
    );
    assert!(samples.iter().any(|(at, up)| *at > 9.0 && *up), "{samples:?}");
    // SIGKILL: the first process never said it stopped; the second one, started on the same data, did.
    let log = std::fs::read_to_string(out.join("logs/node-1.log")).unwrap();
    assert_eq!(log.matches("parley node serving").count(), 2, "{log}");
    assert_eq!(log.matches("parley node stopped").count(), 1, "{log}");
}

#[test]
fn the_processes_engine_refuses_a_partition_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let partition = r#"
[[faults]]
kind = "partition"
at = "2s"
sides = [["node-0"], ["node-1", "node-2"]]
"#;
    let scenario = processes_scenario(dir.path(), 0.75, partition);
    let out = dir.path().join("run");
    let args = ["--engine", "processes", "--out"].map(std::ffi::OsStr::new);
    let (ok, stderr) = parley_simulate(
        &[&[scenario.as_os_str()], &args[..], &[out.as_os_str()]].concat(),
        Duration::from_secs(30),
    );
    assert!(!ok);
    assert!(
        stderr.contains("faults[0].kind: the processes engine cannot partition nodes on loopback"),
        "{stderr}"
    );
    assert!(!out.join("logs").exists(), "nothing was started");
}

#[test]
fn the_driver_wants_a_url_for_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = processes_scenario(dir.path(), 0.75, "");
    let args = [
        "drive".as_ref(),
        scenario.as_os_str(),
        "--node".as_ref(),
        "node-0=http://127.0.0.1:9".as_ref(),
        "--node".as_ref(),
        "node-2=http://127.0.0.1:9".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ];
    let (ok, stderr) = parley_simulate(&args, Duration::from_secs(30));
    assert!(!ok);
    assert!(stderr.contains("node node-1: no URL given"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_alone_drives_nodes_someone_else_runs() {
    use crate::federation::{start_bootstrap, start_node};
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load(processes_scenario(dir.path(), 0.75, "")).unwrap();
    let bootstrap = start_bootstrap().await;
    let mut nodes = Vec::new();
    for name in ["node-0", "node-1", "node-2"] {
        nodes.push((name, start_node(name, &bootstrap.address).await));
    }
    let given: Vec<(String, String)> = nodes
        .iter()
        .map(|(name, node)| (name.to_string(), node.node.base.clone()))
        .collect();
    let endpoints = simulations::Endpoints::new(&scenario, &given).unwrap();
    let mut options = RunOptions::new(dir.path().join("run"));
    options.progress = false;
    options.drain_timeout = Duration::from_secs(30);
    let summary = simulations::drive(&scenario, &endpoints, &options).await.unwrap();
    assert_eq!(summary.engine, "driver");
    assert_eq!(summary.messages_acknowledged, summary.messages_planned, "{summary:?}");
    assert_eq!(summary.delivery_ratio, 1.0, "{summary:?}");
    assert_eq!(
        (summary.duplicates, summary.out_of_order, summary.undecryptable),
        (0, 0, 0)
    );
    assert!(summary.latency_cross_node.count > 0, "{summary:?}");
    assert!(dir.path().join("run/deliveries.csv").is_file());
}

#[test]
fn runs_of_several_sizes_plot_their_scaling_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for nodes in [2, 4] {
        let scenario = dir.path().join(format!("{nodes}.toml"));
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/simulations/scenarios/smoke.toml"))
            .unwrap()
            .replace("count = 4 ", &format!("count = {nodes} "));
        std::fs::write(&scenario, text).unwrap();
        let out = dir.path().join(format!("run-{nodes}"));
        let (ok, stderr) = parley_simulate(
            &[scenario.as_os_str(), "--out".as_ref(), out.as_os_str()],
            Duration::from_secs(120),
        );
        assert!(ok, "{stderr}");
        runs.push(out);
    }
    let svg = dir.path().join("scaling.svg");
    let mut args: Vec<&std::ffi::OsStr> = vec!["scaling".as_ref()];
    args.extend(runs.iter().map(|run| run.as_os_str()));
    args.extend(["--out".as_ref(), svg.as_os_str()]);
    let (ok, stderr) = parley_simulate(&args, Duration::from_secs(30));
    assert!(ok, "{stderr}");
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.trim_start().starts_with("<svg"), "{drawn}");
    for panel in ["Wall time", "Peak resident memory", "CPU time per delivered copy"] {
        assert!(drawn.contains(panel), "{panel} missing");
    }
    assert_eq!(drawn.matches("<circle").count(), 3 * 2, "a point per run in each panel");

    let not_a_run = dir.path().to_path_buf();
    let (ok, stderr) = parley_simulate(&["scaling".as_ref(), not_a_run.as_os_str()], Duration::from_secs(30));
    assert!(!ok);
    assert!(stderr.contains("summary.json"), "{stderr}");
}
