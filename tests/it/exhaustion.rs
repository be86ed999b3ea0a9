//! Resource exhaustion from the network, with no account needed: connections held open or fed a
//! header byte by byte, connection floods from one address and from many, oversized WebSocket
//! messages, and password guessing spread over addresses. Each test checks that the node keeps
//! answering everyone else, using other loopback addresses (127.0.0.0/8) as the attackers'.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

fn server_address(node: &TestNode) -> SocketAddr {
    node.base.trim_start_matches("http://").parse().unwrap()
}

async fn connect_from(local: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// What the node wrote before closing the connection, or `None` if it was still open after `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

async fn ping_answers(node: &TestNode) {
    let answer = tokio::time::timeout(Duration::from_secs(5), node.client().get("/ping")).await;
    assert_eq!(answer.expect("/ping answers within 5 s").0, StatusCode::OK);
}

#[tokio::test]
async fn silent_and_slow_header_connections_are_capped_per_address_then_timed_out() {
    let node = TestNode::start_with(|config| {
        config.connections.max_per_address = 20;
        config.connections.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let server = server_address(&node);
    let mut held = Vec::new();
    for i in 0..60 {
        let mut stream = connect_from("127.0.0.2", server).await;
        if i % 2 == 0 {
            // Slowloris: a header that never ends.
            stream
                .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-a: ")
                .await
                .unwrap();
        }
        held.push(stream);
    }
    ping_answers(&node).await;

    let mut refused = 0;
    let mut timed_out = 0;
    for stream in &mut held {
        match closed_within(stream, Duration::from_secs(10)).await {
            Some(answer) if answer.starts_with("HTTP/1.1 429") => {
                assert!(answer.contains("TOO_MANY_CONNECTIONS"), "{answer}");
                refused += 1;
            }
            Some(_) => timed_out += 1,
            None => panic!("a connection without a complete header is still open after 10 s"),
        }
    }
    assert_eq!(
        (refused, timed_out),
        (40, 20),
        "20 held per address, the rest refused at once"
    );
    ping_answers(&node).await;
}

async fn total_limited_node() -> TestNode {
    TestNode::start_with(|config| {
        config.connections.max_total = 30;
        config.connections.max_per_address = 10;
    })
    .await
}

#[tokio::test]
async fn silent_connections_from_many_addresses_make_room_for_real_clients() {
    let node = total_limited_node().await;
    let server = server_address(&node);
    let mut held = Vec::new();
    for attacker in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        for _ in 0..10 {
            held.push(connect_from(attacker, server).await);
        }
    }
    // The total is reached; each real request takes the place of the oldest silent connection.
    for _ in 0..3 {
        ping_answers(&node).await;
    }
    let mut evicted = 0;
    for stream in &mut held[..5] {
        evicted += usize::from(closed_within(stream, Duration::from_secs(5)).await.is_some());
    }
    assert!(
        evicted >= 3,
        "the oldest silent connections made room: {evicted} of 5 closed"
    );
}

#[tokio::test]
async fn when_every_connection_is_in_use_new_ones_are_told_the_node_is_busy() {
    let node = total_limited_node().await;
    let server = server_address(&node);
    let mut held = Vec::new();
    for attacker in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        for _ in 0..10 {
            let mut stream = connect_from(attacker, server).await;
            stream
                .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut answer = [0u8; 256];
            let n = stream.read(&mut answer).await.unwrap();
            assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
            held.push(stream);
        }
    }
    let mut late = connect_from("127.0.0.5", server).await;
    let answer = closed_within(&mut late, Duration::from_secs(5))
        .await
        .expect("refused at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("NODE_BUSY"), "{answer}");

    drop(held);
    // The node notices the closes as it reads them; the slots come back soon after.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::timeout(Duration::from_secs(1), node.client().get("/ping"))
        .await
        .map(|(status, _)| status)
        .ok()
        != Some(StatusCode::OK)
    {
        assert!(tokio::time::Instant::now() < deadline, "slots were not given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_websocket_whose_peer_went_silent_is_closed_at_the_idle_timeout() {
    let node = TestNode::start_with(|config| {
        config.connections.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let ann = node.user("ann").await;
    let mut socket = ann.ws(&node).await;
    socket.sync().await;
    // The heartbeat is 30 s away: nothing moves, so only the idle timeout can end it.
    assert!(socket.closed_within(Duration::from_secs(10)).await);
    ping_answers(&node).await;
}

#[tokio::test]
async fn an_oversized_websocket_message_is_answered_with_close_1009_before_and_after_sign_in() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let oversized = format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(gateway::MAX_BODY_BYTES)
    );

    let mut signed_in = ann.ws(&node).await;
    signed_in.sync().await;
    signed_in.send_text(oversized.clone()).await;
    assert_eq!(signed_in.close_code_within(Duration::from_secs(10)).await, Some(1009));

    let mut anonymous = Ws::connect(&node.ws_url("")).await;
    anonymous.send_text(oversized).await;
    assert_eq!(anonymous.close_code_within(Duration::from_secs(10)).await, Some(1009));

    let mut again = ann.ws(&node).await;
    again.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_frame_flood_does_not_hold_up_other_users() {
    let node = TestNode::start().await;
    let (ann, bob, cara) = (node.user("ann").await, node.user("bob").await, node.user("cara").await);
    let dm = conversation(&bob, "DM", &[&cara]).await;
    let mut flooder = ann.ws(&node).await;
    flooder.sync().await;
    let mut reader = cara.ws(&node).await;
    reader.sync().await;
    // Frames as fast as the socket takes them, never reading the answers.
    let flood = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut sent = 0u32;
        while started.elapsed() < Duration::from_secs(20) && sent < 50_000 {
            flooder.send_text(r#"{"type":"ping"}"#.to_owned()).await;
            sent += 1;
        }
        sent
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..3 {
        let id = format!("during-the-flood-{i}");
        assert_ok(
            send_text(&bob, &dm, &[&cara], "still here", &id).await,
            StatusCode::CREATED,
        );
        let frame = reader.expect("message:new").await;
        assert_eq!(frame["client_message_id"], id);
        ping_answers(&node).await;
    }
    flood.abort();
}

async fn guess(node: &TestNode, from: &str, password: &str) -> (StatusCode, Value) {
    let request = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", node.base))
        .header("x-forwarded-for", from)
        .json(&json!({ "identity": "ann", "password": password, "device_id": Uuid::new_v4() }));
    node.client().send(request).await
}

#[tokio::test]
async fn guesses_at_one_account_from_many_addresses_share_one_budget() {
    let node = TestNode::start_with(|config| {
        config.rate_limits.enabled = true;
        config.rate_limits.auth = 3;
        config.rate_limits.failed_logins_per_account = 5;
        // The test client is the proxy; each guess claims another address behind it.
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    node.user("ann").await;
    for i in 0..5 {
        let answer = guess(&node, &format!("198.51.100.{i}"), "wrong password").await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    // A sixth address, even with the right password: the account takes no more guesses for now.
    let refused = guess(&node, "198.51.100.77", "correct horse battery").await;
    let message = assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    assert!(message.contains("try again in"), "{message}");
    // Made-up names are refused the same way, so the refusal does not tell which accounts exist.
    for i in 0..5 {
        let request = reqwest::Client::new()
            .post(format!("{}/v1/auth/login", node.base))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&json!({ "identity": "nobody", "password": "wrong password", "device_id": Uuid::new_v4() }));
        assert_error(
            &node.client().send(request).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        );
    }
    let request = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", node.base))
        .header("x-forwarded-for", "203.0.113.99")
        .json(&json!({ "identity": "nobody", "password": "wrong password", "device_id": Uuid::new_v4() }));
    assert_error(
        &node.client().send(request).await,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_ATTEMPTS",
    );
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_buys_no_extra_attempts() {
    let node = TestNode::start_with(|config| {
        config.rate_limits.enabled = true;
        config.rate_limits.auth = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(guess(&node, &format!("198.51.100.{i}"), "wrong password").await.0);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

/// `parley node` under a shell's `ulimit`; returns the child (the node itself, by `exec`) and its URL.
fn start_limited_node(ulimit: &str, data_dir: &std::path::Path) -> (std::process::Child, String) {
    let node = node_command(data_dir);
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", &format!("ulimit {ulimit} && exec \"$0\" \"$@\"")])
        .arg(node.get_program())
        .args(node.get_args())
        .args(["--max-connections-per-address", "1000"]);
    let (child, base) = spawn_node(command);
    (child, base.expect("the node serves"))
}

fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let mut numbers = line.split_whitespace().skip(3);
    (numbers.next().unwrap().to_owned(), numbers.next().unwrap().to_owned())
}

#[tokio::test]
async fn the_node_raises_its_file_limit_and_keeps_its_connections_within_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut raised, _) = start_limited_node("-Sn 200", &dir.path().join("raised"));
    let (soft, hard) = open_file_limits(raised.id());
    assert_eq!(soft, hard, "the soft limit is raised to the hard one");
    raised.kill().unwrap();
    raised.wait().unwrap();

    // Hard limit 120: the cap becomes 60 connections, whatever was configured. 100 silent ones: the
    // oldest 40 are closed to make room, and a real client is still served.
    let (mut node, base) = start_limited_node("-n 120", &dir.path().join("low"));
    let server: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(connect_from("127.0.0.2", server).await);
    }
    let mut evicted = 0;
    for stream in &mut flood[..40] {
        evicted += usize::from(closed_within(stream, Duration::from_secs(5)).await.is_some());
    }
    assert_eq!(evicted, 40, "beyond the cap the oldest silent connections are closed");
    let api = Api::new(&base);
    let answer = tokio::time::timeout(Duration::from_secs(5), api.get("/ping")).await;
    assert_eq!(answer.expect("/ping answers within 5 s").0, StatusCode::OK);
    assert!(node.try_wait().unwrap().is_none(), "the node is still running");
    node.kill().unwrap();
    node.wait().unwrap();
}
