//! Users of different API dialects in one group across two federated nodes: a simple-chat user and a
//! `/v1` user on node-a, a messaging-app user and a CLI user on node-b. Each sends one message through
//! its own API; every one of them reads all four, in the host's order.

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
async fn four_clients_of_three_dialects_and_the_cli_share_one_group_across_nodes() {
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
    for member in [vic.id.as_str(), "max@node-b", "cleo@node-b"] {
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
    let everything = ["from simple-chat", "from /v1", "from messaging-app", "from the cli"];

    // Everyone reads all four in the host's order.
    eventually("simple-chat's Sam to read all four", || async {
        let (_, page) = sam.get(&format!("/api/groups/{group}/messages")).await;
        (texts(&page["messages"], "content") == everything).then_some(())
    })
    .await;
    eventually("/v1's Vic to read all four", || async {
        let (_, page) = vic.api.get(&format!("/v1/messages?conversation_id={group}")).await;
        (texts(&page["data"]["messages"], "body") == everything).then_some(())
    })
    .await;
    eventually("messaging-app's Max to read all four", || async {
        let (_, page) = max.get(&format!("/api/messages?conversation_id={group}")).await;
        (texts(&page["messages"], "content") == everything).then_some(())
    })
    .await;
    let heard = parley(&["listen", "--json", "--profile", cleo, "--count", "3"]).await;
    let heard: Vec<&str> = heard
        .iter()
        .filter(|line| line["event"] == "message")
        .map(|line| {
            assert_eq!(line["encrypted"], false, "{line}");
            line["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(heard, everything[..3]);
}
