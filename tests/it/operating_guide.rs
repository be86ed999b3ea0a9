//! `docs/OPERATING.md`, done for real. The guide's `sh` blocks are run in the order it gives them, each
//! logical line (continuations joined) through `bash` with the debug `parley` on `PATH`, against a node
//! started from the guide's own `parley.toml` with the guide's own self-signed certificate. The only
//! changes to what an operator would type:
//!
//! - paths and ports: `/etc/parley` and `/var/lib/parley` are temporary directories, and 8443, 9100 and
//!   4433/udp and 4433/tcp free ports (`Walk::subs`); what a command prints is mapped back before it is compared
//!   with the output the guide shows;
//! - a leading `sudo` or `sudo -u parley` is dropped: the test runs as one user, who owns both
//!   directories;
//! - `parley node` (without `--print-config`) runs in the background, as it would in a terminal of its
//!   own, and `kill -SIG "$(pidof parley)"` signals that node, not every `parley` on the machine. Before
//!   `kill -HUP` the guide's certificate command is run again (the renewal the guide speaks of), and the
//!   node must then serve the new certificate and no longer the old one. The node started by hand
//!   also stands in for the unit's when the guide moves to systemd.
//!
//! The lines that cannot run here are in `NOT_RUN_HERE`, each with its reason; every other line runs
//! and must exit 0, unless the guide shows its output as an error (`parley: …`, exit 1). Output shown
//! after a block is that of the block's last line: JSON must be the same but for the times, ids, tokens
//! and keys that differ from run to run; text lines must appear in order, ids, tokens and keys masked.
//! Every `parley` command line, run or not, is also checked against `parley <subcommand> --help`, and
//! the guide's claims about the deployment files, the data dir and the metrics against the real ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{StatusCode, Value, output_within};

const GUIDE: &str = include_str!("../../docs/OPERATING.md");
const UNIT: &str = include_str!("../../deploy/parley.service");
const COMPOSE: &str = include_str!("../../deploy/compose.yaml");
const DOCKERFILE: &str = include_str!("../../Dockerfile");
/// Where the node's and the gateway's metrics are registered.
const METRICS_SOURCES: [&str; 2] = [
    include_str!("../../node/src/metrics.rs"),
    include_str!("../../gateway/src/metrics.rs"),
];

const SYSTEMD: &str = "no systemd runs here (tests/it/deploy.rs and deploy/validate check the unit)";
const DOCKER: &str = "no Docker engine runs here (tests/it/deploy.rs checks the Dockerfile and compose file)";

/// The guide's lines this test does not run, exactly as the guide has them, and why.
const NOT_RUN_HERE: &[(&str, &str)] = &[
    (
        "cargo build --release --locked --bin parley",
        "a release build takes many minutes; this test runs the debug build of the same source",
    ),
    (
        "sudo install -m 0755 target/release/parley /usr/local/bin/parley",
        "it would replace the host's binary; `parley` on PATH is the debug build here",
    ),
    ("docker build -t parley:local .", DOCKER),
    (
        "sudo useradd --system --user-group --home-dir /var/lib/parley --shell /usr/sbin/nologin parley",
        "it would add a user to the host; the test runs as one user, who owns the temporary directories",
    ),
    (
        "sudo install -d -o parley -g parley -m 0700 /var/lib/parley",
        "there is no parley user here; the node creates its data dir itself",
    ),
    (
        "sudo install -d -o root -g parley -m 0750 /etc/parley",
        "there is no parley group here; the test makes the directory",
    ),
    (
        "sudo certbot certonly --standalone -d chat.example.org --deploy-hook 'install -m 0640 -g parley \
         \"$RENEWED_LINEAGE/fullchain.pem\" \"$RENEWED_LINEAGE/privkey.pem\" /etc/parley/ && systemctl kill -s \
         HUP parley'",
        "needs a public DNS name pointing here and port 80; the self-signed certificate stands in for it",
    ),
    (
        "sudo chgrp parley /etc/parley/privkey.pem",
        "there is no parley group here; the test's user owns the key",
    ),
    (
        "sudo -u parley bash",
        "an interactive shell; the lines after it run as the test's user",
    ),
    (
        "export PARLEY_URL=https://chat.example.org:8443",
        "chat.example.org does not resolve here; with the self-signed certificate node.url works as is",
    ),
    (
        "sudo install -m 0644 deploy/parley.service /etc/systemd/system/parley.service",
        SYSTEMD,
    ),
    ("sudo systemctl daemon-reload", SYSTEMD),
    ("sudo systemctl enable --now parley", SYSTEMD),
    ("systemctl status parley", SYSTEMD),
    ("journalctl -u parley -f", SYSTEMD),
    ("sudo systemctl restart parley", SYSTEMD),
    ("docker compose -f deploy/compose.yaml up -d --build", DOCKER),
    (
        "docker compose -f deploy/compose.yaml exec node-a parley admin registration-token create --uses 5",
        DOCKER,
    ),
    ("docker compose -f deploy/compose.yaml logs -f node-a", DOCKER),
    ("docker compose -f deploy/compose.yaml down", DOCKER),
];

/// The tools the guide's commands use besides `parley`.
const TOOLS: [(&str, &str); 4] = [
    ("bash", "--version"),
    ("openssl", "version"),
    ("curl", "--version"),
    ("jq", "--version"),
];

/// The guide's config file starts with this line and is written there.
const CONFIG_MARKER: &str = "# /etc/parley/parley.toml";

#[derive(Debug)]
struct Shown {
    lang: String,
    text: String,
}

impl Shown {
    /// An error line is what a failing `parley` prints (on stderr, exit code 1).
    fn is_error(&self) -> bool {
        self.text.starts_with("parley: ")
    }
}

#[derive(Debug)]
struct Step {
    line: String,
    shown: Option<Shown>,
}

#[derive(Debug)]
enum Item {
    Step(Step),
    Config(String),
}

/// The guide's fenced blocks, in order: (language, body).
fn fences(doc: &str) -> Vec<(String, String)> {
    let mut fences = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        loop {
            let line = lines.next().expect("an unclosed ``` block");
            if line == "```" {
                break;
            }
            body.push_str(line);
            body.push('\n');
        }
        fences.push((lang.trim().to_owned(), body));
    }
    fences
}

/// A `sh` block's commands: continuation lines joined, blank lines and comments left out.
fn logical_lines(body: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in body.lines() {
        let line = raw.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "a sh block ends with a continuation: {body}");
    lines
}

/// The guide as things to do, in order; an output block belongs to the last line of the `sh` block
/// just before it.
fn items() -> Vec<Item> {
    let mut items = Vec::new();
    let mut previous = String::new();
    for (lang, body) in fences(GUIDE) {
        match lang.as_str() {
            "sh" => items.extend(
                logical_lines(&body)
                    .into_iter()
                    .map(|line| Item::Step(Step { line, shown: None })),
            ),
            "text" | "json" => {
                assert_eq!(previous, "sh", "an output block must follow a sh block:\n{body}");
                let Some(Item::Step(step)) = items.last_mut() else {
                    panic!("output without a command:\n{body}");
                };
                step.shown = Some(Shown {
                    lang: lang.clone(),
                    text: body,
                });
            }
            "toml" => {
                assert!(
                    body.starts_with(CONFIG_MARKER),
                    "a toml block that is not the config:\n{body}"
                );
                items.push(Item::Config(body));
            }
            "yaml" => {}
            other => panic!("a ```{other} block: the guide uses sh, text, json, toml and yaml"),
        }
        previous = lang;
    }
    items
}

fn steps() -> Vec<Step> {
    items()
        .into_iter()
        .filter_map(|item| match item {
            Item::Step(step) => Some(step),
            Item::Config(_) => None,
        })
        .collect()
}

fn not_run_here(line: &str) -> Option<&'static str> {
    NOT_RUN_HERE
        .iter()
        .find(|(allowed, _)| *allowed == line)
        .map(|(_, reason)| *reason)
}

/// The line as the test's one user runs it.
fn without_sudo(line: &str) -> &str {
    line.strip_prefix("sudo -u parley ")
        .or_else(|| line.strip_prefix("sudo "))
        .unwrap_or(line)
}

/// `kill -HUP "$(pidof parley)"` -> `HUP`.
fn signal_of(line: &str) -> Option<&str> {
    line.strip_prefix("kill -")?.strip_suffix(" \"$(pidof parley)\"")
}

/// Ids, tokens, keys and PeerIds (runs of 20 or more of `[A-Za-z0-9_-]` with a digit or a capital)
/// replaced by `<…>`, so a copied output still matches a run that drew other random values.
fn mask(line: &str) -> String {
    fn flush(run: &mut String, out: &mut String) {
        let random = run.len() >= 20 && run.chars().any(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        out.push_str(if random { "<…>" } else { run });
        run.clear();
    }
    let mut out = String::new();
    let mut run = String::new();
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Whether `shown`'s lines (but `…`) appear in `real`'s, in order, once masked.
fn text_matches(shown: &str, real: &[String]) -> bool {
    let mut real = real.iter().map(|line| mask(line.trim_end()));
    shown.lines().filter(|line| line.trim() != "…").all(|line| {
        let wanted = mask(line.trim_end());
        real.any(|candidate| candidate == wanted)
    })
}

/// Whether a string in an output is one that differs from run to run: a time, or an id, token or key
/// (20 characters or more, with a digit or a capital).
fn varies(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
        || (text.len() >= 20 && text.chars().any(|c| c.is_ascii_digit() || c.is_ascii_uppercase()))
}

/// Same keys, array lengths and values all the way down, but for the strings that vary from run to
/// run; `Err` names the first difference.
fn same_output(shown: &Value, real: &Value, at: &str) -> Result<(), String> {
    match (shown, real) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<BTreeSet<_>>();
            if keys(a) != keys(b) {
                return Err(format!("{at}: keys {:?}, really {:?}", keys(a), keys(b)));
            }
            a.iter()
                .try_for_each(|(key, value)| same_output(value, &b[key], &format!("{at}.{key}")))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!("{at}: {} items, really {}", a.len(), b.len()));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .try_for_each(|(i, (x, y))| same_output(x, y, &format!("{at}[{i}]")))
        }
        (Value::String(a), Value::String(b)) if varies(a) && varies(b) => Ok(()),
        _ if shown == real => Ok(()),
        _ => Err(format!("{at}: {shown}, really {real}")),
    }
}

/// Panics unless `real` (already mapped back to the guide's paths and ports) is what `shown` shows.
#[track_caller]
fn assert_shown(line: &str, shown: &Shown, real: &str) {
    match shown.lang.as_str() {
        "json" => {
            let expected: Value = serde_json::from_str(&shown.text)
                .unwrap_or_else(|err| panic!("the guide's output of `{line}` is not JSON: {err}"));
            let actual: Value =
                serde_json::from_str(real).unwrap_or_else(|err| panic!("`{line}` printed no JSON ({err}):\n{real}"));
            if let Err(difference) = same_output(&expected, &actual, "$") {
                panic!(
                    "the output the guide shows for `{line}` is not what it prints ({difference}); it prints:\n{real}"
                );
            }
        }
        _ => {
            let lines: Vec<String> = real.lines().map(str::to_owned).collect();
            assert!(
                text_matches(&shown.text, &lines),
                "the output the guide shows for `{line}` is not what it prints:\n{}\nit prints:\n{real}",
                shown.text
            );
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node the guide started, and everything it has printed so far (stdout and stderr).
struct Node {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// The walk-through's state: the host it stands for, and the shell variables the guide has set.
struct Walk {
    root: tempfile::TempDir,
    etc: PathBuf,
    data: PathBuf,
    work: PathBuf,
    http_port: u16,
    /// The environment every command starts from: the test's without `PARLEY_*`, `parley` first on PATH.
    base_env: BTreeMap<String, String>,
    /// What the guide's own lines have set (`export …`, `NAME=$(…)`).
    vars: BTreeMap<String, String>,
    /// (the guide's text, the text here).
    subs: Vec<(String, String)>,
    node: Option<Node>,
    /// The guide's certificate command, as run: run again to renew.
    certificate_command: Option<String>,
}

impl Walk {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc-parley");
        let data = root.path().join("var-lib-parley");
        let work = root.path().join("work");
        let home = root.path().join("home");
        let bin = root.path().join("bin");
        for dir in [&etc, &work, &home, &bin] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_parley"), bin.join("parley")).unwrap();
        let mut base_env: BTreeMap<String, String> = std::env::vars()
            .filter(|(name, _)| !name.starts_with("PARLEY_") && !["BASH_ENV", "ENV"].contains(&name.as_str()))
            .collect();
        let path = base_env.get("PATH").cloned().unwrap_or_default();
        base_env.insert("PATH".into(), format!("{}:{path}", bin.display()));
        base_env.insert("HOME".into(), home.display().to_string());
        let http_port = free_port();
        let metrics_port = free_port();
        let subs = vec![
            ("/etc/parley".to_owned(), etc.display().to_string()),
            ("/var/lib/parley".to_owned(), data.display().to_string()),
            (":8443".to_owned(), format!(":{http_port}")),
            (":9100".to_owned(), format!(":{metrics_port}")),
            ("/udp/4433/".to_owned(), "/udp/0/".to_owned()),
            ("/tcp/4433\"".to_owned(), "/tcp/0\"".to_owned()),
        ];
        Self {
            root,
            etc,
            data,
            work,
            http_port,
            base_env,
            vars: BTreeMap::new(),
            subs,
            node: None,
            certificate_command: None,
        }
    }

    fn here(&self, text: &str) -> String {
        self.subs
            .iter()
            .fold(text.to_owned(), |text, (guide, here)| text.replace(guide, here))
    }

    fn back(&self, text: &str) -> String {
        self.subs
            .iter()
            .fold(text.to_owned(), |text, (guide, here)| text.replace(here, guide))
    }

    fn env(&self) -> BTreeMap<String, String> {
        let mut env = self.base_env.clone();
        env.extend(self.vars.clone());
        env
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .envs(self.env())
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn perform(&mut self, item: &Item) {
        match item {
            Item::Config(text) => std::fs::write(self.etc.join("parley.toml"), self.here(text)).unwrap(),
            Item::Step(step) => {
                if not_run_here(&step.line).is_some() {
                    return;
                }
                let line = self.here(without_sudo(&step.line));
                if let Some(signal) = signal_of(&line) {
                    assert!(step.shown.is_none(), "output shown for `{}`", step.line);
                    self.signal(signal);
                } else if line.starts_with("parley node ") && !line.contains("--print-config") {
                    self.start_node(&line, step);
                } else {
                    self.shell(&line, step);
                    if line.starts_with("openssl req ") {
                        self.certificate_command = Some(line);
                    }
                }
            }
        }
    }

    /// Runs one line in bash, keeping the variables it sets for the lines after it.
    fn shell(&mut self, line: &str, step: &Step) {
        let output = self.bash(line);
        let code = output.status.code();
        let stdout = self.back(&String::from_utf8_lossy(&output.stdout));
        let stderr = self.back(&String::from_utf8_lossy(&output.stderr));
        match &step.shown {
            Some(shown) if shown.is_error() => {
                assert_eq!(code, Some(1), "`{}` was to fail:\n{stdout}\n{stderr}", step.line);
                assert_shown(&step.line, shown, &stderr);
            }
            shown => {
                assert_eq!(code, Some(0), "`{}` failed:\n{stdout}\n{stderr}", step.line);
                if let Some(shown) = shown {
                    assert_shown(&step.line, shown, &stdout);
                }
            }
        }
    }

    /// `line` in bash with `set -a` (so what it assigns is exported and can be read back) and
    /// `pipefail`; the variables it set or changed are kept.
    fn bash(&mut self, line: &str) -> Output {
        let dump = self.root.path().join("environment-after");
        let script = format!(
            "set -a -o pipefail\n{line}\n__guide_status=$?\nenv -0 > '{}'\nexit $__guide_status\n",
            dump.display()
        );
        let before = self.env();
        let child = self.command("bash").arg("-c").arg(script).spawn().unwrap();
        let output = output_within(child, Duration::from_secs(60), line);
        if let Ok(after) = std::fs::read(&dump) {
            let after: BTreeMap<String, String> = String::from_utf8_lossy(&after)
                .split('\0')
                .filter_map(|entry| entry.split_once('='))
                .filter(|(name, _)| !name.starts_with("__guide") && !["PWD", "OLDPWD", "SHLVL", "_"].contains(name))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            for (name, value) in &after {
                if before.get(name) != Some(value) {
                    self.vars.insert(name.clone(), value.clone());
                }
            }
            self.vars.retain(|name, _| after.contains_key(name));
            std::fs::remove_file(&dump).unwrap();
        }
        output
    }

    /// `parley node …` as in a terminal of its own: running on, its output collected.
    fn start_node(&mut self, line: &str, step: &Step) {
        assert!(self.node.is_none(), "`{}` while a node runs", step.line);
        let mut child = self
            .command("bash")
            .arg("-c")
            .arg(format!("exec {line}"))
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in readers {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let mut node = Node { child, lines };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !node.lines().iter().any(|line| line.starts_with("parley node serving ")) {
            if let Some(status) = node.child.try_wait().unwrap() {
                panic!("`{}` exited ({status}):\n{}", step.line, node.lines().join("\n"));
            }
            assert!(Instant::now() < deadline, "`{}` never served", step.line);
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(shown) = &step.shown {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let printed: Vec<String> = node.lines().iter().map(|line| self.back(line)).collect();
                if text_matches(&shown.text, &printed) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the output the guide shows for `{}` is not what it prints:\n{}\nit prints:\n{}",
                    step.line,
                    shown.text,
                    printed.join("\n")
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.node = Some(node);
    }
}

impl Walk {
    /// `kill -SIG "$(pidof parley)"`, sent to the node the guide started.
    fn signal(&mut self, signal: &str) {
        let pid = self.node.as_ref().expect("a signal while no node runs").child.id();
        match signal {
            "HUP" => self.renew_and_reload(pid),
            "TERM" => self.stop(),
            other => panic!("the guide sends SIG{other}, which this test does not know"),
        }
    }

    /// The guide's renewal: its certificate command again, then SIGHUP; the new certificate must be
    /// served and the old one no longer.
    fn renew_and_reload(&mut self, pid: u32) {
        let certificate = self.etc.join("fullchain.pem");
        let old = std::fs::read(&certificate).unwrap();
        let command = self
            .certificate_command
            .clone()
            .expect("the guide reloads a certificate before making one");
        let output = self.bash(&command);
        assert!(
            output.status.success(),
            "renewing: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let new = std::fs::read(&certificate).unwrap();
        assert_ne!(old, new, "the certificate command made the same certificate again");
        send("HUP", pid);
        let url = format!("https://127.0.0.1:{}/health", self.http_port);
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let deadline = Instant::now() + Duration::from_secs(10);
            while health(&new, &url).await != Some(StatusCode::OK) {
                assert!(
                    Instant::now() < deadline,
                    "the renewed certificate was not served after SIGHUP"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(health(&old, &url).await, None, "the old certificate is still served");
        });
    }

    /// SIGTERM: the node must drain, say so and exit 0.
    fn stop(&mut self) {
        let mut node = self.node.take().expect("no node to stop");
        send("TERM", node.child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = node.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the node was still running 30 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !node.lines().iter().any(|line| line == "parley node stopped") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let printed = node.lines().join("\n");
        assert!(status.success(), "the node exited with {status} on SIGTERM:\n{printed}");
        assert!(
            printed.lines().any(|line| line == "parley node stopped"),
            "the node did not say it stopped:\n{printed}"
        );
    }

    /// `parley admin <args>` in the guide's shell, as JSON.
    fn admin(&self, args: &[&str]) -> Value {
        let child = self
            .command(env!("CARGO_BIN_EXE_parley"))
            .arg("admin")
            .args(args)
            .spawn()
            .unwrap();
        let output = output_within(child, Duration::from_secs(60), &format!("parley admin {args:?}"));
        assert!(
            output.status.success(),
            "parley admin {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// After the last line: the restarted node holds what the walk-through made, the data dir holds
    /// what the guide lists, Prometheus's target answers, and the node stops cleanly.
    fn finish(mut self) {
        assert!(self.node.is_some(), "the guide ends with its node running again");
        let users = self.admin(&["users"]);
        let usernames: Vec<&str> = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["username"].as_str().unwrap())
            .collect();
        assert_eq!(usernames, ["admin", "ann"], "{users}");
        let ann = self.admin(&["user", "ann"]);
        assert_eq!(ann["role"], "user", "{ann}");
        assert!(ann["suspended_at"].is_null(), "{ann}");
        let tokens = self.admin(&["registration-token", "list"]);
        let tokens = tokens["tokens"].as_array().unwrap();
        let invite = self.vars.get("INVITE").expect("the guide keeps a token in $INVITE");
        assert!(
            tokens.iter().all(|token| token["token"] != **invite),
            "revoked but listed: {tokens:?}"
        );
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        assert_eq!(tokens[0]["uses_allowed"], 5, "{tokens:?}");
        assert_eq!(self.admin(&["denied-nodes"])["peer_ids"], serde_json::json!([]));

        let mut entries = BTreeSet::new();
        for entry in std::fs::read_dir(&self.data).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.file_type().unwrap().is_dir();
            entries.insert(if dir { format!("{name}/") } else { name });
        }
        assert_eq!(data_dir_entries_in_guide(), entries, "the guide's data dir table");

        let target = format!("http://{}/metrics", self.here(&scrape_target()));
        let text = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { reqwest::get(&target).await.unwrap().text().await.unwrap() });
        assert!(text.contains("# TYPE parley_users gauge"), "{target}: {text}");
        self.stop();
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        if let Some(mut node) = self.node.take() {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

fn send(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// `/health` over HTTPS trusting only `ca`; `None` when the TLS handshake (or anything else) fails.
async fn health(ca: &[u8], url: &str) -> Option<StatusCode> {
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca).unwrap())
        .build()
        .unwrap();
    client.get(url).send().await.ok().map(|response| response.status())
}

/// The entries of the table under "What the data dir holds".
fn data_dir_entries_in_guide() -> BTreeSet<String> {
    let section = GUIDE
        .split("### What the data dir holds")
        .nth(1)
        .expect("the guide has a section on the data dir");
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| row.split('|').nth(1).unwrap().trim().trim_matches('`').to_owned())
        .collect()
}

/// The guide's config file, as TOML.
fn config() -> toml::Table {
    let (_, body) = fences(GUIDE)
        .into_iter()
        .find(|(lang, _)| lang == "toml")
        .expect("the guide has a config file");
    body.parse().unwrap()
}

fn config_str(key: &str) -> String {
    config()[key]
        .as_str()
        .unwrap_or_else(|| panic!("the guide's config has no {key}"))
        .to_owned()
}

/// The one target of the guide's Prometheus scrape config.
fn scrape_target() -> String {
    let (_, body) = fences(GUIDE)
        .into_iter()
        .find(|(lang, _)| lang == "yaml")
        .expect("the guide has a Prometheus scrape config");
    let yaml: serde_norway::Value = serde_norway::from_str(&body).unwrap();
    let yaml = serde_json::to_value(yaml).unwrap();
    let jobs = yaml["scrape_configs"].as_array().expect("scrape_configs is a list");
    assert_eq!(jobs.len(), 1, "{yaml}");
    assert_eq!(jobs[0]["job_name"], "parley");
    assert!(
        jobs[0]["metrics_path"].is_null() || jobs[0]["metrics_path"] == "/metrics",
        "{yaml}"
    );
    let targets = jobs[0]["static_configs"][0]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{yaml}");
    targets[0].as_str().unwrap().to_owned()
}

#[test]
fn every_command_of_the_guide_runs_as_written() {
    for (tool, version) in TOOLS {
        let found = Command::new(tool)
            .arg(version)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(found, "the guide's commands need {tool}, which is not installed here");
    }
    let mut walk = Walk::new();
    for item in items() {
        walk.perform(&item);
    }
    walk.finish();
}

/// `parley <path> --help`: its subcommands and its long flags, read once per path.
#[derive(Default)]
struct Help(HashMap<Vec<String>, (BTreeSet<String>, BTreeSet<String>)>);

impl Help {
    fn of(&mut self, path: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
        self.0
            .entry(path.to_vec())
            .or_insert_with(|| {
                let output = Command::new(env!("CARGO_BIN_EXE_parley"))
                    .args(path)
                    .arg("--help")
                    .output()
                    .unwrap();
                assert!(output.status.success(), "parley {path:?} --help failed");
                parse_help(&String::from_utf8_lossy(&output.stdout))
            })
            .clone()
    }
}

fn parse_help(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut commands = BTreeSet::new();
    let mut flags = BTreeSet::new();
    let mut in_commands = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_commands = line == "Commands:";
            continue;
        }
        let line = line.trim_start();
        if in_commands {
            commands.extend(line.split_whitespace().next().map(str::to_owned));
        } else if line.starts_with('-') {
            let spec = line
                .split_whitespace()
                .take_while(|word| word.starts_with('-') || word.starts_with('<') || word.starts_with('['));
            flags.extend(
                spec.filter(|word| word.starts_with("--"))
                    .map(|word| word.trim_end_matches(',').to_owned()),
            );
        }
    }
    (commands, flags)
}

/// The arguments of each `parley …` in `line` that is followed by a subcommand or a flag, up to a shell
/// operator or the end of a `$(…)`.
fn invocations(line: &str, subcommands: &BTreeSet<String>) -> Vec<Vec<String>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let word = word.rsplit("$(").next().unwrap_or(word);
        let is_parley = word == "parley" || word.ends_with("/parley");
        // After a flag, it is that flag's value: `-u parley`, `--home-dir /var/lib/parley`.
        if !is_parley || (i > 0 && words[i - 1].starts_with('-')) {
            continue;
        }
        let mut args = Vec::new();
        for word in &words[i + 1..] {
            if ["|", "&&", "||", ";"].contains(word) {
                break;
            }
            if let Some(last) = word.strip_suffix(')').filter(|word| !word.contains('(')) {
                args.push(last.to_owned());
                break;
            }
            args.push((*word).to_owned());
        }
        if args
            .first()
            .is_some_and(|first| first.starts_with("--") || subcommands.contains(first))
        {
            found.push(args);
        }
    }
    found
}

#[test]
fn every_parley_command_line_of_the_guide_uses_real_subcommands_and_flags() {
    let steps = steps();
    let lines: BTreeSet<&str> = steps.iter().map(|step| step.line.as_str()).collect();
    for (allowed, reason) in NOT_RUN_HERE {
        assert!(
            lines.contains(allowed),
            "NOT_RUN_HERE lists `{allowed}`, which the guide does not have (any more?)"
        );
        assert!(!reason.is_empty());
    }

    let mut help = Help::default();
    let (top, _) = help.of(&[]);
    let mut checked = 0;
    for step in &steps {
        for args in invocations(&step.line, &top) {
            let mut path: Vec<String> = Vec::new();
            for arg in &args {
                let (commands, flags) = help.of(&path);
                if let Some(flag) = arg.strip_prefix("--") {
                    let flag = format!("--{}", flag.split('=').next().unwrap());
                    assert!(
                        flags.contains(&flag),
                        "`{}`: `parley {}` takes no {flag}",
                        step.line,
                        path.join(" ")
                    );
                } else if commands.contains(arg) {
                    path.push(arg.clone());
                }
            }
            let (commands, _) = help.of(&path);
            assert!(
                commands.is_empty() || (path.is_empty() && args[0].starts_with("--")),
                "`{}`: `parley {}` needs a subcommand",
                step.line,
                path.join(" ")
            );
            checked += 1;
        }
        for word in step.line.split_whitespace() {
            if word.starts_with("deploy/") {
                let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(word);
                assert!(path.exists(), "`{}` names {word}, which does not exist", step.line);
            }
        }
    }
    assert!(checked > 30, "only {checked} parley command lines found");
}

#[test]
fn the_guide_agrees_with_the_deployment_files_the_config_and_the_metrics() {
    // The unit runs the guide's config from the guide's data dir.
    assert!(
        UNIT.contains("\nExecStart=/usr/local/bin/parley node --config /etc/parley/parley.toml\n"),
        "{UNIT}"
    );
    assert!(UNIT.contains("\nUser=parley\n") && UNIT.contains("\nStateDirectory=parley\n"));
    assert_eq!(config_str("data-dir"), "/var/lib/parley");
    assert_eq!(
        GUIDE.contains("has no `ExecReload=`"),
        !UNIT.contains("ExecReload="),
        "what the guide says about reloading under systemd"
    );
    let lines: Vec<String> = steps().into_iter().map(|step| step.line).collect();
    if !UNIT.contains("ExecReload=") {
        assert!(!lines.iter().any(|line| line.contains("systemctl reload")));
    }
    for setting in ["TimeoutStopSec=60s", "KillSignal=SIGTERM"] {
        assert!(UNIT.contains(setting), "the guide's account of the unit: {setting}");
    }
    assert!(DOCKERFILE.contains("\nENV PARLEY_DATA_DIR=/var/lib/parley\n"));

    // Compose: the services the guide names, the ports it gives.
    let mut compose: serde_norway::Value = serde_norway::from_str(COMPOSE).unwrap();
    compose.apply_merge().unwrap();
    let compose = serde_json::to_value(compose).unwrap();
    for (service, port) in [
        ("node-a", "8081:8080"),
        ("node-b", "8082:8080"),
        ("node-c", "8083:8080"),
    ] {
        assert_eq!(compose["services"][service]["ports"], serde_json::json!([port]));
    }
    for line in &lines {
        if let Some((_, rest)) = line.split_once(" exec ") {
            let service = rest.split_whitespace().next().unwrap();
            assert!(
                compose["services"][service].is_object(),
                "`{line}`: no service {service}"
            );
        }
    }

    // The certificate the guide makes (and the one certbot copies) is the one its config serves.
    let openssl = lines
        .iter()
        .find(|line| line.contains("openssl req "))
        .expect("the guide makes a certificate");
    let after = |flag: &str| {
        let words: Vec<&str> = openssl.split_whitespace().collect();
        let at = words.iter().position(|word| *word == flag).unwrap();
        words[at + 1].to_owned()
    };
    assert_eq!(after("-out"), config_str("tls-cert"));
    assert_eq!(after("-keyout"), config_str("tls-key"));
    let certbot = lines.iter().find(|line| line.contains("certbot ")).unwrap();
    for file in [config_str("tls-cert"), config_str("tls-key")] {
        let (dir, name) = file.rsplit_once('/').unwrap();
        assert!(
            certbot.contains(&format!("$RENEWED_LINEAGE/{name}")) && certbot.contains(&format!(" {dir}/ ")),
            "certbot's hook does not put {file} in place"
        );
    }

    // Prometheus scrapes what the config serves.
    assert_eq!(scrape_target(), config_str("metrics"));

    // Every series the guide names is one a node registers, and it names them all.
    let mut registered = BTreeSet::new();
    for source in METRICS_SOURCES {
        for (at, _) in source.match_indices(".register(") {
            let rest = source[at + ".register(".len()..].trim_start();
            if let Some(rest) = rest.strip_prefix('"') {
                registered.insert(format!("parley_{}", &rest[..rest.find('"').unwrap()]));
            }
        }
    }
    assert!(registered.len() >= 10, "{registered:?}");
    let mut named = BTreeSet::new();
    for (at, _) in GUIDE.match_indices("parley_") {
        if GUIDE[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &GUIDE[at..];
        let name = &rest[..rest
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(rest.len())];
        if name.ends_with('_') {
            continue;
        }
        let family = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|base| registered.contains(*base)))
            .unwrap_or(name);
        assert!(
            registered.contains(family),
            "the guide names {name}, which no node serves"
        );
        named.insert(family.to_owned());
    }
    assert_eq!(named, registered, "the guide's list of series");

    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/grafana-dashboard.json")
            .is_file(),
        "the guide points at docs/grafana-dashboard.json"
    );
}
