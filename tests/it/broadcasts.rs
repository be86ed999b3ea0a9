use crate::support::*;

#[tokio::test]
async fn broadcast_lists_are_managed_by_their_owner_only() {
    let node = TestNode::start().await;
    let (ann, bob, carl, dan) = (
        node.user("ann").await,
        node.user("bob").await,
        node.user("carl").await,
        node.user("dan").await,
    );
    let list = assert_ok(
        ann.api
            .post("/v1/broadcasts", json!({ "name": "Marketing", "description": "news" }))
            .await,
        StatusCode::CREATED,
    );
    let id = list["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/broadcasts/{id}");
    assert_ok(
        ann.api.post("/v1/broadcasts", json!({ "name": "Family" })).await,
        StatusCode::CREATED,
    );
    assert_error(
        &ann.api.post("/v1/broadcasts", json!({ "name": "" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    let mine = assert_ok(ann.api.get("/v1/broadcasts").await, StatusCode::OK);
    let names: Vec<&str> = mine["broadcasts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Family", "Marketing"]);
    let found = assert_ok(ann.api.get("/v1/broadcasts/search?query=market").await, StatusCode::OK);
    assert_eq!(found["broadcasts"].as_array().unwrap().len(), 1);
    assert_error(&bob.api.get(&path).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_error(
        &bob.api.put(&path, json!({ "name": "mine" })).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let renamed = assert_ok(ann.api.put(&path, json!({ "name": "Updates" })).await, StatusCode::OK);
    assert_eq!(renamed["name"], "Updates");

    let added = ann
        .api
        .post(&format!("{path}/recipients"), json!({ "user_id": bob.id }))
        .await;
    assert_eq!(assert_ok(added, StatusCode::CREATED)["recipient_count"], 1);
    let twice = ann
        .api
        .post(&format!("{path}/recipients"), json!({ "user_id": bob.id }))
        .await;
    assert_error(&twice, StatusCode::CONFLICT, "CONFLICT");
    let bulk = ann
        .api
        .post(
            &format!("{path}/recipients/bulk"),
            json!({ "user_ids": [bob.id, carl.id, dan.id] }),
        )
        .await;
    let bulk = assert_ok(bulk, StatusCode::OK);
    assert_eq!(
        (bulk["changed"].as_u64(), bulk["recipient_count"].as_u64()),
        (Some(2), Some(3))
    );
    let ghost = ann
        .api
        .post(
            &format!("{path}/recipients/bulk"),
            json!({ "user_ids": [Uuid::new_v4()] }),
        )
        .await;
    assert_error(&ghost, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        assert_ok(ann.api.get(&format!("{path}/recipients/count")).await, StatusCode::OK)["count"],
        3
    );
    assert_eq!(
        assert_ok(
            ann.api.get(&format!("{path}/recipients/{}", carl.id)).await,
            StatusCode::OK
        )["is_recipient"],
        true
    );
    let listed = assert_ok(ann.api.get(&format!("{path}/recipients")).await, StatusCode::OK);
    let names: Vec<&str> = listed["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carl", "dan"]);
    assert_ok(
        ann.api.delete(&format!("{path}/recipients/{}", carl.id)).await,
        StatusCode::OK,
    );
    assert_eq!(
        assert_ok(
            ann.api.get(&format!("{path}/recipients/{}", carl.id)).await,
            StatusCode::OK
        )["is_recipient"],
        false
    );
    let removal = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::DELETE, &format!("{path}/recipients/bulk"))
                .json(&json!({ "user_ids": [bob.id, carl.id] })),
        )
        .await;
    assert_eq!(assert_ok(removal, StatusCode::OK)["changed"], 1);
    assert_eq!(
        assert_ok(ann.api.get(&format!("{path}/recipients/count")).await, StatusCode::OK)["count"],
        1
    );
    assert_ok(ann.api.delete(&path).await, StatusCode::OK);
    assert_error(&ann.api.get(&path).await, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn sending_to_a_broadcast_delivers_one_dm_to_each_recipient() {
    let node = TestNode::start().await;
    let (ann, bob, carl, dan) = (
        node.user("ann").await,
        node.user("bob").await,
        node.user("carl").await,
        node.user("dan").await,
    );
    let list = assert_ok(
        ann.api.post("/v1/broadcasts", json!({ "name": "All" })).await,
        StatusCode::CREATED,
    );
    let path = format!("/v1/broadcasts/{}", list["id"].as_str().unwrap());
    assert_ok(
        ann.api
            .post(
                &format!("{path}/recipients/bulk"),
                json!({ "user_ids": [bob.id, carl.id, dan.id] }),
            )
            .await,
        StatusCode::OK,
    );
    assert_ok(
        dan.api
            .post_empty(&format!("/v1/users/me/contacts/{}/block", ann.id))
            .await,
        StatusCode::OK,
    );
    let existing_dm = conversation(&ann, "DM", &[&bob]).await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    let copy =
        |user: &User, text: &str| json!({ "recipient_device_id": user.device_id, "ciphertext": b64(text.as_bytes()) });
    let body = json!({ "client_message_id": "b1", "ciphertexts": [copy(&bob, "for bob"), copy(&carl, "for carl"), copy(&dan, "for dan")] });
    let sent = assert_ok(
        ann.api.post(&format!("{path}/messages"), body.clone()).await,
        StatusCode::CREATED,
    );
    let delivered = sent["delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        sent["skipped"],
        json!([dan.id]),
        "a recipient who blocked the sender is skipped"
    );
    let to_bob = delivered.iter().find(|d| d["user_id"] == bob.id.as_str()).unwrap();
    assert_eq!(
        to_bob["conversation_id"],
        existing_dm.as_str(),
        "the existing DM is reused"
    );
    assert_eq!(content(&bob_ws.expect("message:new").await), "for bob");
    let carls = assert_ok(carl.api.get("/v1/conversations").await, StatusCode::OK);
    assert_eq!(carls["conversations"][0]["type"], "DM");
    let again = assert_ok(
        ann.api.post(&format!("{path}/messages"), body).await,
        StatusCode::CREATED,
    );
    assert_eq!(
        again["delivered"][0]["message_id"], delivered[0]["message_id"],
        "a resend is idempotent"
    );
    let eve = node.user("eve").await;
    let stranger = json!({ "client_message_id": "b2", "ciphertexts": [copy(&eve, "x")] });
    let refused = ann.api.post(&format!("{path}/messages"), stranger).await;
    assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}
