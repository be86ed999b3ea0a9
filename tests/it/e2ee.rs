//! End-to-end encryption for real: SDK clients (X3DH + Double Ratchet) talk through a node, every
//! device decrypts what is meant for it, a restarted client continues its sessions, and the node's
//! data dir never holds a plaintext.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client::{Client, Event, Listener, Registration, SentMessage, StoredMessage};
use protocol::{ConversationId, DeviceId, MessageId, UserId};

use crate::support::*;

const PASSWORD: &str = "correct horse battery";

fn marker(label: &str) -> String {
    format!("{label} marker-{}", Uuid::new_v4())
}

/// What one device should receive, in order: (message, plaintext, sender user, sender device).
type Expected = Vec<(MessageId, String, UserId, DeviceId)>;

/// The messages a test sent: what each device should receive, what it has received so far, and
/// every plaintext (each with a unique marker) to look for in the node's files.
#[derive(Default)]
struct Script {
    expected: HashMap<DeviceId, Expected>,
    seen: HashMap<DeviceId, usize>,
    plaintexts: Vec<String>,
}

impl Script {
    /// Sends a text labelled `label` and records it as expected by exactly the devices `to`.
    async fn send(&mut self, from: &Client, conversation: ConversationId, label: &str, to: &[DeviceId]) -> SentMessage {
        let text = marker(label);
        let sent = from.send(conversation, text.as_bytes()).await.expect("send");
        let mut recipients = sent.recipients.clone();
        recipients.sort();
        let mut wanted = to.to_vec();
        wanted.sort();
        assert_eq!(
            recipients, wanted,
            "{label:?} is encrypted for exactly the other devices"
        );
        assert!(sent.skipped.is_empty(), "every device has keys");
        for device in to {
            self.expected.entry(*device).or_default().push((
                sent.message.message_id,
                text.clone(),
                from.user_id(),
                from.device_id(),
            ));
        }
        self.plaintexts.push(text);
        sent
    }

    /// Waits for the messages `device` should have received since the last catch-up and checks them.
    async fn catch_up(&mut self, name: &str, device: DeviceId, listener: &mut Listener) {
        let all = self.expected.get(&device).cloned().unwrap_or_default();
        let from = self.seen.get(&device).copied().unwrap_or(0);
        let received = receive(listener, all.len() - from).await;
        check(name, &received, &all[from..]);
        self.seen.insert(device, all.len());
    }
}

/// Reads messages until `count` arrived; fails on a rejected message or a stalled listener.
async fn receive(listener: &mut Listener, count: usize) -> Vec<StoredMessage> {
    let mut received = Vec::new();
    while received.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(20), listener.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages arrived within 20 s", received.len()))
            .expect("the listener keeps running");
        match event {
            Event::Message(message) => received.push(message),
            Event::Rejected { error, .. } | Event::Stopped { error } => panic!("listener failed: {error}"),
            _ => {}
        }
    }
    received
}

/// Asserts that `device` received exactly the next expected messages, in order, decrypted.
#[track_caller]
fn check(name: &str, received: &[StoredMessage], expected: &[(MessageId, String, UserId, DeviceId)]) {
    let got: Vec<(MessageId, String, UserId, DeviceId)> = received
        .iter()
        .map(|m| {
            (
                m.message_id,
                m.text().expect("utf-8").to_owned(),
                m.sender_id,
                m.sender_device_id,
            )
        })
        .collect();
    assert_eq!(got, expected, "{name} decrypts every message meant for it, in order");
    assert!(received.iter().all(|m| !m.outgoing));
}

/// Every file under `dir`, recursively, with its bytes.
fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.push((path, bytes));
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Asserts that no file of the node holds any of the plaintexts (nor their markers alone).
fn assert_node_holds_no_plaintext(node: &TestNode, plaintexts: &[String], sanity: &str) {
    let files = read_tree(node.dir.path());
    let total: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    assert!(total > 0, "the node's data dir holds data");
    assert!(
        files.iter().any(|(_, bytes)| contains(bytes, sanity.as_bytes())),
        "the scan reads the node's records (it finds {sanity:?})"
    );
    for text in plaintexts {
        let marker = &text[text.find("marker-").expect("every text carries a marker")..];
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, marker.as_bytes()),
                "{} holds the plaintext {text:?}",
                path.display()
            );
        }
    }
}

async fn register(node_url: &str, profile: PathBuf, name: &str) -> Client {
    let registration = Registration::new(name, format!("{name}@example.org"), PASSWORD);
    Client::register(profile, node_url, registration).await.unwrap()
}

#[tokio::test]
async fn devices_decrypt_dms_and_groups_and_the_node_sees_no_plaintext() {
    let node = TestNode::start().await;
    let profiles = tempfile::tempdir().unwrap();
    let profile = |name: &str| profiles.path().join(name);

    let ann1 = register(&node.base, profile("ann1"), "ann").await;
    // Ann's second device logs in to the same account with its own profile.
    let ann2 = Client::login(profile("ann2"), &node.base, "ann", PASSWORD)
        .await
        .unwrap();
    let bob = register(&node.base, profile("bob"), "bob").await;
    let cat = register(&node.base, profile("cat"), "cat").await;
    assert_eq!(ann1.user_id(), ann2.user_id());
    assert_ne!(ann1.device_id(), ann2.device_id());
    for device in [&ann1, &ann2, &bob, &cat] {
        let held = device.one_time_prekey_count().await.unwrap();
        assert_eq!(held, client::ONE_TIME_PREKEY_TARGET);
    }
    let (a1, a2, b, c) = (ann1.device_id(), ann2.device_id(), bob.device_id(), cat.device_id());
    let names = HashMap::from([
        (a1, "ann's 1st device"),
        (a2, "ann's 2nd device"),
        (b, "bob"),
        (c, "cat"),
    ]);
    let mut listeners: HashMap<DeviceId, Listener> = [&ann1, &ann2, &bob, &cat]
        .into_iter()
        .map(|client| (client.device_id(), client.listen()))
        .collect();
    let mut script = Script::default();

    // A DM: the other side and the sender's own other device get every message.
    let dm_ann_bob = ann1.open_dm(bob.user_id()).await.unwrap().id;
    assert_eq!(bob.open_dm(ann1.user_id()).await.unwrap().id, dm_ann_bob);
    let first = script.send(&ann1, dm_ann_bob, "ann to bob", &[b, a2]).await;
    assert_eq!(first.message.sequence_number, 1);
    script.send(&bob, dm_ann_bob, "bob to ann", &[a1, a2]).await;
    script
        .send(&ann2, dm_ann_bob, "ann (2nd device) to bob", &[a1, b])
        .await;
    script.send(&ann1, dm_ann_bob, "ann again", &[b, a2]).await;

    // A group of the three users (four devices), everyone talking.
    let subject = format!("e2ee-group-{}", Uuid::new_v4().simple());
    let group = ann1
        .create_group(&subject, &[bob.user_id(), cat.user_id()])
        .await
        .unwrap()
        .id;
    for round in 0..2 {
        script
            .send(&ann1, group, &format!("group {round} from ann1"), &[a2, b, c])
            .await;
        script
            .send(&cat, group, &format!("group {round} from cat"), &[a1, a2, b])
            .await;
        script
            .send(&bob, group, &format!("group {round} from bob"), &[a1, a2, c])
            .await;
        script
            .send(&ann2, group, &format!("group {round} from ann2"), &[a1, b, c])
            .await;
    }

    // A second DM, started by the other side.
    let dm_bob_cat = cat.open_dm(bob.user_id()).await.unwrap().id;
    script.send(&cat, dm_bob_cat, "cat to bob", &[b]).await;
    script.send(&bob, dm_bob_cat, "bob to cat", &[c]).await;

    for device in [a1, a2, b, c] {
        let listener = listeners.get_mut(&device).unwrap();
        script.catch_up(names[&device], device, listener).await;
    }

    // Bob's client goes away; messages for him queue up on the node meanwhile.
    listeners.remove(&b).unwrap().close().await;
    drop(bob);
    script.send(&ann1, dm_ann_bob, "while bob is away", &[b, a2]).await;
    script.send(&cat, group, "group while bob is away", &[a1, a2, b]).await;
    let one_time_before = [
        ann1.one_time_prekey_count().await.unwrap(),
        ann2.one_time_prekey_count().await.unwrap(),
        cat.one_time_prekey_count().await.unwrap(),
    ];

    // Reopened from its profile, Bob continues the same sessions: he decrypts what queued up and
    // what comes next, and his replies start no new session (no one-time prekey is claimed).
    let bob = Client::open(profile("bob")).unwrap();
    assert_eq!(bob.device_id(), b);
    for device in [a1, a2, c] {
        assert!(
            bob.has_session(device).unwrap(),
            "bob kept his session with {}",
            names[&device]
        );
    }
    let history = bob.history(dm_ann_bob).unwrap();
    assert_eq!(history.len(), 4, "bob's history of the DM survived: {history:?}");
    assert!(history[1].outgoing && history[1].text().unwrap().contains("bob to ann"));
    listeners.insert(b, bob.listen());
    script
        .catch_up("bob after restart", b, listeners.get_mut(&b).unwrap())
        .await;
    script.send(&bob, dm_ann_bob, "bob is back", &[a1, a2]).await;
    script.send(&bob, group, "bob is back in the group", &[a1, a2, c]).await;
    script.send(&bob, dm_bob_cat, "bob is back, cat", &[c]).await;
    script.send(&ann1, dm_ann_bob, "welcome back", &[b, a2]).await;
    script.send(&cat, dm_bob_cat, "hi again bob", &[b]).await;
    for device in [a1, a2, b, c] {
        let listener = listeners.get_mut(&device).unwrap();
        script.catch_up(names[&device], device, listener).await;
    }
    let one_time_after = [
        ann1.one_time_prekey_count().await.unwrap(),
        ann2.one_time_prekey_count().await.unwrap(),
        cat.one_time_prekey_count().await.unwrap(),
    ];
    assert_eq!(
        one_time_after, one_time_before,
        "the restarted client started no new session"
    );

    // Nothing else arrives: no device got a copy twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (device, listener) in &mut listeners {
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(50), listener.next()).await {
            assert!(
                !matches!(event, Event::Message(_) | Event::Rejected { .. }),
                "{} got an unexpected {event:?}",
                names[device]
            );
        }
    }

    // A device's history holds what it sent and received, in sequence order, without gaps.
    let sequences: Vec<u64> = cat.history(group).unwrap().iter().map(|m| m.sequence_number).collect();
    assert_eq!(sequences, (1..=10).collect::<Vec<u64>>());

    assert_node_holds_no_plaintext(&node, &script.plaintexts, &subject);
    for listener in listeners.into_values() {
        listener.close().await;
    }
}

/// A TCP forwarder to the node whose connections the test can cut, as a flaky network would.
struct Proxy {
    base: String,
    cut: tokio::sync::watch::Sender<u32>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (cut, cuts) = tokio::sync::watch::channel(0u32);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { base, cut, task }
    }

    /// Drops every connection open now; new ones are forwarded again.
    fn cut(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_dropped_connection_resumes_without_losing_or_repeating_messages() {
    let node = TestNode::start().await;
    let proxy = Proxy::start(&node.base).await;
    let profiles = tempfile::tempdir().unwrap();
    // Fay reaches the node only through the proxy.
    let fay = register(&proxy.base, profiles.path().join("fay"), "fay").await;
    let gus = register(&node.base, profiles.path().join("gus"), "gus").await;
    let dm = gus.open_dm(fay.user_id()).await.unwrap().id;
    let f = fay.device_id();
    let mut script = Script::default();
    let mut listener = fay.listen();
    for n in 0..2 {
        script.send(&gus, dm, &format!("before the cut {n}"), &[f]).await;
    }
    script.catch_up("fay", f, &mut listener).await;

    proxy.cut();
    for n in 0..3 {
        script.send(&gus, dm, &format!("after the cut {n}"), &[f]).await;
    }
    // The listener notices, reconnects, and the node replays only what was not acknowledged.
    let mut disconnected = false;
    let mut received = Vec::new();
    while received.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(20), listener.next())
            .await
            .expect("the listener recovers within 20 s")
            .expect("the listener keeps running");
        match event {
            Event::Message(message) => received.push(message),
            Event::Disconnected { .. } => disconnected = true,
            Event::Rejected { error, .. } | Event::Stopped { error } => panic!("listener failed: {error}"),
            _ => {}
        }
    }
    assert!(disconnected, "the connection was really cut");
    check("fay after reconnecting", &received, &script.expected[&f][2..]);
    script.seen.insert(f, 5);
    script.send(&gus, dm, "live again", &[f]).await;
    script.catch_up("fay", f, &mut listener).await;
    assert_node_holds_no_plaintext(&node, &script.plaintexts, "gus");
    listener.close().await;
}

#[tokio::test]
async fn expired_access_tokens_are_refreshed_for_rest_and_websocket() {
    let node = TestNode::start_with(|config| config.access_token_ttl = Duration::from_secs(1)).await;
    let profiles = tempfile::tempdir().unwrap();
    let hal = register(&node.base, profiles.path().join("hal"), "hal").await;
    let ivy = register(&node.base, profiles.path().join("ivy"), "ivy").await;
    let dm = ivy.open_dm(hal.user_id()).await.unwrap().id;
    // Both access tokens expire (the node allows no leeway).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Hal's socket is refused with 401 at first; the listener refreshes and connects.
    let mut listener = hal.listen();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), listener.next())
            .await
            .unwrap()
        {
            Some(Event::Synced { .. }) => break,
            Some(Event::Stopped { error }) => panic!("the listener gave up: {error}"),
            Some(_) => {}
            None => panic!("the listener ended"),
        }
    }
    // Ivy's REST calls are refused with 401 at first; the client refreshes and retries.
    let h = hal.device_id();
    let mut script = Script::default();
    script.send(&ivy, dm, "after expiry", &[h]).await;
    script.catch_up("hal", h, &mut listener).await;
    // The refreshed tokens were saved: a reopened client works without logging in again (and
    // presents the newest refresh token: a spent one would make the node revoke the session).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reopened = Client::open(profiles.path().join("ivy")).unwrap();
    script.send(&reopened, dm, "reopened", &[h]).await;
    script.catch_up("hal", h, &mut listener).await;
    listener.close().await;
}

/// Runs the `parley` binary with a deadline and returns its stdout lines as JSON.
pub(crate) async fn parley(args: &[&str]) -> Vec<Value> {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(args)
            .env_remove("PARLEY_PROFILE")
            .env_remove("PARLEY_PASSWORD")
            .env_remove("PARLEY_SERVER")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("parley {args:?} finished within 60 s"))
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "parley {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

/// `parley account register` of `name` on the node at `server`, into the profile directory `profile`.
pub(crate) async fn register_cli(profile: &str, server: &str, name: &str) {
    register_cli_with(profile, server, name, &[]).await;
}

/// [`register_cli`] with more flags for the command (`--ca-file`, say).
pub(crate) async fn register_cli_with(profile: &str, server: &str, name: &str, flags: &[&str]) {
    let email = format!("{name}@example.org");
    let mut args = vec![
        "account",
        "register",
        "--json",
        "--profile",
        profile,
        "--server",
        server,
    ];
    args.extend_from_slice(flags);
    args.extend(["--username", name, "--email", &email, "--password", PASSWORD]);
    let lines = parley(&args).await;
    assert_eq!(lines[0]["event"], "account");
    assert_eq!(lines[0]["username"], name);
}

#[tokio::test]
async fn the_cli_registers_sends_and_listens() {
    let node = TestNode::start().await;
    let profiles = tempfile::tempdir().unwrap();
    let dana = profiles.path().join("dana");
    let eli = profiles.path().join("eli");
    let (dana, eli) = (dana.to_str().unwrap(), eli.to_str().unwrap());
    for (name, profile) in [("dana", dana), ("eli", eli)] {
        register_cli(profile, &node.base, name).await;
    }

    let text = marker("dana to eli over the cli");
    let sent = parley(&["send", "--json", "--profile", dana, "eli", &text]).await;
    assert_eq!(sent[0]["event"], "sent");
    assert_eq!(sent[0]["sequence_number"], 1);
    assert_eq!(sent[0]["recipient_devices"], 1);

    let heard = parley(&["listen", "--json", "--profile", eli, "--count", "1"]).await;
    let message = heard.iter().find(|line| line["event"] == "message").expect("a message");
    assert_eq!(message["text"], text.as_str());
    assert_eq!(message["sender_username"], "dana");
    assert_eq!(message["conversation_id"], sent[0]["conversation_id"]);

    let listed = parley(&["conversations", "--json", "--profile", eli]).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["type"], "DM");
    assert_eq!(listed[0]["participants"], json!(["dana"]));

    assert_node_holds_no_plaintext(&node, &[text], "dana");
}
