//! The Parley side: a fresh node process (the release build of `parley node`, data in a temp dir),
//! its accounts, and the workload spoken as the reference API: sends as `POST /v1/messages`, arrivals
//! as `message:new` on `/v1/ws`, acknowledged with `message:delivered`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::api::{Registered, Socket, connect_synced, get_json, post_json, register, registration};
use crate::pairs::{Inbox, Outbox, Pair};

/// Raw ciphertext bytes per message, as in the XMPP bodies (base64 on the wire in both).
pub(crate) const CIPHERTEXT_BYTES: usize = 100;

/// A running node; killed on drop.
pub(crate) struct ParleyNode {
    child: Child,
    base: String,
    ws_base: String,
    http: reqwest::Client,
    binary: PathBuf,
    data_dir: PathBuf,
    store_cache_mb: Option<u64>,
    /// Further `parley node` arguments (a federation name and bootstrap node), kept for restarts.
    extra_args: Vec<String>,
}

impl Drop for ParleyNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ParleyNode {
    /// Starts `parley node` on a free port with rate limits off and connection caps far above the
    /// bench's needs (it opens thousands of sockets from one address), and waits until it serves.
    /// `store_cache_mb` caps its store's page cache (the node's default when `None`).
    pub(crate) fn start(binary: &Path, data_dir: &Path, store_cache_mb: Option<u64>) -> Result<Self, String> {
        Self::start_with(binary, data_dir, store_cache_mb, Vec::new())
    }

    /// As `start`, with `extra_args` after the bench's own.
    pub(crate) fn start_with(
        binary: &Path,
        data_dir: &Path,
        store_cache_mb: Option<u64>,
        extra_args: Vec<String>,
    ) -> Result<Self, String> {
        let mut command = Command::new(binary);
        command
            .args(["node", "--http", "127.0.0.1:0", "--rate-limits", "off", "--log", "warn"])
            .args(["--p2p", "/ip4/127.0.0.1/udp/0/quic-v1"])
            .args(["--max-connections", "200000", "--max-connections-per-address", "200000"])
            .args(["--max-connections-per-user", "100000"])
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(mb) = store_cache_mb {
            command.args(["--store-cache-mb", &mb.to_string()]);
        }
        command.args(&extra_args);
        let (child, base) = spawn_until(command, |word| word.starts_with("http://"))?;
        let base = base.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(crate::api::STEP_TIMEOUT)
            .build()
            .map_err(|err| err.to_string())?;
        Ok(Self {
            child,
            ws_base: base.replacen("http://", "ws://", 1),
            base,
            http,
            binary: binary.to_owned(),
            data_dir: data_dir.to_owned(),
            store_cache_mb,
            extra_args,
        })
    }

    /// Stops the node as an operator would (SIGTERM: it flushes and closes its store), runs `between`
    /// while the data dir is free, then starts the node again on the same data; accounts, sessions
    /// and conversations carry over.
    pub(crate) fn restart(&mut self, between: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        use rustix::process::{Pid, Signal, kill_process};
        let pid = Pid::from_raw(self.pid() as i32).ok_or("parley: no pid")?;
        kill_process(pid, Signal::TERM).map_err(|err| format!("stopping parley: {err}"))?;
        let status = self.child.wait().map_err(|err| format!("waiting for parley: {err}"))?;
        if !status.success() {
            return Err(format!("parley stopped with {status}"));
        }
        between()?;
        *self = Self::start_with(
            &self.binary,
            &self.data_dir,
            self.store_cache_mb,
            std::mem::take(&mut self.extra_args),
        )?;
        Ok(())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Registers `name` with no bound but `limit`, and returns how long it took: the first commit
    /// after a restart on a large store waits for sled (Growth, in `docs/PERFORMANCE.md`), longer
    /// than a request of the bench may take.
    pub(crate) async fn first_commit(
        &self,
        name: &str,
        limit: std::time::Duration,
    ) -> Result<std::time::Duration, String> {
        let started = std::time::Instant::now();
        let http = reqwest::Client::builder()
            .timeout(limit)
            .build()
            .map_err(|err| err.to_string())?;
        let response = http
            .post(format!("{}/v1/auth/register", self.base))
            .json(&registration(name))
            .send()
            .await
            .map_err(|err| format!("registering {name}: {err}"))?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(format!("registering {name}: {}", response.status()));
        }
        Ok(started.elapsed())
    }

    pub(crate) async fn register(&self, name: &str) -> Result<Registered, String> {
        register(&self.http, &self.base, name).await
    }

    /// An authenticated socket, past its replay.
    pub(crate) async fn connect(&self, account: &Registered) -> Result<Socket, String> {
        connect_synced(&self.ws_base, &account.token, &account.user_id).await
    }

    /// Opens `count` idle authenticated sockets, spread over `accounts`, each read up to its
    /// `sync:complete`. One loopback source address gives about 28,000 ports, so the sockets come
    /// from 127.0.0.1, 127.0.0.2, ... in turn (the node's open-file limit bounds how many it holds);
    /// the bench's own side reads in 256-byte steps so a hundred thousand of them fit in its memory.
    pub(crate) async fn hold(&self, accounts: &[Registered], count: usize) -> Result<Vec<HeldSocket>, String> {
        use futures_util::TryStreamExt;
        let addr: std::net::SocketAddr = self
            .base
            .trim_start_matches("http://")
            .parse()
            .map_err(|err| format!("{}: {err}", self.base))?;
        futures_util::stream::iter(0..count)
            .map(|i| {
                let account = &accounts[i % accounts.len()];
                let source = std::net::Ipv4Addr::new(127, 0, 0, 1 + (i / SOCKETS_PER_SOURCE) as u8);
                let url = format!("{}/v1/ws?token={}", self.ws_base, account.token);
                async move {
                    hold_one(source, addr, url)
                        .await
                        .map_err(|err| format!("socket {i}: {err}"))
                }
            })
            .buffer_unordered(HOLD_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Searches for `handle` as `searcher` until found: for a user of another node that asks the
    /// federation, and leaves this node knowing where they live, as a client does before naming them.
    pub(crate) async fn find(&self, searcher: &Registered, handle: &str) -> Result<(), String> {
        let url = format!("{}/v1/users/search?query={handle}&limit=5", self.base);
        let deadline = std::time::Instant::now() + FIND_WAIT;
        loop {
            let found = get_json(&self.http, &url, &searcher.token).await?;
            let users = found["users"].as_array().map(Vec::as_slice).unwrap_or_default();
            if users.iter().any(|user| {
                user["username"]
                    .as_str()
                    .is_some_and(|name| name.eq_ignore_ascii_case(handle))
            }) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("{handle} not found within {FIND_WAIT:?}: {found}"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// The DM between two accounts and the request body prefix every send into it shares.
    pub(crate) async fn dm(&self, sender: &Registered, receiver: &Registered) -> Result<String, String> {
        self.conversation("DM", sender, std::slice::from_ref(receiver)).await
    }

    /// A conversation of `kind` made by `sender` with `others`, and the request body prefix every
    /// send into it shares: one ciphertext per recipient device.
    pub(crate) async fn conversation(
        &self,
        kind: &str,
        sender: &Registered,
        others: &[Registered],
    ) -> Result<String, String> {
        let participants: Vec<&str> = others.iter().map(|other| other.user_id.as_str()).collect();
        let mut request = json!({ "type": kind, "participants": participants });
        if kind == "GROUP" {
            request["subject"] = json!("compare");
        }
        let conversation = post_json(
            &self.http,
            &format!("{}/v1/conversations", self.base),
            Some(&sender.token),
            &request,
        )
        .await?;
        let id = conversation["id"]
            .as_str()
            .ok_or_else(|| format!("no conversation id in {conversation}"))?;
        let bytes: Vec<u8> = (0..CIPHERTEXT_BYTES).map(|b| (b * 31) as u8).collect();
        let ciphertext = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
        let ciphertexts: Vec<Value> = others
            .iter()
            .map(|other| json!({ "recipient_device_id": other.device_id, "ciphertext": ciphertext }))
            .collect();
        Ok(format!(
            r#""conversation_id":"{id}","ciphertexts":{},"message_type":"text""#,
            Value::Array(ciphertexts)
        ))
    }

    /// Sends into a conversation with `window` requests at once.
    pub(crate) fn outbox(&self, sender: &Registered, body_prefix: &str, window: usize) -> ParleyOutbox {
        ParleyOutbox::start(
            self.http.clone(),
            format!("{}/v1/messages", self.base),
            sender.token.clone(),
            body_prefix.to_owned(),
            window,
        )
    }

    /// A user's socket, past its replay.
    pub(crate) async fn inbox(&self, account: &Registered) -> Result<ParleyInbox, String> {
        Ok(ParleyInbox::new(self.connect(account).await?))
    }

    /// Connects a sender and its partner.
    pub(crate) async fn pair(
        &self,
        sender: &Registered,
        receiver: &Registered,
        body_prefix: &str,
        window: usize,
    ) -> Result<Pair<ParleyOutbox, ParleyInbox, ParleyInbox>, String> {
        Ok(Pair {
            sender_inbox: self.inbox(sender).await?,
            inbox: self.inbox(receiver).await?,
            outbox: self.outbox(sender, body_prefix, window),
        })
    }
}

/// Spawns `command` with its standard output read until a word `wanted` accepts (the address it
/// serves at), which it returns with the child; the rest of the output is drained so the child never
/// blocks on a full pipe.
pub(crate) fn spawn_until(mut command: Command, wanted: impl Fn(&str) -> bool) -> Result<(Child, String), String> {
    use std::io::BufRead;
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("starting {program}: {err}"))?;
    let stdout = child.stdout.take().ok_or_else(|| format!("{program}: no stdout"))?;
    let mut lines = std::io::BufReader::new(stdout);
    let mut line = String::new();
    let found = loop {
        line.clear();
        if lines
            .read_line(&mut line)
            .map_err(|err| format!("{program}'s output: {err}"))?
            == 0
        {
            let _ = child.kill();
            return Err(format!("{program} exited before serving"));
        }
        if let Some(word) = line.split_whitespace().find(|word| wanted(word)) {
            break word.to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    Ok((child, found))
}

/// How long a search for another node's user may take to succeed: the nodes publish themselves to the
/// DHT through the bootstrap node after starting.
const FIND_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sockets opened from one loopback source address, well below its ~28,000 ephemeral ports (some of
/// which an earlier run's closed sockets may still hold).
const SOCKETS_PER_SOURCE: usize = 10_000;
/// Handshakes in flight while holding sockets.
const HOLD_CONCURRENCY: usize = 64;

/// An idle client socket on its own small buffers.
pub(crate) type HeldSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn hold_one(source: std::net::Ipv4Addr, server: std::net::SocketAddr, url: String) -> Result<HeldSocket, String> {
    let tcp = tokio::net::TcpSocket::new_v4().map_err(|err| err.to_string())?;
    tcp.set_reuseaddr(true).map_err(|err| err.to_string())?;
    tcp.bind((source, 0).into())
        .map_err(|err| format!("binding {source}: {err}"))?;
    let stream = tcp.connect(server).await.map_err(|err| format!("connecting: {err}"))?;
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(256)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|err| format!("handshake: {err}"))?;
    loop {
        match tokio::time::timeout(crate::api::STEP_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(WsMessage::Text(text)))) if text.contains(r#""type":"sync:complete""#) => return Ok(socket),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(err))) => return Err(err.to_string()),
            Ok(None) => return Err("closed before sync:complete".into()),
            Err(_) => return Err("no sync:complete in time".into()),
        }
    }
}

/// `window` request workers, so W sends are in the air at once as the workload asks (each worker
/// keeps its own keep-alive connection).
pub(crate) struct ParleyOutbox {
    queue: mpsc::Sender<u64>,
    failures: mpsc::Receiver<String>,
}

impl ParleyOutbox {
    fn start(http: reqwest::Client, url: String, token: String, body_prefix: String, window: usize) -> Self {
        let (queue, ids) = mpsc::channel::<u64>(window);
        let ids = std::sync::Arc::new(tokio::sync::Mutex::new(ids));
        let (report, failures) = mpsc::channel(window);
        for _ in 0..window {
            let (http, url, token, body_prefix, ids, report) = (
                http.clone(),
                url.clone(),
                token.clone(),
                body_prefix.clone(),
                ids.clone(),
                report.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Some(id) = ids.lock().await.recv().await else {
                        return;
                    };
                    let body = format!(r#"{{{body_prefix},"client_message_id":"{id}"}}"#);
                    if let Err(err) = post(&http, &url, &token, body).await {
                        let _ = report.send(format!("message {id}: {err}")).await;
                        return;
                    }
                }
            });
        }
        Self { queue, failures }
    }
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: String) -> Result<(), String> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|err| with_causes(&err))?;
    let status = response.status();
    let text = response.text().await.map_err(|err| err.to_string())?;
    if status == reqwest::StatusCode::CREATED {
        Ok(())
    } else {
        Err(format!("{status}: {text}"))
    }
}

/// An error and what caused it, as one line: reqwest's own message names only the request.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        line = format!("{line}: {err}");
        cause = err.source();
    }
    line
}

impl Outbox for ParleyOutbox {
    async fn send(&mut self, id: u64) -> Result<(), String> {
        if let Ok(failure) = self.failures.try_recv() {
            return Err(failure);
        }
        self.queue
            .send(id)
            .await
            .map_err(|_| "every send worker stopped".to_owned())
    }
}

/// The fields of server frames the bench reads.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    client_message_id: Option<&'a str>,
    #[serde(default)]
    message_id: Option<&'a str>,
}

/// A user's socket: `message:new` in, `message:delivered` out.
pub(crate) struct ParleyInbox {
    sink: SplitSink<Socket, WsMessage>,
    stream: SplitStream<Socket>,
}

impl ParleyInbox {
    fn new(socket: Socket) -> Self {
        let (sink, stream) = socket.split();
        Self { sink, stream }
    }
}

impl Inbox for ParleyInbox {
    type Receipt = String;

    async fn next(&mut self) -> Result<(u64, String), String> {
        loop {
            let text = match self.stream.next().await {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(WsMessage::Close(frame))) => return Err(format!("the node closed the socket: {frame:?}")),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(format!("socket: {err}")),
                None => return Err("socket ended".into()),
            };
            let event: Event = serde_json::from_str(&text).map_err(|err| format!("{err}: {text}"))?;
            match (event.kind, event.client_message_id, event.message_id) {
                ("message:new", Some(client_id), Some(message_id)) => {
                    let id = client_id
                        .parse()
                        .map_err(|_| format!("a message not from the bench: {text}"))?;
                    return Ok((id, message_id.to_owned()));
                }
                ("error", ..) => return Err(format!("error frame: {text}")),
                _ => {}
            }
        }
    }

    async fn acknowledge(&mut self, message_id: String) -> Result<(), String> {
        let frame: Value = json!({ "type": "message:delivered", "message_id": message_id });
        self.sink
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .map_err(|err| format!("acknowledging: {err}"))
    }
}
