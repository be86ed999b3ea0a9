//! Messages in the clear: the clients of the other API dialects send a conversation-wide `body`
//! instead of a ciphertext per device. One copy is stored for the conversation, every participant's
//! devices (also ones added later) see it, it is marked `encrypted: false` in `/v1` and in the SDK,
//! it crosses federation like any message, and an operator can refuse it.

use std::time::Duration;

use client::{Client, Event, Registration};

use crate::federation::{WAIT, hosted_conversation, start_bootstrap, start_node_with};
use crate::support::*;

fn clear(conversation: &str, body: &str, client_id: &str) -> Value {
    json!({ "conversation_id": conversation, "client_message_id": client_id, "body": body })
}

#[tokio::test]
async fn a_body_reaches_every_device_marked_unencrypted() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let bob_laptop = node.second_device(&bob).await;
    let ann_phone = node.second_device(&ann).await;
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    let mut ann_phone_ws = ann_phone.ws(&node).await;
    ann_phone_ws.sync().await;

    let sent = assert_ok(
        ann.api.post("/v1/messages", clear(&group, "hello, all", "c1")).await,
        StatusCode::CREATED,
    );
    assert_eq!(sent["encrypted"], false);
    assert_eq!(sent["body"], "hello, all");
    assert_eq!(sent["ciphertext"], Value::Null);

    // Live to the other participant and to the sender's other device.
    for ws in [&mut bob_ws, &mut ann_phone_ws] {
        let frame = ws.expect("message:new").await;
        assert_eq!(frame["encrypted"], false);
        assert_eq!(frame["body"], "hello, all");
        assert_eq!(frame["message_id"], sent["id"]);
    }
    // Queued for a device that was offline, and readable in the history of every device, the sender's
    // own and one that logs in afterwards included.
    let mut laptop_ws = bob_laptop.ws(&node).await;
    let replayed = laptop_ws.sync().await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0]["body"], "hello, all");
    let later = node.second_device(&bob).await;
    for reader in [&ann, &bob, &later] {
        let page = assert_ok(
            reader.api.get(&format!("/v1/messages?conversation_id={group}")).await,
            StatusCode::OK,
        );
        assert_eq!(page["messages"][0]["body"], "hello, all", "{}", reader.device_id);
        assert_eq!(page["messages"][0]["encrypted"], false);
    }
    // Resent with the same client_message_id: the original.
    let again = assert_ok(
        ann.api.post("/v1/messages", clear(&group, "hello, all", "c1")).await,
        StatusCode::CREATED,
    );
    assert_eq!(again["id"], sent["id"]);

    // Edited with a new body, then deleted: the body goes with it.
    let id = sent["id"].as_str().unwrap();
    let edited = assert_ok(
        ann.api
            .put(&format!("/v1/messages/{id}"), json!({ "body": "hello, everyone" }))
            .await,
        StatusCode::OK,
    );
    assert_eq!(edited["body"], "hello, everyone");
    let updated = bob_ws.expect("message:updated").await;
    assert_eq!(updated["body"], "hello, everyone");
    let refused = ann
        .api
        .put(&format!("/v1/messages/{id}"), send_body(&group, &[&bob], "x", "-"))
        .await;
    let message = assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert!(message.contains("body"), "{message}");
    assert_ok(ann.api.delete(&format!("/v1/messages/{id}")).await, StatusCode::OK);
    let gone = assert_ok(bob.api.get(&format!("/v1/messages/{id}")).await, StatusCode::OK);
    assert_eq!(gone["is_deleted"], true);
    assert_eq!(gone["body"], Value::Null);
    assert_eq!(gone["encrypted"], false);

    // An encrypted message is not edited into the clear.
    let secret = assert_ok(
        send_text(&ann, &group, &[&bob, &bob_laptop, &later, &ann_phone], "s", "c2").await,
        StatusCode::CREATED,
    );
    assert_eq!(secret["encrypted"], true);
    let refused = ann
        .api
        .put(
            &format!("/v1/messages/{}", secret["id"].as_str().unwrap()),
            json!({ "body": "now in the clear" }),
        )
        .await;
    assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn bodies_are_checked() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let cases = [
        (clear(&dm, "", "e1"), "body: must not be empty"),
        (
            clear(&dm, &"x".repeat(64 * 1024 + 1), "e2"),
            "body: must be at most 65536 characters",
        ),
        (
            {
                let mut both = send_body(&dm, &[&bob], "x", "e3");
                both["body"] = json!("x");
                both
            },
            "ciphertexts: must be empty when a body is given",
        ),
    ];
    for (request, expected) in cases {
        let message = assert_error(
            &ann.api.post("/v1/messages", request).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(message.contains(expected), "{message}");
    }
    // The limit counts characters, as the document's `maxLength` does, not bytes of UTF-8.
    let wide = ann
        .api
        .post("/v1/messages", clear(&dm, &"é".repeat(64 * 1024), "e5"))
        .await;
    assert_ok(wide, StatusCode::CREATED);
    // Not a participant: no body gets in either.
    let eve = node.user("eve").await;
    let refused = eve.api.post("/v1/messages", clear(&dm, "hi", "e4")).await;
    assert!(
        refused.0 == StatusCode::FORBIDDEN || refused.0 == StatusCode::NOT_FOUND,
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_operator_can_refuse_messages_in_the_clear() {
    let node = TestNode::start_with(|config| config.allow_unencrypted = false).await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let message = assert_error(
        &ann.api.post("/v1/messages", clear(&dm, "hi", "x1")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(message.contains("--allow-unencrypted false"), "{message}");
    assert_ok(send_text(&ann, &dm, &[&bob], "hi", "x2").await, StatusCode::CREATED);
}

/// Ann on node-a hosts a group with Bob on node-b, who reads with the SDK: her body reaches him marked
/// unencrypted, and his own body goes through the host back to her.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_cross_federation_both_ways() {
    let bootstrap = start_bootstrap().await;
    let fast = |federation: &mut node::FederationConfig| federation.outbox_max_backoff = Duration::from_secs(1);
    let a = start_node_with("node-a", &bootstrap.address, fast).await;
    let b = start_node_with("node-b", &bootstrap.address, fast).await;
    let profiles = tempfile::tempdir().unwrap();
    let bob = Client::register(
        profiles.path().join("bob"),
        &b.node.base,
        Registration::new("bob", "bob@example.org", "correct horse battery"),
    )
    .await
    .unwrap();
    let ann = a.node.user("ann").await;
    let bob_raw = b.node.login("bob", "correct horse battery").await;
    let group = hosted_conversation(&ann, "GROUP", &[(&bob_raw, "bob@node-b")]).await;
    let mut ann_ws = ann.ws(&a.node).await;
    ann_ws.sync().await;
    let mut listener = bob.listen();

    assert_ok(
        ann.api.post("/v1/messages", clear(&group, "from node-a", "f1")).await,
        StatusCode::CREATED,
    );
    let received = loop {
        match tokio::time::timeout(WAIT, listener.next())
            .await
            .expect("a message within the wait")
        {
            Some(Event::Message(message)) => break message,
            Some(Event::Rejected { error, .. } | Event::Stopped { error }) => panic!("listener failed: {error}"),
            _ => continue,
        }
    };
    assert!(!received.encrypted);
    assert_eq!(received.text(), Some("from node-a"));

    // Bob's body is submitted to the host, which orders it and relays it to Ann.
    let sent = assert_ok(
        bob_raw
            .api
            .post("/v1/messages", clear(&group, "from node-b", "f2"))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(sent["sequence_number"], 2);
    let frame = ann_ws.expect("message:new").await;
    assert_eq!(frame["body"], "from node-b");
    assert_eq!(frame["encrypted"], false);
    listener.close().await;
}
