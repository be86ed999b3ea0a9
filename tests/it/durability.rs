use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::*;

/// The real `parley node` process on a free port; returns the child, its base URL and its stdout so far.
fn start_node(data_dir: &Path) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = node_command(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("parley starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&line);
        }
    });
    let base = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("the node prints the URL it serves, got {line:?}"))
        .to_owned();
    (child, base, output)
}

async fn register(api: &Api, name: &str) -> (String, String, String) {
    let data = assert_ok(
        api.post(
            "/v1/auth/register",
            json!({ "email": format!("{name}@example.org"), "username": name, "password": "long enough pw",
                    "device_id": Uuid::new_v4() }),
        )
        .await,
        StatusCode::CREATED,
    );
    let field = |name: &str| data[name].as_str().unwrap().to_owned();
    (field("user_id"), field("device_id"), field("access_token"))
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, _) = start_node(dir.path());
    let api = Api::new(&base);
    let (_ann_id, _ann_device, ann_token) = register(&api, "ann").await;
    let (bob_id, bob_device, bob_token) = register(&api, "bob").await;
    let (ann, bob) = (api.with_token(&ann_token), api.with_token(&bob_token));
    let identity = b64(&ed25519_dalek::SigningKey::generate(&mut rand::rng())
        .verifying_key()
        .to_bytes());
    assert_ok(
        bob.post("/v1/encryption/identity", json!({ "public_key": identity }))
            .await,
        StatusCode::CREATED,
    );
    let keys: Vec<Value> = (1..=5)
        .map(|id| json!({ "key_id": id, "public_key": b64(&[id as u8; 32]) }))
        .collect();
    assert_ok(
        bob.post("/v1/encryption/onetime-prekeys", json!({ "keys": keys }))
            .await,
        StatusCode::CREATED,
    );
    let dm = assert_ok(
        ann.post("/v1/conversations", json!({ "type": "DM", "participants": [bob_id] }))
            .await,
        StatusCode::CREATED,
    );
    let dm = dm["id"].as_str().unwrap().to_owned();

    let total = 40;
    let mut acknowledged = Vec::new();
    for n in 0..total {
        let body = json!({
            "conversation_id": dm,
            "ciphertexts": [{ "recipient_device_id": bob_device, "ciphertext": b64(format!("secret {n}").as_bytes()) }],
            "client_message_id": format!("c{n}"),
        });
        acknowledged.push(assert_ok(ann.post("/v1/messages", body).await, StatusCode::CREATED)["id"].clone());
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let (mut child, base, _) = start_node(dir.path());
    let api = Api::new(&base);
    let bob = api.with_token(&bob_token);
    let page = assert_ok(
        bob.get(&format!("/v1/messages?conversation_id={dm}&limit=100")).await,
        StatusCode::OK,
    );
    let messages = page["messages"].as_array().unwrap();
    let ids: Vec<Value> = messages.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, acknowledged, "every acknowledged message is back, in order");
    for (n, message) in messages.iter().enumerate() {
        assert_eq!(message["sequence_number"], n as u64 + 1);
        assert_eq!(
            unb64(message["ciphertext"].as_str().unwrap()),
            format!("secret {n}").into_bytes()
        );
    }
    let count = assert_ok(bob.get("/v1/encryption/onetime-prekeys/count").await, StatusCode::OK);
    assert_eq!(count["count"], 5, "keys survived");
    let identity_back = assert_ok(bob.get("/v1/encryption/identity").await, StatusCode::OK);
    assert_eq!(identity_back["public_key"], identity);
    let ann = api.with_token(&ann_token);
    let next = ann
        .post(
            "/v1/messages",
            json!({ "conversation_id": dm, "client_message_id": "after",
                    "ciphertexts": [{ "recipient_device_id": bob_device, "ciphertext": b64(b"after") }] }),
        )
        .await;
    assert_eq!(
        assert_ok(next, StatusCode::CREATED)["sequence_number"],
        total + 1,
        "the session and sequence go on"
    );
    let mut socket = Ws::connect(&format!("{}/v1/ws?token={bob_token}", base.replacen("http", "ws", 1))).await;
    assert_eq!(
        socket.sync().await.len(),
        total as usize + 1,
        "the undelivered queue survived too"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn ctrl_c_shuts_down_cleanly_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, output) = start_node(dir.path());
    let api = Api::new(&base);
    let (_, _, token) = register(&api, "ann").await;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "a clean exit after SIGINT");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !output.lock().unwrap().contains("stopped") {
        assert!(std::time::Instant::now() < deadline, "it says it stopped");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (mut child, base, _) = start_node(dir.path());
    let me = assert_ok(
        Api::new(&base).with_token(&token).get("/v1/users/me").await,
        StatusCode::OK,
    );
    assert_eq!(me["username"], "ann");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A damaged token secret (as a crash during the first start could leave) stops the node before it
/// serves anything, with what to do; a short secret would let anyone sign tokens.
#[test]
fn a_damaged_secret_stops_the_node_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.secret"), b"").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "node",
            "--http",
            "127.0.0.1:0",
            "--p2p",
            "/ip4/127.0.0.1/udp/0/quic-v1",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("parley runs");
    assert!(!output.status.success(), "the node refused to start");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains("serving"), "{stdout}");
    assert!(
        stderr.contains("holds 0 bytes") && stderr.contains("Restore it from a backup"),
        "{stderr}"
    );
}
