use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn contacts_are_added_listed_and_removed() {
    let node = TestNode::start().await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    for other in [&carl, &bob] {
        let added = ann
            .api
            .post("/v1/users/me/contacts", json!({ "contact_user_id": other.id }))
            .await;
        assert_eq!(assert_ok(added, StatusCode::CREATED)["username"], other.name);
    }
    let twice = ann
        .api
        .post("/v1/users/me/contacts", json!({ "contact_user_id": bob.id }))
        .await;
    assert_error(&twice, StatusCode::CONFLICT, "CONFLICT");
    let myself = ann
        .api
        .post("/v1/users/me/contacts", json!({ "contact_user_id": ann.id }))
        .await;
    assert_error(&myself, StatusCode::CONFLICT, "CONFLICT");
    let ghost = ann
        .api
        .post("/v1/users/me/contacts", json!({ "contact_user_id": Uuid::new_v4() }))
        .await;
    assert_error(&ghost, StatusCode::NOT_FOUND, "NOT_FOUND");
    let list = assert_ok(ann.api.get("/v1/users/me/contacts").await, StatusCode::OK);
    let names: Vec<&str> = list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carl"]);
    assert!(
        list["contacts"][0]["email"].is_null(),
        "contacts show public profiles only"
    );
    assert_ok(
        ann.api.delete(&format!("/v1/users/me/contacts/{}", bob.id)).await,
        StatusCode::OK,
    );
    assert_error(
        &ann.api.delete(&format!("/v1/users/me/contacts/{}", bob.id)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let list = assert_ok(ann.api.get("/v1/users/me/contacts").await, StatusCode::OK);
    assert_eq!(list["contacts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_blocked_user_cannot_reach_the_blocker() {
    let node = TestNode::start().await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    let dm = conversation(&bob, "DM", &[&ann]).await;
    let group = conversation(&carl, "GROUP", &[&ann, &bob]).await;
    assert_ok(
        ann.api
            .post_empty(&format!("/v1/users/me/contacts/{}/block", bob.id))
            .await,
        StatusCode::OK,
    );
    let blocked = assert_ok(ann.api.get("/v1/users/me/contacts/blocked").await, StatusCode::OK);
    assert_eq!(blocked["blocked"][0]["id"], bob.id);

    assert_error(
        &send_text(&bob, &dm, &[&ann], "hi", "c1").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let new_dm = bob
        .api
        .post("/v1/conversations", json!({ "type": "DM", "participants": [ann.id] }))
        .await;
    assert_error(&new_dm, StatusCode::FORBIDDEN, "FORBIDDEN");
    let own_group = bob
        .api
        .post(
            "/v1/conversations",
            json!({ "type": "GROUP", "subject": "x", "participants": [ann.id] }),
        )
        .await;
    assert_error(&own_group, StatusCode::FORBIDDEN, "FORBIDDEN");
    let bobs_group = conversation(&bob, "GROUP", &[&carl]).await;
    let add = bob
        .api
        .post(
            &format!("/v1/conversations/{bobs_group}/participants"),
            json!({ "user_id": ann.id }),
        )
        .await;
    assert_error(&add, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_ok(
        send_text(&ann, &dm, &[&bob], "the blocker may still write", "a1").await,
        StatusCode::CREATED,
    );

    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    bob_ws
        .send(json!({ "type": "typing:started", "conversation_id": group }))
        .await;
    bob_ws
        .send(json!({ "type": "presence:online", "status": "hello" }))
        .await;
    let mut carl_ws = carl.ws(&node).await;
    carl_ws.sync().await;
    carl_ws
        .send(json!({ "type": "typing:started", "conversation_id": group }))
        .await;
    loop {
        let frame = ann_ws
            .next_within(Duration::from_secs(5))
            .await
            .expect("carl's typing arrives");
        assert_ne!(frame["user_id"], bob.id, "nothing of bob's reaches ann: {frame}");
        if frame["type"] == "typing:started" {
            assert_eq!(frame["user_id"], carl.id);
            break;
        }
    }

    assert_ok(
        ann.api
            .post_empty(&format!("/v1/users/me/contacts/{}/unblock", bob.id))
            .await,
        StatusCode::OK,
    );
    assert_ok(
        send_text(&bob, &dm, &[&ann], "hi again", "c2").await,
        StatusCode::CREATED,
    );
    let unblocked = assert_ok(ann.api.get("/v1/users/me/contacts/blocked").await, StatusCode::OK);
    assert!(unblocked["blocked"].as_array().unwrap().is_empty());
}
