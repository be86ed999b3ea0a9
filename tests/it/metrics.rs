//! `/metrics` on the operator's metrics listener: the Prometheus text format, counters that move with
//! traffic.

use std::time::Duration;

use crate::support::*;

/// Serves the node's metrics on a port of their own, as `parley node --metrics` does.
pub(crate) async fn metrics_of(node: &TestNode) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(gateway::serve_metrics(
        listener,
        node.services.clone(),
        std::future::pending(),
    ));
    url
}

pub(crate) async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        response.headers()
    );
    response.text().await.unwrap()
}

/// Accounts, a conversation, a socket, a message sent and acknowledged: every family a lone node has
/// shows up.
pub(crate) async fn some_traffic(node: &TestNode) {
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut socket = bob.ws(node).await;
    assert_eq!(socket.next().await["type"], "ready");
    one_message_delivered(&ann, &bob, &dm).await;
}

/// Ann sends one message into the DM and Bob marks it delivered; returns its id.
async fn one_message_delivered(ann: &User, bob: &User, dm: &str) -> String {
    let sent = assert_ok(send_text(ann, dm, &[ann, bob], "hi", "m1").await, StatusCode::CREATED);
    let id = sent["id"].as_str().unwrap().to_owned();
    assert_ok(
        bob.api.post_empty(&format!("/v1/messages/{id}/delivered")).await,
        StatusCode::OK,
    );
    id
}

/// The value of the sample whose name and labels start with `series`, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(series))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(_, value)| value.parse::<f64>().unwrap())
        .sum()
}

#[tokio::test]
async fn counters_move_with_traffic() {
    let node = TestNode::start().await;
    let url = metrics_of(&node).await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut socket = bob.ws(&node).await;
    assert_eq!(socket.next().await["type"], "ready");

    let before = scrape(&url).await;
    assert!(before.ends_with("# EOF\n"), "{before}");
    let id = one_message_delivered(&ann, &bob, &dm).await;
    let after = scrape(&url).await;

    let sends = r#"parley_http_requests_total{method="POST",route="/v1/messages",status="201"}"#;
    assert_eq!(sample(&before, sends), 0.0);
    assert_eq!(sample(&after, sends), 1.0);
    assert_eq!(
        sample(&after, "parley_messages_stored") - sample(&before, "parley_messages_stored"),
        1.0
    );
    assert_eq!(
        sample(&after, "parley_messages_delivered_total") - sample(&before, "parley_messages_delivered_total"),
        1.0
    );
    assert!(
        sample(&after, "parley_store_commit_seconds_count") > sample(&before, "parley_store_commit_seconds_count"),
        "{after}"
    );
    assert_eq!(sample(&after, "parley_websocket_connections"), 1.0);
    assert_eq!(sample(&after, "parley_users"), 2.0);
    assert!(sample(&after, "parley_tokio_tasks") >= 1.0, "{after}");
    assert!(
        sample(
            &after,
            r#"parley_http_request_seconds_count{method="POST",route="/v1/messages"}"#
        ) >= 1.0,
        "{after}"
    );
    // Paths are labelled by their route's pattern, never by the ids in them.
    assert!(after.contains(r#"route="/v1/messages/{id}/delivered""#), "{after}");
    assert!(!after.contains(&id), "{after}");
}

/// The stored-message total is kept as messages come and go, not counted per scrape: it follows a
/// message erased and a conversation deleted with its messages.
#[tokio::test]
async fn the_stored_message_total_follows_erasures_and_deleted_conversations() {
    let node = TestNode::start().await;
    let url = metrics_of(&node).await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let stored = |text: &str| sample(text, "parley_messages_stored");
    assert_eq!(stored(&scrape(&url).await), 0.0);

    let mut ids = Vec::new();
    for n in 0..3 {
        let sent = send_text(&ann, &group, &[&ann, &bob], "hi", &format!("m{n}")).await;
        ids.push(assert_ok(sent, StatusCode::CREATED)["id"].as_str().unwrap().to_owned());
    }
    // A retried send stores nothing new.
    let again = assert_ok(
        send_text(&ann, &group, &[&ann, &bob], "hi", "m0").await,
        StatusCode::CREATED,
    );
    assert_eq!(again["id"].as_str(), Some(ids[0].as_str()));
    assert_eq!(stored(&scrape(&url).await), 3.0);

    assert_ok(
        ann.api.delete(&format!("/v1/messages/{}/hard", ids[0])).await,
        StatusCode::OK,
    );
    assert_eq!(stored(&scrape(&url).await), 2.0);

    let deleted = ann.api.delete(&format!("/v1/conversations/{group}?for_all=true")).await;
    assert!(deleted.0.is_success(), "{deleted:?}");
    assert_eq!(stored(&scrape(&url).await), 0.0);
}

#[tokio::test]
async fn rate_limit_refusals_are_counted_by_budget() {
    let node = TestNode::start_with(|config| {
        config.rate_limits.enabled = true;
        config.rate_limits.auth = 2;
    })
    .await;
    let url = metrics_of(&node).await;
    let login = json!({ "identity": "nobody", "password": "wrong password", "device_id": Uuid::new_v4() });
    for _ in 0..4 {
        node.client().post("/v1/auth/login", login.clone()).await;
    }
    let text = scrape(&url).await;
    assert_eq!(
        sample(&text, r#"parley_rate_limited_total{category="auth"}"#),
        2.0,
        "{text}"
    );
}

#[test]
fn parley_node_serves_metrics_on_its_own_listener_only_when_asked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut command = node_command(dir.path());
    command.args(["--metrics", &format!("127.0.0.1:{port}")]);
    let (mut child, base) = spawn_node(command);
    let base = base.expect("the node serves");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let text = scrape(&format!("http://127.0.0.1:{port}/metrics")).await;
        assert!(text.contains("# TYPE parley_users gauge"), "{text}");
        let api = reqwest::get(format!("{base}/metrics")).await.unwrap();
        assert_eq!(api.status(), StatusCode::NOT_FOUND, "the API must not serve /metrics");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, base) = spawn_node(node_command(tempfile::tempdir().unwrap().path()));
    assert!(base.is_some());
    let refused = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(500),
    );
    assert!(refused.is_err(), "metrics are off by default");
    child.kill().unwrap();
    child.wait().unwrap();
}
