//! `parley node --config <file>`: the real binary reads its settings from a TOML file, below flags and
//! the environment, refuses what it does not understand before touching anything, and prints what it
//! would run with (`--print-config`) as a config file of its own.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::{output_within, spawn_node};

/// `parley node` with `args`, and no `PARLEY_*` variable but those in `env`.
fn parley_node(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PARLEY_") {
            command.env_remove(name);
        }
    }
    command.arg("node").args(args).envs(env.iter().copied());
    command
}

fn run(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parley starts");
    output_within(child, Duration::from_secs(60), "parley node")
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("parley.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// What `--print-config` prints with `args` and `env`: the text, which must be a config file itself.
fn printed(args: &[&str], env: &[(&str, &str)]) -> (toml::Table, String) {
    let output = run(parley_node(&[args, &["--print-config"]].concat(), env));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = stdout
        .parse::<toml::Table>()
        .unwrap_or_else(|err| panic!("{err}\n{stdout}"));
    (table, stdout)
}

/// The source comment on `key`'s line: `default`, `file`, `environment` or `flag`.
fn source<'a>(printed: &'a str, key: &str) -> &'a str {
    let line = printed
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in\n{printed}"));
    line.rsplit("# ").next().unwrap_or_default()
}

/// Runs a node that must refuse to start; returns its one error line.
fn refused(command: Command) -> String {
    let output = run(command);
    assert_eq!(output.status.code(), Some(1), "exit code");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "said nothing else: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr.trim_end().to_owned()
}

#[tokio::test]
async fn a_node_started_with_only_a_config_file_serves_where_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &format!(
            "http = \"127.0.0.1:{port}\"\ndata-dir = {:?}\np2p = \"/ip4/127.0.0.1/udp/0/quic-v1\"\nlog = \"warn\"\n",
            data.to_string_lossy()
        ),
    );
    let (mut node, url) = spawn_node(parley_node(&["--config", &config], &[]));
    let url = url.expect("the node serves");
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    let health: serde_json::Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    node.kill().unwrap();
    let _ = node.wait();
    assert_eq!(health["data"]["status"], "healthy", "{health}");
    assert!(data.join("node.key").exists(), "the data dir is the file's");
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "rate-limit-auth = 7\n");
    let file = ["--config", config.as_str()];
    let file_and_flag = ["--config", config.as_str(), "--rate-limit-auth", "9"];
    let env = [("PARLEY_RATE_LIMIT_AUTH", "8")];
    let expect = |args: &[&str], env: &[(&str, &str)], value: i64, from: &str| {
        let (table, text) = printed(args, env);
        assert_eq!(table["rate-limit-auth"].as_integer(), Some(value), "{text}");
        assert_eq!(source(&text, "rate-limit-auth"), from, "{text}");
        assert_eq!(table["http"].as_str(), Some("127.0.0.1:8080"), "{text}");
        assert_eq!(source(&text, "http"), "default", "{text}");
    };
    expect(&file_and_flag, &env, 9, "flag");
    expect(&file, &env, 8, "environment");
    expect(&file, &[], 7, "file");
    expect(&[], &[], 5, "default");
}

#[test]
fn the_printed_configuration_reads_back_as_the_same_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http = \"127.0.0.1:9\"\ndev = true\nbootstrap = []\n");
    let (first, text) = printed(&["--config", &config, "--log", "debug"], &[]);
    let again = write_config(dir.path(), &text);
    let (second, _) = printed(&["--config", &again], &[]);
    assert_eq!(first, second);
    assert_eq!(second["log"].as_str(), Some("debug"));
    assert_eq!(second["dev"].as_bool(), Some(true));
}

#[test]
fn an_unknown_key_is_refused_naming_it_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (key, expected) in [
        ("htp = \"127.0.0.1:0\"", "unknown key \"htp\" (did you mean \"http\"?)"),
        ("config = \"other.toml\"", "key \"config\" is not a setting"),
    ] {
        let config = write_config(dir.path(), &format!("data-dir = {:?}\n{key}\n", data.to_string_lossy()));
        let flags = [
            "--config",
            &config,
            "--http",
            "127.0.0.1:0",
            "--p2p",
            "/ip4/127.0.0.1/udp/0/quic-v1",
        ];
        let line = refused(parley_node(&flags, &[]));
        assert!(line.starts_with(&format!("parley: {config}: {expected}")), "{line}");
        assert!(!data.exists(), "the data dir was created");
    }
}

#[test]
fn a_bad_value_or_file_is_refused_naming_the_key_or_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "http = \"nope\"",
            "key \"http\": invalid value \"nope\": invalid socket address syntax",
        ),
        (
            "rate-limits = \"maybe\"",
            "key \"rate-limits\": invalid value \"maybe\": expected one of",
        ),
        ("dev = \"yes\"", "key \"dev\": expected true or false"),
        (
            "http = [\"127.0.0.1:1\"]",
            "key \"http\": takes one value, not an array",
        ),
        ("rate-limit-auth = 5\nhttp = \"127.0", "line 2, column"),
    ];
    for (text, expected) in cases {
        let config = write_config(dir.path(), text);
        let line = refused(parley_node(&["--config", &config, "--print-config"], &[]));
        assert!(line.starts_with(&format!("parley: {config}: ")), "{line}");
        assert!(line.contains(expected), "{text}: {line}");
    }
    let missing = dir.path().join("missing.toml").to_string_lossy().into_owned();
    let line = refused(parley_node(&["--print-config"], &[("PARLEY_CONFIG", &missing)]));
    assert!(line.starts_with(&format!("parley: {missing}: ")), "{line}");
}

#[test]
fn ice_server_credentials_are_redacted_when_printed() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "ice-server = [\"stun:stun.example.org:3478\", \"turn:turn.example.org:3478;ann;s3cret\"]\n",
    );
    let (table, text) = printed(&["--config", &config], &[]);
    assert!(!text.contains("s3cret"), "{text}");
    let servers: Vec<&str> = table["ice-server"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|server| server.as_str())
        .collect();
    assert_eq!(
        servers,
        [
            "stun:stun.example.org:3478",
            "turn:turn.example.org:3478;ann;<redacted>"
        ]
    );
}

#[test]
fn repeatable_keys_take_an_array_or_a_single_string() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "cors-origin = [\"https://a.example\", \"https://b.example\"]\ntrusted-proxy = \"10.0.0.0/8\"\n\
         allow-unencrypted = false\n",
    );
    let (table, text) = printed(&["--config", &config], &[]);
    let strings = |key: &str| -> Vec<String> {
        let values = table[key].as_array().unwrap_or_else(|| panic!("{key} in\n{text}"));
        values
            .iter()
            .filter_map(|value| value.as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(strings("cors-origin"), ["https://a.example", "https://b.example"]);
    assert_eq!(strings("trusted-proxy"), ["10.0.0.0/8"]);
    assert!(strings("bootstrap").is_empty());
    assert_eq!(source(&text, "cors-origin"), "file");
    assert_eq!(source(&text, "bootstrap"), "default");
    assert_eq!(table["allow-unencrypted"].as_bool(), Some(false));
    assert_eq!(source(&text, "allow-unencrypted"), "file");
}

/// An operator changes the configuration and restarts: the accounts are still there, the new settings
/// hold.
#[tokio::test]
async fn a_restart_with_a_new_configuration_keeps_all_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = |registration: &str| {
        write_config(
            dir.path(),
            &format!(
                "http = \"127.0.0.1:0\"\ndata-dir = {:?}\np2p = \"/ip4/127.0.0.1/udp/0/quic-v1\"\nlog = \"warn\"\n\
                 registration = \"{registration}\"\nrate-limits = \"off\"\n",
                data.to_string_lossy()
            ),
        )
    };
    let register = |base: String, name: &'static str| async move {
        reqwest::Client::new()
            .post(format!("{base}/v1/auth/register"))
            .json(&serde_json::json!({
                "email": format!("{name}@example.org"),
                "username": name,
                "password": "correct horse battery",
                "device_id": uuid::Uuid::new_v4(),
            }))
            .send()
            .await
            .unwrap()
            .status()
    };

    let (mut node, base) = spawn_node(parley_node(&["--config", &config("open")], &[]));
    let base = base.expect("the node serves");
    assert_eq!(register(base, "ann").await, reqwest::StatusCode::CREATED);
    node.kill().unwrap();
    node.wait().unwrap();

    let (mut node, base) = spawn_node(parley_node(&["--config", &config("closed")], &[]));
    let base = base.expect("the node serves again");
    assert_eq!(
        register(base.clone(), "bob").await,
        reqwest::StatusCode::FORBIDDEN,
        "the new mode holds"
    );
    let login = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({
            "identity": "ann",
            "password": "correct horse battery",
            "device_id": uuid::Uuid::new_v4(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login.status(),
        reqwest::StatusCode::OK,
        "the account made before the restart"
    );
    node.kill().unwrap();
    node.wait().unwrap();
}
