//! Users of every API dialect in one group across two federated nodes: simple-chat, secure-messenger
//! and `/v1` users on node-a; messaging-app, chats-axum and CLI users on node-b. Each sends one message
//! through its own API; every one of them reads all six, in the host's order.

use std::time::Duration;

use crate::e2ee::parley;
use crate::federation::{eventually, start_bootstrap, start_node_with};
use crate::support::*;

const PASSWORD: &str = "correct horse battery";

fn texts(messages: &Value, field: &str) -> Vec<String> {
    messages
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m[field].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_of_all_five_dialects_and_the_cli_share_one_group_across_nodes() {
    let bootstrap = start_bootstrap().await;
    let fast = |federation: &mut node::FederationConfig| federation.outbox_max_backoff = Duration::from_secs(1);
    let a = start_node_with("node-a", &bootstrap.address, fast).await;
    let b = start_node_with("node-b", &bootstrap.address, fast).await;

    // node-a: simple-chat's Sam and /v1's Vic.
    let (status, body) = a
        .node
        .client()
        .post(
            "/api/auth/register",
            json!({ "username": "sam", "email": "sam@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sam = a.node.client().with_token(body["access_token"].as_str().unwrap());
    let vic = a.node.user("vic").await;
    let (status, body) = a
        .node
        .client()
        .post(
            "/api/v1/auth/register",
            json!({ "username": "sid", "email": "sid@example.org", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sid_token = body["access_token"].as_str().unwrap().to_owned();
    let sid_id = body["user"]["id"].as_str().unwrap().to_owned();
    let sid = a.node.client().with_token(&sid_token);

    // node-b: messaging-app's Max and the CLI's Cleo.
    let (status, body) = b
        .node
        .client()
        .post(
            "/api/users",
            json!({ "email": "max@example.com", "password": PASSWORD, "username": "max" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = b
        .node
        .client()
        .post(
            "/api/auth/login",
            json!({ "email": "max@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let max = b.node.client().with_token(body["access_token"].as_str().unwrap());
    let (status, body) = b
        .node
        .client()
        .post(
            "/auth/register",
            json!({ "login": "cara@example.org", "username": "cara", "password": PASSWORD, "pkebymk": "m", "pkebyrk": "r", "pubk": "p", "salt": "s" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cara_token = body["access_token"].as_str().unwrap().to_owned();
    let cara = b.node.client().with_token(&cara_token);
    let profiles = tempfile::tempdir().unwrap();
    let cleo = profiles.path().join("cleo");
    let cleo = cleo.to_str().unwrap();
    parley(&[
        "account",
        "register",
        "--json",
        "--profile",
        cleo,
        "--server",
        &b.node.base,
        "--username",
        "cleo",
        "--email",
        "cleo@example.org",
        "--password",
        PASSWORD,
    ])
    .await;

    // Sam's group, hosted by node-a, with the others named as each is known from node-a.
    let (status, body) = sam.post("/api/groups", json!({ "name": "everyone" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let group = body["group"]["id"].as_str().unwrap().to_owned();
    for member in [
        vic.id.as_str(),
        sid_id.as_str(),
        "max@node-b",
        "cara@node-b",
        "cleo@node-b",
    ] {
        let (status, body) = sam
            .post(&format!("/api/groups/{group}/members"), json!({ "user_id": member }))
            .await;
        assert_eq!(status, StatusCode::OK, "adding {member}: {body}");
    }
    eventually("the group to reach node-b", || async {
        let (status, _) = max.get(&format!("/api/messages?conversation_id={group}")).await;
        (status == StatusCode::OK).then_some(())
    })
    .await;

    // One message each, through each one's own API, one after another.
    let (status, body) = sam
        .post(
            &format!("/api/groups/{group}/messages"),
            json!({ "content": "from simple-chat" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_ok(
        vic.api
            .post(
                "/v1/messages",
                json!({ "conversation_id": group, "client_message_id": "v1", "body": "from /v1" }),
            )
            .await,
        StatusCode::CREATED,
    );
    let (status, body) = max
        .post(
            "/api/messages",
            json!({ "conversation_id": group, "content": "from messaging-app" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    send_over_chats_axum_socket(&b.node, &cara_token, &group, "from chats-axum").await;
    // secure-messenger's document leaves its socket's frames open; its clients speak chats-axum's.
    send_over_chats_axum_socket(&a.node, &sid_token, &group, "from secure-messenger").await;
    let sent = parley(&[
        "send",
        "--json",
        "--in-the-clear",
        "--profile",
        cleo,
        &group,
        "from the cli",
    ])
    .await;
    assert_eq!(sent[0]["event"], "sent");
    assert_eq!(sent[0]["encrypted"], false);
    let everything = [
        "from simple-chat",
        "from /v1",
        "from messaging-app",
        "from chats-axum",
        "from secure-messenger",
        "from the cli",
    ];

    // Everyone reads all five in the host's order.
    eventually("simple-chat's Sam to read all six", || async {
        let (_, page) = sam.get(&format!("/api/groups/{group}/messages")).await;
        (texts(&page["messages"], "content") == everything).then_some(())
    })
    .await;
    eventually("/v1's Vic to read all six", || async {
        let (_, page) = vic.api.get(&format!("/v1/messages?conversation_id={group}")).await;
        (texts(&page["data"]["messages"], "body") == everything).then_some(())
    })
    .await;
    eventually("messaging-app's Max to read all six", || async {
        let (_, page) = max.get(&format!("/api/messages?conversation_id={group}")).await;
        (texts(&page["messages"], "content") == everything).then_some(())
    })
    .await;
    eventually("chats-axum's Cara to read all six", || async {
        let (_, page) = cara.get(&format!("/chats/{group}/messages")).await;
        (texts(&page["messages"], "payload") == everything).then_some(())
    })
    .await;
    eventually("secure-messenger's Sid to read all six", || async {
        let (_, page) = sid.get(&format!("/api/v1/conversations/{group}/messages")).await;
        (texts(&page["messages"], "body") == everything).then_some(())
    })
    .await;
    let heard = parley(&["listen", "--json", "--profile", cleo, "--count", "5"]).await;
    let heard: Vec<&str> = heard
        .iter()
        .filter(|line| line["event"] == "message")
        .map(|line| {
            assert_eq!(line["encrypted"], false, "{line}");
            line["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(heard, everything[..5]);
}

/// Sends through chats-axum's WebSocket (token in the Authorization header) and waits for its `ok`.
async fn send_over_chats_axum_socket(node: &TestNode, token: &str, group: &str, text: &str) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut request = format!("{}/ws", node.base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let frame = json!({ "type": "send_message", "chat_id": group, "payload": text });
    socket.send(WsMessage::Text(frame.to_string().into())).await.unwrap();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("an answer within 30 s")
            .expect("the socket is open")
            .unwrap();
        if let WsMessage::Text(text) = next {
            let frame: Value = serde_json::from_str(&text).unwrap();
            match frame["type"].as_str() {
                Some("ok") => return,
                Some("error") => panic!("chats-axum send refused: {frame}"),
                _ => continue,
            }
        }
    }
}
