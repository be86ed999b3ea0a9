//! Federation under faults, with real `parley node` processes: a participant's node that is down while
//! its conversation's host keeps taking messages, a host killed (SIGKILL) with a full outbox, and a
//! participant's node killed while deliveries reach it. Every acknowledged message must reach the
//! participant's device, in order, exactly once (a frame the device already had, under its id, at most
//! again after a crash).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;

use crate::federation::{Bootstrap, WAIT, eventually, start_bootstrap};
use crate::support::*;

pub(crate) const PASSWORD: &str = "correct horse battery";

/// A free UDP port on 127.0.0.1, kept by a node across restarts so it comes back at the address the DHT
/// may still hold for it.
fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// A free TCP port on 127.0.0.1, for a node's API to come back at after a restart (where its users'
/// CLI profiles find it).
fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// How to (re)start one node: its name, data dir, API port and federation port.
pub(crate) struct NodeSpec {
    name: &'static str,
    /// Shared with the processes started from the spec, so the data dir outlives whichever goes last
    /// (a test may start a node and let the spec go).
    dir: Arc<tempfile::TempDir>,
    http_port: u16,
    port: u16,
    bootstrap: Multiaddr,
    /// More flags for `parley node`.
    args: Vec<&'static str>,
}

impl NodeSpec {
    pub(crate) fn new(name: &'static str, bootstrap: &Multiaddr) -> Self {
        Self {
            name,
            dir: Arc::new(tempfile::tempdir().unwrap()),
            http_port: free_tcp_port(),
            port: free_udp_port(),
            bootstrap: bootstrap.clone(),
            args: Vec::new(),
        }
    }

    /// The same node started with more flags.
    pub(crate) fn with_args(mut self, args: &[&'static str]) -> Self {
        self.args.extend(args);
        self
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Starts the real binary and returns once its HTTP listener is bound.
    pub(crate) fn start(&self) -> NodeProcess {
        let p2p = format!("/ip4/127.0.0.1/udp/{}/quic-v1", self.port);
        let http = format!("127.0.0.1:{}", self.http_port);
        let child = node_command_at(&self.data_dir(), &http, &p2p)
            .args(["--name", self.name])
            .args(["--bootstrap", &self.bootstrap.to_string(), "--outbox-max-backoff", "1"])
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("parley starts");
        // Guard the child before reading anything, so a failed start still kills it.
        let mut process = NodeProcess {
            child,
            base: String::new(),
            _dir: self.dir.clone(),
        };
        let mut stdout = BufReader::new(process.child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines().map_while(Result::ok) {});
        process.base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("{} prints the URL it serves, got {line:?}", self.name))
            .to_owned();
        process
    }
}

/// A running node process; dropping it kills it (SIGKILL), so a panicking test leaves nothing behind.
pub(crate) struct NodeProcess {
    child: Child,
    pub(crate) base: String,
    _dir: Arc<tempfile::TempDir>,
}

impl NodeProcess {
    fn api(&self, token: &str) -> Api {
        Api::new(&self.base).with_token(token)
    }

    /// The same user, logged in with the same session, talking to this (restarted) process.
    pub(crate) fn as_user(&self, user: &User) -> User {
        User {
            api: self.api(&user.token),
            ..user.clone()
        }
    }

    pub(crate) fn ws_url(&self, token: &str) -> String {
        format!("{}/v1/ws?token={token}", self.base.replacen("http", "ws", 1))
    }

    /// SIGKILL: no shutdown, no final flush.
    pub(crate) fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Registers a user on the node serving at `base` with a device id the test knows, as `support::User`.
pub(crate) async fn register(base: &str, name: &str) -> User {
    let device_id = Uuid::new_v4();
    let data = assert_ok(
        Api::new(base)
            .post(
                "/v1/auth/register",
                json!({ "email": format!("{name}@example.org"), "username": name, "password": PASSWORD,
                        "device_id": device_id }),
            )
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(data["device_id"], device_id.to_string());
    let token = data["access_token"].as_str().unwrap().to_owned();
    User {
        name: name.to_owned(),
        password: PASSWORD.to_owned(),
        id: data["user_id"].as_str().unwrap().to_owned(),
        device_id: device_id.to_string(),
        session_id: data["session_id"].as_str().unwrap().to_owned(),
        refresh_token: data["refresh_token"].as_str().unwrap().to_owned(),
        api: Api::new(base).with_token(&token),
        token,
    }
}

/// Ann (on the host) opens a DM with `bob@node-b` and waits until Bob's node lists it.
pub(crate) async fn open_dm(ann: &User, bob: &User) -> String {
    // The host may not have joined the DHT yet: retry until the handle resolves.
    let dm = eventually("the DM with bob@node-b to be created", || async {
        let (status, body) = ann
            .api
            .post(
                "/v1/conversations",
                json!({ "type": "DM", "participants": ["bob@node-b"] }),
            )
            .await;
        (status == StatusCode::CREATED).then(|| body["data"]["id"].as_str().unwrap().to_owned())
    })
    .await;
    eventually("the DM to reach bob's node", || async {
        let page = assert_ok(bob.api.get("/v1/conversations").await, StatusCode::OK);
        page["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == dm.as_str())
            .then_some(())
    })
    .await;
    dm
}

/// Node A hosting a DM between Ann (on it) and Bob (on node B), both nodes running, and how to start
/// either again.
struct DmAcross {
    _bootstrap: Bootstrap,
    spec_a: NodeSpec,
    spec_b: NodeSpec,
    a: NodeProcess,
    b: NodeProcess,
    ann: User,
    bob: User,
    dm: String,
}

async fn dm_across_two_nodes() -> DmAcross {
    let bootstrap = start_bootstrap().await;
    let spec_a = NodeSpec::new("node-a", &bootstrap.address);
    let spec_b = NodeSpec::new("node-b", &bootstrap.address);
    let a = spec_a.start();
    let b = spec_b.start();
    let ann = register(&a.base, "ann").await;
    let bob = register(&b.base, "bob").await;
    let dm = open_dm(&ann, &bob).await;
    DmAcross {
        _bootstrap: bootstrap,
        spec_a,
        spec_b,
        a,
        b,
        ann,
        bob,
        dm,
    }
}

/// Sends `count` messages for Bob's device; each answer is 201 once the host has it durably.
async fn send_all(ann: &User, dm: &str, bob: &User, count: u64) {
    for n in 1..=count {
        let sent = assert_ok(
            send_text(ann, dm, &[bob], &format!("m{n}"), &format!("c{n}")).await,
            StatusCode::CREATED,
        );
        assert_eq!(sent["sequence_number"], n, "the host orders the DM");
    }
}

/// The outbox depth the host reports for `node`, when it lists that node.
async fn outbox_depth(host: &User, node: &str) -> Option<u64> {
    let data = assert_ok(host.api.get("/v1/federation/peers").await, StatusCode::OK);
    data["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|peer| peer["name"] == node)
        .and_then(|peer| peer["outbox_depth"].as_u64())
}

/// Collects `message:new` frames (the replay of the undelivered queue, then live ones) until `count`
/// arrived, then checks for two more seconds that nothing else comes. Also returns how many of them
/// came in the replay (before `sync:complete`).
async fn receive_exactly(socket: &mut Ws, count: usize) -> (Vec<Value>, usize) {
    let mut received = Vec::new();
    let mut replayed = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while received.len() < count || replayed.is_none() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = socket
            .next_within(left)
            .await
            .unwrap_or_else(|| panic!("only {} of {count} messages arrived", received.len()));
        match frame["type"].as_str() {
            Some("message:new") => received.push(frame),
            Some("sync:complete") => {
                assert_eq!(frame["replayed"], received.len(), "the replay counts what it carried");
                replayed = Some(received.len());
            }
            _ => {}
        }
    }
    while let Some(frame) = socket.next_within(Duration::from_secs(2)).await {
        assert_ne!(
            frame["type"], "message:new",
            "a message arrived twice or uninvited: {frame}"
        );
    }
    (received, replayed.unwrap_or_default())
}

/// Sequence numbers 1..=count in order, each carrying the ciphertext sent for it.
fn assert_in_order_once(frames: &[Value], dm: &str, bob: &User, count: u64) {
    let sequence: Vec<u64> = frames.iter().map(|f| f["sequence_number"].as_u64().unwrap()).collect();
    assert_eq!(sequence, (1..=count).collect::<Vec<_>>(), "in order, exactly once");
    for (n, frame) in (1..=count).zip(frames) {
        assert_eq!(frame["conversation_id"], dm);
        assert_eq!(frame["client_message_id"], format!("c{n}"));
        assert_eq!(content(frame), format!("m{n} for {}", bob.device_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_was_down_receives_everything_in_order_exactly_once() {
    let DmAcross {
        _bootstrap,
        spec_a: _,
        spec_b,
        a,
        b,
        ann,
        bob,
        dm,
    } = dm_across_two_nodes().await;

    b.kill();
    let total = 30;
    send_all(&ann, &dm, &bob, total).await;
    eventually("node-b's events to wait in the host's outbox", || async {
        outbox_depth(&ann, "node-b").await.filter(|depth| *depth >= total)
    })
    .await;

    let b = spec_b.start();
    let bob = b.as_user(&bob);
    let mut socket = Ws::connect(&b.ws_url(&bob.token)).await;
    // Bob is online before the host's retry gets through, so they arrive live (or some replayed).
    let (frames, _) = receive_exactly(&mut socket, total as usize).await;
    assert_in_order_once(&frames, &dm, &bob, total);
    eventually("the host's outbox for node-b to drain", || async {
        (outbox_depth(&ann, "node-b").await == Some(0)).then_some(())
    })
    .await;
    // Bob's node holds the history too, in the host's order.
    let history = assert_ok(
        bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&limit=100"))
            .await,
        StatusCode::OK,
    );
    let sequence: Vec<u64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(sequence, (1..=total).collect::<Vec<_>>());
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_killed_with_a_full_outbox_delivers_everything_after_restart() {
    let DmAcross {
        _bootstrap,
        spec_a,
        spec_b,
        a,
        b,
        ann,
        bob,
        dm,
    } = dm_across_two_nodes().await;

    b.kill();
    let total = 20;
    send_all(&ann, &dm, &bob, total).await;
    eventually("node-b's events to wait in the host's outbox", || async {
        outbox_depth(&ann, "node-b").await.filter(|depth| *depth >= total)
    })
    .await;
    // The host dies with every event still queued: only what it flushed before answering survives.
    a.kill();

    let b = spec_b.start();
    let a = spec_a.start();
    let ann = a.as_user(&ann);
    // The restarted host resumes its queue; an empty outbox means node-b stored and acknowledged it all.
    eventually("the restarted host's outbox for node-b to drain", || async {
        (outbox_depth(&ann, "node-b").await == Some(0)).then_some(())
    })
    .await;
    // Bob was offline throughout, so everything comes from his device's undelivered queue.
    let mut socket = Ws::connect(&b.ws_url(&bob.token)).await;
    let (frames, replayed) = receive_exactly(&mut socket, total as usize).await;
    assert_in_order_once(&frames, &dm, &bob, total);
    assert_eq!(replayed, total as usize, "all of it in the replay");
    drop((a, b));
}

/// A member's node killed while the host's deliveries reach it. Its devices get relayed messages as
/// each delivery is applied, before it is durable, so a message may reach a device both before the
/// crash and again after it (the host delivers again what was lost); the second time it carries the
/// same id, for the device to drop. The node ends with every message once, in the host's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_node_killed_mid_delivery_sends_nothing_new_twice() {
    let DmAcross {
        _bootstrap,
        spec_a: _,
        spec_b,
        a,
        b,
        ann,
        bob,
        dm,
    } = dm_across_two_nodes().await;

    let total = 40;
    let mut socket = Ws::connect(&b.ws_url(&bob.token)).await;
    let sending = {
        let (ann, dm, bob) = (ann.clone(), dm.clone(), bob.clone());
        tokio::spawn(async move { send_all(&ann, &dm, &bob, total).await })
    };
    let mut before_crash = Vec::new();
    while before_crash.len() < 10 {
        let frame = socket.next_within(WAIT).await.expect("deliveries reach bob's socket");
        if frame["type"] == "message:new" {
            before_crash.push(frame);
        }
    }
    b.kill();
    sending
        .await
        .expect("the host takes every send while bob's node is down");

    let b = spec_b.start();
    let bob = b.as_user(&bob);
    let mut socket = Ws::connect(&b.ws_url(&bob.token)).await;
    let (after_restart, _) = receive_exactly(&mut socket, total as usize).await;
    assert_in_order_once(&after_restart, &dm, &bob, total);
    for early in &before_crash {
        let seq = early["sequence_number"].as_u64().unwrap();
        let again = &after_restart[seq as usize - 1];
        assert_eq!(early["message_id"], again["message_id"], "message {seq} keeps its id");
    }
    eventually("the host's outbox for node-b to drain", || async {
        (outbox_depth(&ann, "node-b").await == Some(0)).then_some(())
    })
    .await;
    drop((a, b));
}
