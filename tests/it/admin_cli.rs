//! `parley admin` through the real binary: as the local operator against a running node (the token it
//! wrote to its data dir), on a stopped node's store, and as an operator account from elsewhere
//! (`--token`). The HTTP side of the operator API is tested in `admin.rs`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use node::OPERATOR_TOKEN_FILE;

use crate::support::*;

/// What one `parley admin` run left behind.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) code: i32,
    /// Its stdout parsed as JSON, or as one trimmed string when it is not JSON (`deleted ann`).
    pub(crate) out: Value,
    pub(crate) err: String,
}

impl Answer {
    /// The JSON of a run that must have succeeded.
    #[track_caller]
    pub(crate) fn ok(self) -> Value {
        assert_eq!(self.code, 0, "parley admin failed: {self:?}");
        assert!(self.err.is_empty(), "a success wrote to stderr: {self:?}");
        self.out
    }

    /// The one-line message of a run that must have failed.
    #[track_caller]
    pub(crate) fn failed(self) -> String {
        assert_eq!(self.code, 1, "parley admin did not fail as expected: {self:?}");
        assert_eq!(self.out, json!(""), "a failure wrote to stdout: {self:?}");
        let message = self.err.trim_end();
        assert!(
            message.starts_with("parley: ") && !message.contains('\n'),
            "not one `parley: ` line: {message:?}"
        );
        message.to_owned()
    }
}

/// Runs `parley admin --data-dir <data_dir> <args…>` with none of Parley's variables from the test's
/// environment, so only what the test passes counts.
pub(crate) fn admin(data_dir: &Path, args: &[&str]) -> Answer {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command.arg("admin").arg("--data-dir").arg(data_dir).args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PARLEY_") {
            command.env_remove(name);
        }
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parley starts");
    let output = output_within(child, Duration::from_secs(60), &format!("parley admin {args:?}"));
    let stdout = String::from_utf8(output.stdout).unwrap();
    Answer {
        code: output.status.code().expect("parley admin exited, not killed"),
        out: serde_json::from_str(&stdout).unwrap_or_else(|_| Value::String(stdout.trim().to_owned())),
        err: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `admin` off the async runtime's thread.
pub(crate) async fn admin_async(data_dir: &Path, args: &[&str]) -> Answer {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        admin(&data_dir, &args)
    })
    .await
    .unwrap()
}

/// Starts `parley node` on `data_dir` with `extra` arguments; returns it and its URL.
pub(crate) fn start(data_dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut command = node_command(data_dir);
    command.args(extra);
    let (child, base) = spawn_node(command);
    (child, base.expect("the node serves"))
}

/// Stops a node as its service manager would (SIGTERM, through `kill(1)`, so no unsafe code or extra
/// dependency), and waits until it has exited and so released its store.
pub(crate) fn stop(mut node: Child) {
    let signalled = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status()
        .is_ok_and(|status| status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while signalled && Instant::now() < deadline {
        if let Some(status) = node.try_wait().unwrap() {
            assert!(status.success(), "the node stopped badly on SIGTERM: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // No `kill(1)`, or a node that ignored it: a dead process releases its store all the same.
    node.kill().unwrap();
    node.wait().unwrap();
}

/// The local operator's API client, with the token the node wrote when it last started.
fn local_operator(base: &str, data_dir: &Path) -> Api {
    let token = std::fs::read_to_string(data_dir.join(OPERATOR_TOKEN_FILE)).unwrap();
    Api::new(base).with_token(token.trim())
}

async fn register(base: &str, name: &str, registration_token: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({
        "email": format!("{name}@example.org"),
        "username": name,
        "password": "correct horse battery",
        "device_id": Uuid::new_v4(),
    });
    if let Some(token) = registration_token {
        body["registration_token"] = json!(token);
    }
    Api::new(base).post("/v1/auth/register", body).await
}

async fn login(base: &str, name: &str, password: &str) -> (StatusCode, Value) {
    Api::new(base)
        .post(
            "/v1/auth/login",
            json!({ "identity": name, "password": password, "device_id": Uuid::new_v4() }),
        )
        .await
}

/// `parley admin --url <base> --token <token> <args…>`: as an operator account, from anywhere.
async fn as_account(data_dir: &Path, base: &str, token: &str, args: &[&str]) -> Answer {
    let mut all = vec!["--url", base, "--token", token];
    all.extend_from_slice(args);
    admin_async(data_dir, &all).await
}

fn usernames(list: &Value) -> Vec<&str> {
    list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect()
}

fn audit_lines(log: &Value) -> Vec<(String, String, String)> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let field = |name: &str| entry[name].as_str().unwrap().to_owned();
            (field("operator"), field("action"), field("target"))
        })
        .collect()
}

fn local(action: &str, target: &str) -> (String, String, String) {
    ("local".to_owned(), action.to_owned(), target.to_owned())
}

fn token_entry<'a>(list: &'a Value, token: &str) -> Option<&'a Value> {
    list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["token"] == token)
}

#[tokio::test]
async fn the_local_operator_runs_a_token_node_from_its_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (node, base) = start(data, &["--registration", "token"]);

    let created = admin_async(
        data,
        &[
            "create-user",
            "root",
            "--email",
            "root@example.org",
            "--password",
            "operator password",
            "--display-name",
            "The Root",
            "--operator",
        ],
    )
    .await
    .ok();
    assert_eq!(created["user"]["username"], "root");
    assert_eq!(created["user"]["role"], "operator");
    assert_eq!(created["user"]["display_name"], "The Root");
    assert!(created["reset_token"].is_null(), "{created}");
    assert_ok(login(&base, "root", "operator password").await, StatusCode::OK);

    let once = admin_async(data, &["registration-token", "create", "--uses", "1"])
        .await
        .ok();
    let once = once["token"].as_str().expect("the new token").to_owned();
    assert_ok(register(&base, "ann", Some(&once)).await, StatusCode::CREATED);
    let used = assert_error(
        &register(&base, "bob", Some(&once)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(used.contains("used up"), "{used}");

    let party = admin_async(
        data,
        &[
            "registration-token",
            "create",
            "--token",
            "spring-party",
            "--expires-in",
            "3600",
        ],
    )
    .await
    .ok();
    assert_eq!(party["token"], "spring-party");
    assert!(party["uses_allowed"].is_null(), "{party}");
    let expires_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(party["expires_at"].clone()).unwrap();
    let ahead = expires_at - chrono::Utc::now();
    assert!(
        ahead > chrono::TimeDelta::minutes(59) && ahead <= chrono::TimeDelta::minutes(60),
        "--expires-in 3600 gave {expires_at}"
    );

    let list = admin_async(data, &["registration-token", "list"]).await.ok();
    let spent = token_entry(&list, &once).expect("the used token is listed");
    assert_eq!(spent["uses_allowed"], 1);
    assert_eq!(spent["completed"], 1);
    assert_eq!(spent["valid"], false);
    assert_eq!(token_entry(&list, "spring-party").unwrap()["valid"], true);

    let found = admin_async(data, &["users", "--query", "ro"]).await.ok();
    assert_eq!(usernames(&found), ["root"]);
    let stats = admin_async(data, &["stats"]).await.ok();
    assert_eq!(stats["users"], 2, "{stats}");
    assert_eq!(stats["suspended_users"], 0, "{stats}");

    let revoked = admin_async(data, &["registration-token", "revoke", &once]).await.ok();
    assert_eq!(revoked, json!(format!("revoked {once}")));
    let list = admin_async(data, &["registration-token", "list"]).await.ok();
    assert!(token_entry(&list, &once).is_none(), "revoked but listed: {list}");
    assert!(token_entry(&list, "spring-party").is_some(), "{list}");

    let audit = admin_async(data, &["audit"]).await.ok();
    assert_eq!(
        audit_lines(&audit),
        [
            local("revoke-registration-token", &format!("token:{once}")),
            local("create-registration-token", "token:spring-party"),
            local("create-registration-token", &format!("token:{once}")),
            local("create-user", "user:root"),
        ]
    );
    assert!(audit["next_cursor"].is_null(), "{audit}");
    let first = admin_async(data, &["audit", "--limit", "1"]).await.ok();
    assert_eq!(audit_lines(&first), [audit_lines(&audit)[0].clone()]);
    let cursor = first["next_cursor"].as_str().expect("a cursor to the older entries");
    let rest = admin_async(data, &["audit", "--cursor", cursor]).await.ok();
    assert_eq!(audit_lines(&rest), audit_lines(&audit)[1..]);
    stop(node);
}

#[tokio::test]
async fn a_suspension_from_the_cli_closes_the_users_socket_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (node, base) = start(data, &["--registration", "open"]);
    let ann = assert_ok(register(&base, "ann", None).await, StatusCode::CREATED);
    let token = ann["access_token"].as_str().unwrap();
    let mut socket = Ws::connect(&format!("{}/v1/ws?token={token}", base.replacen("http", "ws", 1))).await;
    assert_eq!(socket.next().await["type"], "ready");

    let suspended = admin_async(data, &["suspend", "ann"]).await.ok();
    assert_eq!(suspended["username"], "ann");
    assert!(suspended["suspended_at"].is_string(), "{suspended}");
    assert!(
        socket.closed_within(Duration::from_secs(5)).await,
        "the socket stayed open after `parley admin suspend`"
    );
    assert_error(
        &Api::new(&base).with_token(token).get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let refusal = assert_error(
        &login(&base, "ann", "correct horse battery").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(refusal.contains("suspended"), "{refusal}");
    let shown = admin_async(data, &["user", "ann"]).await.ok();
    assert!(shown["suspended_at"].is_string(), "{shown}");

    // An account is named by its id as well as by its username.
    let id = ann["user_id"].as_str().unwrap();
    let lifted = admin_async(data, &["unsuspend", id]).await.ok();
    assert_eq!(lifted["username"], "ann");
    assert!(lifted["suspended_at"].is_null(), "{lifted}");
    assert_ok(login(&base, "ann", "correct horse battery").await, StatusCode::OK);
    stop(node);
}

#[tokio::test]
async fn on_a_stopped_node_the_cli_changes_the_store_and_the_node_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (node, base) = start(data, &["--registration", "open"]);
    let mut tokens = Vec::new();
    for name in ["ann", "bob", "cyd"] {
        let account = assert_ok(register(&base, name, None).await, StatusCode::CREATED);
        tokens.push(account["access_token"].as_str().unwrap().to_owned());
    }
    let [ann_token, bob_token, cyd_token] = <[String; 3]>::try_from(tokens).unwrap();
    let cyd = Api::new(&base).with_token(&cyd_token);
    let upload = cyd
        .request(reqwest::Method::POST, "/v1/files?file_name=notes.bin")
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096]);
    let file = assert_ok(cyd.send(upload).await, StatusCode::CREATED);
    let blob = data.join("files").join(file["id"].as_str().unwrap());
    assert!(blob.is_file(), "the upload is not at {}", blob.display());
    stop(node);

    let dan = admin_async(data, &["create-user", "dan", "--email", "dan@example.org"])
        .await
        .ok();
    assert_eq!(dan["user"]["role"], "user");
    let dan_reset = dan["reset_token"]
        .as_str()
        .expect("a reset token when no password is given")
        .to_owned();
    let invite = admin_async(
        data,
        &[
            "registration-token",
            "create",
            "--token",
            "offline-invite",
            "--uses",
            "1",
        ],
    )
    .await
    .ok();
    assert_eq!(invite["valid"], true, "{invite}");
    let everyone = admin_async(data, &["users"]).await.ok();
    assert_eq!(usernames(&everyone), ["ann", "bob", "cyd", "dan"]);
    let page = admin_async(data, &["users", "--limit", "3"]).await.ok();
    assert_eq!(usernames(&page), ["ann", "bob", "cyd"]);
    let cursor = page["next_cursor"].as_str().expect("a cursor to the next page");
    let last = admin_async(data, &["users", "--limit", "3", "--cursor", cursor])
        .await
        .ok();
    assert_eq!(usernames(&last), ["dan"]);
    assert!(last["next_cursor"].is_null(), "{last}");

    let suspended = admin_async(data, &["suspend", "ann"]).await.ok();
    assert!(suspended["suspended_at"].is_string(), "{suspended}");
    let bob_reset = admin_async(data, &["reset-password", "bob"]).await.ok();
    let bob_reset = bob_reset["reset_token"].as_str().expect("a reset token").to_owned();

    let kept = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .to_base58();
    let allowed = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .to_base58();
    let denied = admin_async(data, &["deny-node", &kept]).await.ok();
    assert_eq!(denied["peer_ids"], json!([kept]));
    let both = admin_async(data, &["deny-node", &allowed]).await.ok();
    assert_eq!(both["peer_ids"].as_array().unwrap().len(), 2, "{both}");
    let after_allow = admin_async(data, &["allow-node", &allowed]).await.ok();
    assert_eq!(after_allow["peer_ids"], json!([kept]));
    let listed = admin_async(data, &["denied-nodes"]).await.ok();
    assert_eq!(listed["peer_ids"], json!([kept]));

    let deleted = admin_async(data, &["delete-user", "cyd"]).await.ok();
    assert_eq!(deleted, json!("deleted cyd"));
    let stats = admin_async(data, &["stats"]).await.ok();
    assert_eq!(stats["users"], 3, "{stats}");
    assert_eq!(stats["suspended_users"], 1, "{stats}");
    assert_eq!(stats["connected_sockets"], 0, "{stats}");
    assert_eq!(
        (stats["files"].as_u64(), stats["file_bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(!blob.exists(), "the deleted account's file is still on disk");

    let offline_actions = [
        local("delete-user", "user:cyd"),
        local("allow-node", &format!("node:{allowed}")),
        local("deny-node", &format!("node:{allowed}")),
        local("deny-node", &format!("node:{kept}")),
        local("reset-password", "user:bob"),
        local("suspend", "user:ann"),
        local("create-registration-token", "token:offline-invite"),
        local("create-user", "user:dan"),
    ];
    let audit = admin_async(data, &["audit"]).await.ok();
    assert_eq!(audit_lines(&audit), offline_actions);

    // The node, started again, holds to all of it.
    let (node, base) = start(data, &["--registration", "token"]);
    for (name, token) in [("ann", &ann_token), ("bob", &bob_token)] {
        let me = Api::new(&base).with_token(token).get("/v1/users/me").await;
        assert_eq!(
            me.0,
            StatusCode::UNAUTHORIZED,
            "{name}'s old session still works: {me:?}"
        );
    }
    let refusal = assert_error(
        &login(&base, "ann", "correct horse battery").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(refusal.contains("suspended"), "{refusal}");
    for (name, reset_token) in [("bob", &bob_reset), ("dan", &dan_reset)] {
        assert_ok(
            Api::new(&base)
                .post(
                    "/v1/auth/password/reset",
                    json!({ "reset_token": reset_token, "new_password": format!("{name}'s new password") }),
                )
                .await,
            StatusCode::OK,
        );
        assert_ok(
            login(&base, name, &format!("{name}'s new password")).await,
            StatusCode::OK,
        );
    }
    assert_eq!(
        login(&base, "cyd", "correct horse battery").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_ok(
        register(&base, "eve", Some("offline-invite")).await,
        StatusCode::CREATED,
    );
    let root = local_operator(&base, data);
    assert_error(
        &root.get("/v1/admin/users/cyd").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let denied = assert_ok(root.get("/v1/admin/federation/denied").await, StatusCode::OK);
    assert_eq!(denied["peer_ids"], json!([kept]));
    let audit = assert_ok(root.get("/v1/admin/audit").await, StatusCode::OK);
    assert_eq!(audit_lines(&audit), offline_actions);
    stop(node);
}

#[tokio::test]
async fn an_operator_account_runs_the_cli_from_another_machine_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (node, base) = start(data, &["--registration", "open"]);
    admin_async(
        data,
        &[
            "create-user",
            "root",
            "--email",
            "root@example.org",
            "--password",
            "operator password",
            "--operator",
        ],
    )
    .await
    .ok();
    let root = assert_ok(login(&base, "root", "operator password").await, StatusCode::OK);
    let root_token = root["access_token"].as_str().unwrap();
    let ann = assert_ok(register(&base, "ann", None).await, StatusCode::CREATED);
    let ann_token = ann["access_token"].as_str().unwrap();

    // Another machine: a data dir with nothing in it, the node named by --url.
    let elsewhere = tempfile::tempdir().unwrap();
    let remote = |token, args| as_account(elsewhere.path(), &base, token, args);
    let stats = remote(root_token, &["stats"]).await.ok();
    assert_eq!(stats["users"], 2, "{stats}");

    let refusal = remote(ann_token, &["stats"]).await.failed();
    assert!(refusal.contains("403") && refusal.contains("operators"), "{refusal}");

    // Made an operator by the root account, ann's token works; made a user again, it does not.
    let promoted = remote(root_token, &["set-role", "ann", "operator"]).await.ok();
    assert_eq!(promoted["role"], "operator");
    remote(ann_token, &["users"]).await.ok();
    let demoted = remote(root_token, &["set-role", "ann", "user"]).await.ok();
    assert_eq!(demoted["role"], "user");
    remote(ann_token, &["users"]).await.failed();

    let audit = admin_async(data, &["audit", "--limit", "2"]).await.ok();
    let by_root = |action: &str| ("user:root".to_owned(), action.to_owned(), "user:ann".to_owned());
    assert_eq!(
        audit_lines(&audit),
        [by_root("revoke-operator"), by_root("grant-operator")]
    );
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "parley admin --token wrote to its data dir"
    );
    stop(node);
}

#[tokio::test]
async fn mistakes_are_one_line_on_stderr_and_exit_code_1() {
    // A data dir with no store, empty or missing, is refused and left as it was.
    let dir = tempfile::tempdir().unwrap();
    let message = admin_async(dir.path(), &["stats"]).await.failed();
    assert!(message.contains(&dir.path().display().to_string()), "{message}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "something was created"
    );
    let missing = dir.path().join("missing");
    let message = admin_async(&missing, &["users"]).await.failed();
    assert!(message.contains(&missing.display().to_string()), "{message}");
    assert!(!missing.exists(), "the missing data dir was created");

    let data = dir.path().join("data");
    let (node, _base) = start(&data, &["--registration", "open"]);
    // Running: the node answers.
    let message = admin_async(&data, &["user", "nobody"]).await.failed();
    assert!(message.contains("not found"), "{message}");
    let message = admin_async(&data, &["deny-node", "not-a-peer"]).await.failed();
    assert!(message.contains("PeerId"), "{message}");
    // A node that runs but whose operator token cannot be read.
    std::fs::remove_file(data.join(OPERATOR_TOKEN_FILE)).unwrap();
    let message = admin_async(&data, &["stats"]).await.failed();
    assert!(message.contains(OPERATOR_TOKEN_FILE), "{message}");
    stop(node);
    // Stopped: the CLI itself.
    let message = admin_async(&data, &["user", "nobody"]).await.failed();
    assert!(message.contains("not found"), "{message}");
    let message = admin_async(&data, &["deny-node", "not-a-peer"]).await.failed();
    assert!(message.contains("PeerId"), "{message}");
    let listed = admin_async(&data, &["denied-nodes"]).await.ok();
    assert_eq!(listed["peer_ids"], json!([]));
    let audit = admin_async(&data, &["audit"]).await.ok();
    assert_eq!(audit["entries"], json!([]), "a refused action was logged");

    // --token: a node that does not answer, and a token that is nobody's.
    let message = as_account(dir.path(), "http://127.0.0.1:1", "whatever", &["stats"])
        .await
        .failed();
    assert!(message.contains("could not talk to the node"), "{message}");
    let (node, base) = start(&data, &["--registration", "open"]);
    let message = as_account(dir.path(), &base, "not-a-token", &["stats"]).await.failed();
    assert!(message.contains("401"), "{message}");
    stop(node);
}

/// The commands the other tests run only against a running node, here on a stopped node's store: every
/// command works both ways.
#[tokio::test]
async fn every_command_also_works_on_a_stopped_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (node, base) = start(data, &[]);
    assert_ok(register(&base, "ann", None).await, StatusCode::CREATED);
    stop(node);

    let peer = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .to_string();
    let file = dir.path().join("offline.backup");
    let steps: [&[&str]; 13] = [
        &["user", "ann"],
        &["suspend", "ann"],
        &["unsuspend", "ann"],
        &["set-role", "ann", "operator"],
        &["set-role", "ann", "user"],
        &["reset-password", "ann"],
        &["registration-token", "create", "--token", "spring", "--uses", "2"],
        &["registration-token", "list"],
        &["registration-token", "revoke", "spring"],
        &["deny-node", &peer],
        &["allow-node", &peer],
        &["backup", file.to_str().unwrap()],
        &["delete-user", "ann"],
    ];
    for args in steps {
        admin_async(data, args).await.ok();
    }
    let actions: Vec<String> = admin_async(data, &["audit", "--limit", "20"]).await.ok()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|entry| {
            format!(
                "{} {}",
                entry["operator"].as_str().unwrap(),
                entry["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "local suspend",
            "local unsuspend",
            "local grant-operator",
            "local revoke-operator",
            "local reset-password",
            "local create-registration-token",
            "local revoke-registration-token",
            "local deny-node",
            "local allow-node",
            "local backup",
            "local delete-user",
        ]
    );
    assert_eq!(admin_async(data, &["stats"]).await.ok()["users"], 0);
}

/// Without `--registration`, a node open to the network starts closed and a loopback one open; either
/// records a loopback URL for `parley admin`.
#[tokio::test]
async fn the_registration_default_depends_on_where_the_api_listens() {
    for (http, mode, status) in [
        ("127.0.0.1:0", "open", StatusCode::CREATED),
        ("0.0.0.0:0", "closed", StatusCode::FORBIDDEN),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_parley"));
        command
            .args([
                "node",
                "--http",
                http,
                "--p2p",
                "/ip4/127.0.0.1/udp/0/quic-v1",
                "--log",
                "warn",
            ])
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("PARLEY_REGISTRATION");
        let (node, base) = spawn_node(command);
        let base = base.expect("the node serves").replace("0.0.0.0", "127.0.0.1");
        let url_file = std::fs::read_to_string(dir.path().join("node.url")).unwrap();
        assert!(url_file.starts_with("http://127.0.0.1:"), "{url_file}");
        let (answer, body) = register(&base, "ann", None).await;
        assert_eq!(answer, status, "{http} should register {mode}: {body}");
        let stats = admin_async(dir.path(), &["stats"]).await.ok();
        assert_eq!(stats["users"], u64::from(mode == "open"), "{http}");
        stop(node);
    }
}
