//! The deployment files (`Dockerfile`, `deploy/compose.yaml`, `deploy/parley.service`,
//! `deploy/parley.toml`) checked against the real `parley` binary, since no Docker engine or systemd
//! runs here: every flag they pass must be one the binary takes, and the config must load. And
//! `parley bootstrap --address-file/--announce`, through which the compose nodes learn the bootstrap
//! node's PeerId.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::federation::eventually;
use crate::support::*;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The `--flags` in `words` (a `--flag=value` counts as `--flag`).
fn flags<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    words
        .into_iter()
        .flat_map(str::split_whitespace)
        .filter(|word| word.starts_with("--"))
        .map(|word| {
            let end = word[2..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(word.len(), |i| i + 2);
            word[..end].to_owned()
        })
        .collect()
}

/// Every flag `parley <command> --help` lists: what the deployment files may pass.
fn accepted_flags(command: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([command, "--help"])
        .output()
        .unwrap();
    assert!(output.status.success(), "parley {command} --help failed");
    flags([String::from_utf8_lossy(&output.stdout).as_ref()])
        .into_iter()
        .collect()
}

#[track_caller]
fn assert_accepted(command: &str, used: &[String], what: &str) {
    let accepted = accepted_flags(command);
    for flag in used {
        assert!(
            accepted.contains(flag),
            "{what} passes {flag}, which `parley {command}` does not take"
        );
    }
}

/// An array of strings from JSON (a compose command, an exec-form Dockerfile line).
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("not a string: {item}"))
                .to_owned()
        })
        .collect()
}

/// The value after `flag` in `args`.
fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|arg| arg == flag).map(|i| args[i + 1].as_str())
}

/// deploy/compose.yaml as JSON, its `<<: *node` merges applied as compose applies them.
fn compose() -> Value {
    let text = std::fs::read_to_string(repo_file("deploy/compose.yaml")).unwrap();
    let mut yaml: serde_norway::Value =
        serde_norway::from_str(&text).unwrap_or_else(|err| panic!("deploy/compose.yaml does not parse: {err}"));
    yaml.apply_merge().unwrap();
    serde_json::to_value(yaml).unwrap()
}

/// `name:/target[:ro]` volume entries as (name, target).
fn volumes(service: &Value) -> Vec<(String, String)> {
    strings(&service["volumes"])
        .iter()
        .map(|entry| {
            let mut parts = entry.split(':');
            (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
        })
        .collect()
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped: (keyword, rest).
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (keyword, rest) = current.split_once(' ').unwrap_or((&current, ""));
                instructions.push((keyword.to_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

fn instruction<'a>(instructions: &'a [(String, String)], keyword: &str) -> Vec<&'a str> {
    instructions
        .iter()
        .filter(|(k, _)| k == keyword)
        .map(|(_, rest)| rest.as_str())
        .collect()
}

/// The `bash -c` probe in a `CMD [...]`-form health check.
fn probe(test: &[String]) -> String {
    assert_eq!(test[..3], ["CMD", "bash", "-c"], "{test:?}");
    test[3].clone()
}

fn image_probe() -> String {
    let instructions = dockerfile();
    let healthcheck = instruction(&instructions, "HEALTHCHECK");
    assert_eq!(healthcheck.len(), 1, "one HEALTHCHECK");
    let exec_form = &healthcheck[0][healthcheck[0].find("CMD [").expect("HEALTHCHECK ... CMD [...]") + 4..];
    let mut test = vec!["CMD".to_owned()];
    test.extend(strings(&serde_json::from_str(exec_form).unwrap()));
    probe(&test)
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let instructions = dockerfile();
    let from = instruction(&instructions, "FROM");
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    let (build, runtime) = (from[0], from[from.len() - 1]);
    assert!(build.starts_with("rust:1.") && build.contains(" AS "), "{build}");
    // The binary must run on the glibc it was linked against: same Debian release in both stages.
    let release = build.split(' ').next().unwrap().rsplit('-').next().unwrap();
    assert!(
        runtime == format!("debian:{release}-slim") || runtime.starts_with("gcr.io/distroless/cc-debian"),
        "runtime {runtime} vs build {build}"
    );
    assert!(
        instruction(&instructions, "RUN")
            .iter()
            .any(|run| run.contains("cargo build --release --locked --bin parley")),
        "a locked release build"
    );
    let last_stage = instructions.iter().rposition(|(k, _)| k == "FROM").unwrap();
    let user = instruction(&instructions[last_stage..], "USER");
    assert!(
        matches!(user.last(), Some(&user) if user != "root" && !user.starts_with('0')),
        "the runtime stage drops root: {user:?}"
    );
    assert_eq!(
        strings(&serde_json::from_str(instruction(&instructions, "ENTRYPOINT")[0]).unwrap()),
        ["parley"]
    );
    let cmd = strings(&serde_json::from_str(instruction(&instructions, "CMD")[0]).unwrap());
    assert_eq!(cmd[0], "node");
    assert_accepted("node", &flags(cmd.iter().map(String::as_str)), "the image's CMD");
    // The volume, ports and health check are the ones the CMD serves on.
    let data_dir = value_of(&cmd, "--data-dir").expect("CMD names --data-dir");
    assert!(instruction(&instructions, "VOLUME").concat().contains(data_dir));
    assert_eq!(value_of(&cmd, "--http"), Some("0.0.0.0:8080"));
    assert!(value_of(&cmd, "--p2p").unwrap().contains("/udp/4433/"));
    let expose = instruction(&instructions, "EXPOSE").join(" ");
    assert!(
        expose.contains("8080") && expose.contains("4433/udp") && expose.contains("4433/tcp"),
        "{expose}"
    );
    assert!(image_probe().contains("/dev/tcp/127.0.0.1/8080") && image_probe().contains("GET /health "));
    let ignored = read(".dockerignore");
    for path in ["target/", ".git/", "data/"] {
        assert!(
            ignored.lines().any(|line| line == path),
            ".dockerignore keeps out {path}"
        );
    }
}

/// Runs a health check's probe with bash against `port` instead of the container's 8080.
fn run_probe(probe: &str, port: u16) -> ExitStatus {
    Command::new("bash")
        .args(["-c", &probe.replace("127.0.0.1/8080", &format!("127.0.0.1/{port}"))])
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

#[test]
fn the_health_checks_pass_on_a_serving_node_and_fail_without_one() {
    let compose = compose();
    let probes = [
        image_probe(),
        probe(&strings(&compose["services"]["node-a"]["healthcheck"]["test"])),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (mut node, base) = spawn_node(node_command(dir.path()));
    let base = base.expect("the node serves");
    let port: u16 = base.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for probe in &probes {
        assert!(
            run_probe(probe, port).success(),
            "healthy node judged unhealthy by {probe}"
        );
        assert!(!run_probe(probe, closed).success(), "no node judged healthy by {probe}");
    }
    node.kill().unwrap();
    let _ = node.wait();
}

#[test]
fn the_compose_file_runs_a_bootstrap_and_three_nodes_that_name_it() {
    let compose = compose();
    let services = &compose["services"];
    let bootstrap = &services["bootstrap"];
    let command = strings(&bootstrap["command"]);
    assert_eq!(command[0], "bootstrap");
    assert_accepted(
        "bootstrap",
        &flags(command.iter().map(String::as_str)),
        "the bootstrap service",
    );
    assert!(
        value_of(&command, "--announce")
            .unwrap()
            .starts_with("/dns4/bootstrap/udp/")
    );
    let address_file = value_of(&command, "--address-file").expect("the bootstrap publishes its address");
    let shared_dir = Path::new(address_file).parent().unwrap().to_str().unwrap();
    let (shared, _) = volumes(bootstrap)
        .into_iter()
        .find(|(_, target)| target == shared_dir)
        .expect("the address file is on a volume");
    assert!(!strings(&bootstrap["healthcheck"]["test"]).is_empty());

    let (mut ports, mut data) = (BTreeSet::new(), BTreeSet::new());
    for name in ["node-a", "node-b", "node-c"] {
        let node = &services[name];
        assert_eq!(node["build"], "..", "{name} is built from the repository's Dockerfile");
        assert_eq!(node["restart"], "unless-stopped", "{name}");
        assert!(
            node["depends_on"]["bootstrap"].is_object(),
            "{name} starts after the bootstrap"
        );
        assert!(
            probe(&strings(&node["healthcheck"]["test"])).contains("GET /health "),
            "{name}"
        );

        let command = strings(&node["command"]);
        assert_eq!(command[0], "node", "{name}");
        assert_eq!(value_of(&command, "--name"), Some(name));
        assert_eq!(value_of(&command, "--http"), Some("0.0.0.0:8080"), "{name}");
        assert_eq!(value_of(&command, "--registration"), Some("token"), "{name}");
        // The entrypoint script waits for the bootstrap's address file and appends --bootstrap.
        let script = strings(&node["entrypoint"]).join(" ");
        assert!(
            script.contains(address_file) && script.contains("--bootstrap "),
            "{name}: {script}"
        );
        assert!(
            !script.replace("$$", "").contains('$'),
            "{name}: a single `$` would be compose's interpolation, not the shell's"
        );
        let mut used = flags(command.iter().map(String::as_str));
        used.extend(flags([script.as_str()]));
        assert_accepted("node", &used, name);

        let mounts = volumes(node);
        assert!(
            mounts.contains(&(shared.clone(), shared_dir.to_owned())),
            "{name} reads the address"
        );
        let (volume, _) = mounts
            .iter()
            .find(|(_, target)| Some(target.as_str()) == value_of(&command, "--data-dir"))
            .unwrap_or_else(|| panic!("{name}'s data dir is a volume"));
        assert!(compose["volumes"].get(volume).is_some(), "{volume} is declared");
        assert!(data.insert(volume.clone()), "{name} shares its data volume");
        let published = strings(&node["ports"]);
        assert_eq!(published.len(), 1, "{name}");
        let (host, container) = published[0].split_once(':').unwrap();
        assert_eq!(container, "8080", "{name}");
        assert!(ports.insert(host.to_owned()), "{name} reuses host port {host}");
    }
    assert_eq!(ports, BTreeSet::from(["8081", "8082", "8083"].map(String::from)));
}

#[test]
fn the_example_config_loads_in_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    // --data-dir keeps the check off the /var/lib/parley the file names (print-config creates
    // nothing, but a wrong flag would).
    let child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["node", "--config", "deploy/parley.toml", "--print-config", "--data-dir"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PARLEY_HTTP")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = output_within(child, Duration::from_secs(60), "parley node --print-config");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8_lossy(&output.stdout);
    let file: toml::Table = read("deploy/parley.toml").parse().unwrap();
    for key in file.keys().filter(|key| *key != "data-dir") {
        assert!(
            printed
                .lines()
                .any(|line| line.starts_with(&format!("{key} = ")) && line.ends_with("# file")),
            "{key} is not taken from the file:\n{printed}"
        );
    }
    // The unit's state directory is the config's data dir, the only place it may write.
    let unit = read("deploy/parley.service");
    assert_eq!(file["data-dir"].as_str(), Some("/var/lib/parley"));
    assert!(unit.lines().any(|line| line == "StateDirectory=parley"));
}

#[test]
fn the_systemd_unit_runs_the_node_unprivileged_and_hardened() {
    let unit = read("deploy/parley.service");
    let setting = |key: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in deploy/parley.service"))
    };
    assert_eq!(setting("User"), "parley");
    assert_eq!(
        setting("ExecStart"),
        "/usr/local/bin/parley node --config /etc/parley/parley.toml"
    );
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(setting(key), value, "{key}");
    }
    let stop = setting("TimeoutStopSec");
    let seconds: u64 = stop.trim_end_matches('s').parse().unwrap();
    assert!(seconds >= 30, "TimeoutStopSec={stop} leaves the drain little time");

    // systemd's own check, where systemd is installed (it is on this project's machines). It wants
    // ExecStart's binary to exist, so it is pointed at the one under test.
    let Ok(analyze) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped systemd-analyze verify: not installed");
        return;
    };
    assert!(analyze.status.success());
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("parley.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/parley", env!("CARGO_BIN_EXE_parley")),
    )
    .unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn docker_compose_accepts_the_compose_file() {
    // Either Compose validates without a Docker engine; neither is on the machine by default
    // (Debian: `apt-get install --no-install-recommends docker-compose`), so a missing one skips.
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|output| output.status.success())
    };
    let compose: &[&str] = if works("docker", &["compose", "version"]) {
        &["docker", "compose"]
    } else if works("docker-compose", &["version"]) {
        &["docker-compose"]
    } else {
        eprintln!("skipped: neither `docker compose` nor `docker-compose` is installed");
        return;
    };
    let output = Command::new(compose[0])
        .args(&compose[1..])
        .args(["-f", "deploy/compose.yaml", "config", "-q"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} config: {}",
        compose.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `parley bootstrap` on a free 127.0.0.1 port with the key in `dir` (so restarts keep the PeerId),
/// writing its address to `dir/run/address`.
fn bootstrap(dir: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["bootstrap", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--log", "warn"])
        .arg("--key-file")
        .arg(dir.join("bootstrap.key"))
        .arg("--address-file")
        .arg(dir.join("run/address"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The address file's one line, once the bootstrap node has written it.
fn published(dir: &Path) -> String {
    let path = dir.join("run/address");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            assert!(text.ends_with('\n') && text.lines().count() == 1, "{text:?}");
            return text.trim_end().to_owned();
        }
        assert!(Instant::now() < deadline, "no address in {}", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, as `docker stop` and systemd send it; the node must stop by itself, cleanly and soon.
fn terminate(child: Child) -> String {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = output_within(child, Duration::from_secs(10), "the bootstrap node after SIGTERM");
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn peer_of(address: &str) -> &str {
    address
        .rsplit_once("/p2p/")
        .expect("the address ends in /p2p/<peer id>")
        .1
}

#[test]
fn bootstrap_writes_its_address_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = bootstrap(dir.path(), &[]);
    let address = published(dir.path());
    assert!(address.starts_with("/ip4/127.0.0.1/udp/"), "{address}");
    assert!(peer_of(&address).starts_with("12D3KooW"), "{address}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("run")).unwrap().count(),
        1,
        "the file is renamed into place, no partial one is left"
    );
    let stdout = terminate(child);
    assert!(stdout.contains(&format!("--bootstrap {address}\n")), "{stdout}");
}

#[test]
fn bootstrap_announces_the_address_it_is_given_under_its_own_peer_id() {
    let dir = tempfile::tempdir().unwrap();
    let announced = "/dns4/bootstrap/udp/4001/quic-v1";
    let child = bootstrap(dir.path(), &["--announce", announced]);
    let address = published(dir.path());
    let peer = peer_of(&address).to_owned();
    assert_eq!(address, format!("{announced}/p2p/{peer}"));
    terminate(child);

    // Restarted without --announce: the file is replaced, the key keeps the PeerId.
    let child = bootstrap(dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while published(dir.path()).starts_with("/dns4/") {
        assert!(Instant::now() < deadline, "the address file was not replaced");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(peer_of(&published(dir.path())), peer);
    terminate(child);

    // An announced address naming another peer would send nodes to the wrong place: refused.
    let other = "/dns4/bootstrap/udp/4001/quic-v1/p2p/12D3KooWSGmrxN3Z6YjCCrn7cqYdgfhLa8BygZmmSb8Dzz3pwZuS";
    let output = output_within(
        bootstrap(dir.path(), &["--announce", other]),
        Duration::from_secs(30),
        "a bootstrap node announcing another peer",
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--announce"));
}

#[tokio::test]
async fn a_node_joins_the_bootstrap_node_named_in_its_address_file() {
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = bootstrap(dir.path(), &[]);
    let address = published(dir.path());
    let peer = peer_of(&address).to_owned();

    let data = tempfile::tempdir().unwrap();
    let mut command = node_command(data.path());
    command.args(["--bootstrap", &address]);
    let (mut node, base) = spawn_node(command);
    let api = Api::new(&base.expect("the node serves"));
    let registered = assert_ok(
        api.post(
            "/v1/auth/register",
            json!({
                "email": "ann@example.org",
                "username": "ann",
                "password": "correct horse battery",
                "device_id": Uuid::new_v4(),
            }),
        )
        .await,
        StatusCode::CREATED,
    );
    let api = api.with_token(registered["access_token"].as_str().unwrap());
    eventually("the node connected to the bootstrap node", || {
        let (api, peer) = (api.clone(), peer.clone());
        async move {
            let data = assert_ok(api.get("/v1/federation/peers").await, StatusCode::OK);
            data["peers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["peer_id"] == peer.as_str() && p["connected"] == true)
                .then_some(())
        }
    })
    .await;
    node.kill().unwrap();
    let _ = node.wait();
    terminate(bootstrap);
}
