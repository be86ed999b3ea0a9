//! The shared harness: starts real nodes (in-process on a random port, or the `parley` binary) and
//! gives tests a small HTTP + WebSocket client that speaks the envelope.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use node::{Config, Services};
pub use reqwest::StatusCode;
pub use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
pub use uuid::Uuid;

/// A node served in-process on 127.0.0.1 with its own temp data dir.
pub struct TestNode {
    pub base: String,
    pub services: Arc<Services>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub dir: TempDir,
}

impl TestNode {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path());
        config.dev_mode = true;
        // Tests register many users from one address; the rate-limit tests turn limits back on.
        config.rate_limits.enabled = false;
        tune(&mut config);
        let services = Arc::new(Services::open(config).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(services.clone().run_background());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway::serve(listener, services.clone(), async {
            let _ = stopped.await;
        }))
        .map_into_unit();
        Self {
            base,
            services,
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    pub fn client(&self) -> Api {
        Api::new(&self.base)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("{}/v1/ws{query}", self.base.replacen("http", "ws", 1))
    }

    /// Registers a user with a fresh device and returns a client logged in as it.
    pub async fn user(&self, name: &str) -> User {
        let device_id = Uuid::new_v4();
        let password = "correct horse battery".to_owned();
        let (status, body) = self
            .client()
            .post(
                "/v1/auth/register",
                json!({
                    "email": format!("{name}@example.org"),
                    "username": name,
                    "password": password,
                    "device_id": device_id,
                    "display_name": format!("{name} display"),
                    "device_name": format!("{name}'s phone"),
                    "device_type": "mobile",
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        User::from_auth(self, name, &password, &body["data"])
    }

    /// Logs an existing user in on another device.
    pub async fn second_device(&self, user: &User) -> User {
        self.login(&user.name, &user.password).await
    }

    /// Logs a user registered by other means (the SDK, another dialect) in on a new device.
    pub async fn login(&self, name: &str, password: &str) -> User {
        let device_id = Uuid::new_v4();
        let (status, body) = self
            .client()
            .post(
                "/v1/auth/login",
                json!({ "identity": name, "password": password, "device_id": device_id }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login: {body}");
        User::from_auth(self, name, password, &body["data"])
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

trait MapIntoUnit {
    fn map_into_unit(self) -> tokio::task::JoinHandle<()>;
}

impl MapIntoUnit for tokio::task::JoinHandle<std::io::Result<()>> {
    fn map_into_unit(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let _ = self.await;
        })
    }
}

/// A logged-in device of a user.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub id: String,
    pub device_id: String,
    pub session_id: String,
    pub token: String,
    pub refresh_token: String,
    pub api: Api,
}

impl User {
    fn from_auth(node: &TestNode, name: &str, password: &str, data: &Value) -> Self {
        let token = data["access_token"].as_str().unwrap().to_owned();
        Self {
            name: name.to_owned(),
            password: password.to_owned(),
            id: data["user_id"].as_str().unwrap().to_owned(),
            device_id: data["device_id"].as_str().unwrap().to_owned(),
            session_id: data["session_id"].as_str().unwrap().to_owned(),
            refresh_token: data["refresh_token"].as_str().unwrap().to_owned(),
            api: node.client().with_token(&token),
            token,
        }
    }

    /// Publishes an identity key, a signed prekey and `one_time` one-time prekeys for this device.
    pub async fn publish_keys(&self, one_time: u32) -> SigningKey {
        let identity = SigningKey::generate(&mut rand::rng());
        let (status, body) = self
            .api
            .post(
                "/v1/encryption/identity",
                json!({ "public_key": b64(&identity.verifying_key().to_bytes()) }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "identity: {body}");
        let prekey: [u8; 32] = rand::random();
        let signature = identity.sign(&prekey).to_bytes();
        let (status, body) = self
            .api
            .post(
                "/v1/encryption/signed-prekeys",
                json!({ "key_id": 1, "public_key": b64(&prekey), "signature": b64(&signature) }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "signed prekey: {body}");
        if one_time > 0 {
            let keys: Vec<Value> = (1..=one_time)
                .map(|id| json!({ "key_id": id, "public_key": b64(&rand::random::<[u8; 32]>()) }))
                .collect();
            let (status, body) = self
                .api
                .post("/v1/encryption/onetime-prekeys", json!({ "keys": keys }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "one-time prekeys: {body}");
        }
        identity
    }

    pub async fn ws(&self, node: &TestNode) -> Ws {
        Ws::connect(&node.ws_url(&format!("?token={}", self.token))).await
    }
}

/// The real `parley node` on a free port with a quiet log, rate limits off and its own data dir; add
/// arguments or environment before handing it to `spawn_node`.
pub fn node_command(data_dir: &std::path::Path) -> std::process::Command {
    node_command_on(data_dir, "/ip4/127.0.0.1/udp/0/quic-v1")
}

/// `node_command` with its federation listening on `p2p` (a node that must keep its address across
/// restarts).
pub fn node_command_on(data_dir: &std::path::Path, p2p: &str) -> std::process::Command {
    node_command_at(data_dir, "127.0.0.1:0", p2p)
}

/// `node_command_on` with the API listening on `http` too (a node whose clients must find it again
/// after a restart).
pub fn node_command_at(data_dir: &std::path::Path, http: &str, p2p: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_parley"));
    command
        .args(["node", "--http", http, "--dev", "--rate-limits", "off", "--log", "warn"])
        .args(["--p2p", p2p, "--data-dir"])
        .arg(data_dir);
    command
}

/// Starts a node process and reads its output up to the URL it serves (logs, such as a warning about
/// the file limit, may come first); `None` if it exited before serving. The rest of its output is
/// drained so it never blocks on a full pipe.
pub fn spawn_node(mut command: std::process::Command) -> (std::process::Child, Option<String>) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("parley starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break None;
        }
        if let Some(url) = line
            .split_whitespace()
            .find(|word| word.starts_with("http://") || word.starts_with("https://"))
        {
            break Some(url.to_owned());
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, base)
}

/// Waits for `child` to exit and returns what it wrote to its piped streams, read while it runs so a
/// chatty child never stalls on a full pipe; kills it and fails the test, naming `what`, after `limit`.
pub fn output_within(mut child: std::process::Child, limit: Duration, what: &str) -> std::process::Output {
    fn drain(stream: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                stream.read_to_end(&mut bytes).unwrap();
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            child.kill().unwrap();
            panic!("{what} ran over {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// A tiny client for the envelope API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.expect("request reaches the node");
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body for {status}: {text}"));
        (status, body)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::POST, path)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::PUT, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }
}

/// Asserts an error envelope with the given status and code, returning its message.
#[track_caller]
pub fn assert_error(result: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    let (actual, body) = result;
    assert_eq!(*actual, status, "unexpected status, body: {body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], code, "{body}");
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// Asserts a success envelope with the given status, returning its data.
#[track_caller]
pub fn assert_ok(result: (StatusCode, Value), status: StatusCode) -> Value {
    let (actual, body) = result;
    assert_eq!(actual, status, "unexpected status, body: {body}");
    assert_eq!(body["success"], true, "{body}");
    body["data"].clone()
}

/// Creates a conversation and returns its id.
pub async fn conversation(owner: &User, kind: &str, others: &[&User]) -> String {
    let participants: Vec<&str> = others.iter().map(|u| u.id.as_str()).collect();
    let data = assert_ok(
        owner
            .api
            .post(
                "/v1/conversations",
                json!({ "type": kind, "subject": "test group", "participants": participants }),
            )
            .await,
        StatusCode::CREATED,
    );
    data["id"].as_str().unwrap().to_owned()
}

/// Sends a message with one ciphertext per listed device; the ciphertext is the text's bytes.
pub async fn send_text(
    sender: &User,
    conversation: &str,
    devices: &[&User],
    text: &str,
    client_id: &str,
) -> (StatusCode, Value) {
    sender
        .api
        .post("/v1/messages", send_body(conversation, devices, text, client_id))
        .await
}

pub fn send_body(conversation: &str, devices: &[&User], text: &str, client_id: &str) -> Value {
    let ciphertexts: Vec<Value> = devices
        .iter()
        .map(|d| json!({ "recipient_device_id": d.device_id, "ciphertext": b64(format!("{text} for {}", d.device_id).as_bytes()) }))
        .collect();
    json!({
        "conversation_id": conversation,
        "ciphertexts": ciphertexts,
        "message_type": "text",
        "client_message_id": client_id,
    })
}

/// A WebSocket client that reads JSON frames.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(url: &str) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        Self { stream }
    }

    pub async fn try_connect(url: &str) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        tokio_tungstenite::connect_async(url)
            .await
            .map(|(stream, _)| Self { stream })
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    /// The next JSON frame, or `None` after `wait` or when the socket closes.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Ok(Some(Ok(WsMessage::Text(text)))) => {
                    return Some(serde_json::from_str(&text).unwrap());
                }
                Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
                _ => return None,
            }
        }
    }

    /// The next frame, which must come within 10 s.
    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a frame within 10 s")
    }

    /// Skips frames until one of the given type arrives.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Reads `ready`, the replay and `sync:complete`; returns the replayed `message:new` frames.
    pub async fn sync(&mut self) -> Vec<Value> {
        assert_eq!(self.next().await["type"], "ready");
        let mut replayed = Vec::new();
        loop {
            let frame = self.next().await;
            match frame["type"].as_str() {
                Some("message:new") => replayed.push(frame),
                Some("sync:complete") => {
                    assert_eq!(frame["replayed"], replayed.len());
                    return replayed;
                }
                _ => {}
            }
        }
    }

    /// Whether the server closed the socket (or it ended) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(WsMessage::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The code of the close frame the server sends within `wait`; `None` if the socket ends without one.
    pub async fn close_code_within(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(WsMessage::Close(frame)))) => return frame.map(|frame| frame.code.into()),
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Sends one raw text message of any size.
    pub async fn send_text(&mut self, text: String) {
        let _ = self.stream.send(WsMessage::Text(text.into())).await;
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// The plaintext a test put into a `message:new` frame's `content`.
pub fn content(frame: &Value) -> String {
    String::from_utf8(unb64(frame["content"].as_str().unwrap())).unwrap()
}
