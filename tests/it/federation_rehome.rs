//! A conversation outlives its host: node-a hosts a group of Ann's with Bob (made an owner) on node-b
//! and Cat on node-c, and is then removed for good. The members' nodes keep the history they have;
//! Cat's sends wait for the lost host; Bob moves the group to node-b, which Cat's node accepts, and the
//! group goes on with the same members and one numbered history, Cat's waiting sends included.

use std::time::Duration;

use crate::federation::{eventually, start_bootstrap};
use crate::federation_faults::{NodeSpec, register};
use crate::federation_queue::history;
use crate::support::*;

/// Waits until `reader`'s node holds exactly `ids`, numbered 1.. without gaps, in that order.
async fn holds(reader: &User, group: &str, ids: &[&str]) {
    let wanted: Vec<(u64, String)> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| (n as u64 + 1, (*id).to_owned()))
        .collect();
    let held = eventually(&format!("{} to hold {} messages", reader.name, ids.len()), || async {
        let held = history(reader, group).await;
        (held.len() >= ids.len()).then_some(held)
    })
    .await;
    assert_eq!(held, wanted, "one gap-free history at {}", reader.name);
}

async fn send(sender: &User, group: &str, to: &[&User], id: &str) -> StatusCode {
    send_text(sender, group, to, id, id).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_owner_on_another_node_moves_a_group_whose_host_is_gone() {
    let bootstrap = start_bootstrap().await;
    let [a, b, c] = ["node-a", "node-b", "node-c"].map(|name| NodeSpec::new(name, &bootstrap.address).start());
    let ann = register(&a.base, "ann").await;
    let bob = register(&b.base, "bob").await;
    let cat = register(&c.base, "cat").await;
    let group = eventually("the group across three nodes", || async {
        let (status, body) = ann
            .api
            .post(
                "/v1/conversations",
                json!({ "type": "GROUP", "subject": "outliving its host", "participants": ["bob@node-b", "cat@node-c"] }),
            )
            .await;
        (status == StatusCode::CREATED).then(|| body["data"]["id"].as_str().unwrap().to_owned())
    })
    .await;
    let made_owner = ann
        .api
        .put(
            &format!("/v1/conversations/{group}/participants/{}/role", bob.id),
            json!({ "role": "owner" }),
        )
        .await;
    assert_ok(made_owner, StatusCode::OK);
    eventually("bob's node to know him as an owner, and cat's", || async {
        let (_, bobs) = bob.api.get(&format!("/v1/conversations/{group}")).await;
        let (_, cats) = cat.api.get(&format!("/v1/conversations/{group}")).await;
        let owner_at_c = assert_ok(
            cat.api.get(&format!("/v1/conversations/{group}/participants")).await,
            StatusCode::OK,
        )["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["user_id"] == bob.id.as_str() && p["role"] == "owner");
        (bobs["data"]["role"] == "owner" && cats["data"]["host"] == "node-a" && owner_at_c).then_some(())
    })
    .await;
    let everyone = [&ann, &bob, &cat];
    assert_eq!(send(&ann, &group, &[&bob, &cat], "a1").await, StatusCode::CREATED);
    assert_eq!(send(&bob, &group, &[&ann, &cat], "b1").await, StatusCode::CREATED);
    assert_eq!(send(&cat, &group, &[&ann, &bob], "c1").await, StatusCode::CREATED);
    for reader in everyone {
        holds(reader, &group, &["a1", "b1", "c1"]).await;
    }

    // While the host answers, nobody may move the group; a member who is no owner never may.
    let (status, body) = bob
        .api
        .post(&format!("/v1/conversations/{group}/host"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the host answers: {body}");
    let (status, body) = cat
        .api
        .post(&format!("/v1/conversations/{group}/host"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "cat is no owner: {body}");

    // node-a is removed for good. The others keep what they have; Cat's sends wait for a host.
    a.kill();
    let mut cats_socket = Ws::connect(&c.ws_url(&cat.token)).await;
    cats_socket.expect("sync:complete").await;
    assert_eq!(send(&cat, &group, &[&bob], "c2").await, StatusCode::ACCEPTED);
    assert_eq!(send(&cat, &group, &[&bob], "c3").await, StatusCode::ACCEPTED);
    holds(&bob, &group, &["a1", "b1", "c1"]).await;

    let moved = assert_ok(
        bob.api
            .post(&format!("/v1/conversations/{group}/host"), json!({}))
            .await,
        StatusCode::OK,
    );
    assert!(moved.get("host").is_none(), "hosted at bob's node now: {moved}");
    assert_eq!(moved["participant_count"], 3, "the same members");
    eventually("cat's node to accept the move", || async {
        let (_, cats) = cat.api.get(&format!("/v1/conversations/{group}")).await;
        (cats["data"]["host"] == "node-b").then_some(())
    })
    .await;
    // Cat's waiting sends go to the new host in order, and are placed after the history.
    let mut placed = Vec::new();
    while placed.len() < 2 {
        let frame = cats_socket
            .next_within(Duration::from_secs(30))
            .await
            .expect("cat's sends placed");
        if frame["type"] == "message:sequenced" {
            placed.push((frame["client_message_id"].clone(), frame["sequence_number"].clone()));
        }
    }
    assert_eq!(placed, [(json!("c2"), json!(4)), (json!("c3"), json!(5))]);
    assert_eq!(
        send(&bob, &group, &[&cat], "b2").await,
        StatusCode::CREATED,
        "bob's node orders it"
    );
    assert_eq!(send(&cat, &group, &[&bob], "c4").await, StatusCode::CREATED);
    for reader in [&bob, &cat] {
        holds(reader, &group, &["a1", "b1", "c1", "c2", "c3", "b2", "c4"]).await;
    }
    // Moving it again changes nothing.
    let again = bob
        .api
        .post(&format!("/v1/conversations/{group}/host"), json!({}))
        .await;
    assert_eq!(assert_ok(again, StatusCode::OK)["last_sequence"], 7);
    drop((b, c));
}
