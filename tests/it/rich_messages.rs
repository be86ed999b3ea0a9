use crate::support::*;

#[tokio::test]
async fn replies_mentions_and_forwards_are_recorded_and_checked() {
    let node = TestNode::start().await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let first = assert_ok(
        send_text(&ann, &group, &[&bob], "question", "q1").await,
        StatusCode::CREATED,
    );
    let mut reply = send_body(&group, &[&ann], "answer", "a1");
    reply["reply_to"] = first["id"].clone();
    reply["mentions"] = json!([ann.id]);
    let answer = assert_ok(bob.api.post("/v1/messages", reply).await, StatusCode::CREATED);
    assert_eq!(
        (answer["reply_to"].clone(), answer["mentions"][0].clone()),
        (first["id"].clone(), json!(ann.id))
    );

    let mut ws = ann.ws(&node).await;
    ws.sync().await;
    let mut again = send_body(&group, &[&ann], "again", "a2");
    again["reply_to"] = first["id"].clone();
    assert_ok(bob.api.post("/v1/messages", again).await, StatusCode::CREATED);
    assert_eq!(ws.expect("message:new").await["reply_to"], first["id"]);

    let elsewhere = conversation(&ann, "DM", &[&carl]).await;
    let mut bad_reply = send_body(&elsewhere, &[&carl], "x", "b1");
    bad_reply["reply_to"] = first["id"].clone();
    let message = assert_error(
        &ann.api.post("/v1/messages", bad_reply).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("reply_to"), "{message}");
    let mut bad_mention = send_body(&group, &[&bob], "x", "b2");
    bad_mention["mentions"] = json!([carl.id]);
    assert_error(
        &ann.api.post("/v1/messages", bad_mention).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );

    let forward = json!({
        "conversation_id": elsewhere,
        "client_message_id": "f1",
        "ciphertexts": [{ "recipient_device_id": carl.device_id, "ciphertext": b64(b"re-encrypted for carl") }],
    });
    let forwarded = ann
        .api
        .post(
            &format!("/v1/messages/{}/forward", answer["id"].as_str().unwrap()),
            forward.clone(),
        )
        .await;
    let forwarded = assert_ok(forwarded, StatusCode::CREATED);
    assert_eq!(forwarded["forwarded_from"], answer["id"]);
    assert_eq!(forwarded["conversation_id"], elsewhere.as_str());
    let stranger = carl
        .api
        .post(
            &format!("/v1/messages/{}/forward", first["id"].as_str().unwrap()),
            forward,
        )
        .await;
    assert_error(&stranger, StatusCode::FORBIDDEN, "FORBIDDEN");
}

#[tokio::test]
async fn reactions_are_added_listed_removed_and_announced() {
    let node = TestNode::start().await;
    let (ann, bob, eve) = (node.user("ann").await, node.user("bob").await, node.user("eve").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let sent = assert_ok(send_text(&ann, &group, &[&bob], "hi", "c1").await, StatusCode::CREATED);
    let path = format!("/v1/messages/{}/reactions", sent["id"].as_str().unwrap());
    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    assert_ok(bob.api.post(&path, json!({ "emoji": "👍" })).await, StatusCode::CREATED);
    let event = ann_ws.expect("message:reaction").await;
    assert_eq!(
        (event["emoji"].as_str(), event["added"].as_bool()),
        (Some("👍"), Some(true))
    );
    assert_ok(ann.api.post(&path, json!({ "emoji": "👍" })).await, StatusCode::CREATED);
    let list = assert_ok(ann.api.post(&path, json!({ "emoji": "🎉" })).await, StatusCode::CREATED);
    assert_eq!(list["reactions"][0]["emoji"], "👍");
    assert_eq!(list["reactions"][0]["count"], 2);
    assert_eq!(list["reactions"][1]["count"], 1);
    let again = assert_ok(bob.api.post(&path, json!({ "emoji": "👍" })).await, StatusCode::CREATED);
    assert_eq!(again["reactions"][0]["count"], 2, "reacting twice is idempotent");
    let message = assert_ok(
        bob.api
            .get(&format!("/v1/messages/{}", sent["id"].as_str().unwrap()))
            .await,
        StatusCode::OK,
    );
    assert_eq!(
        message["reactions"].as_array().unwrap().len(),
        2,
        "reactions come with the message"
    );
    assert_error(
        &bob.api.post(&path, json!({ "emoji": "two words" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert_error(
        &eve.api.post(&path, json!({ "emoji": "👀" })).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let removed = assert_ok(bob.api.delete(&format!("{path}/👍")).await, StatusCode::OK);
    assert_eq!(removed["reactions"][0]["count"], 1);
    assert_error(
        &bob.api.delete(&format!("{path}/👍")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn filters_and_cursors_page_through_a_conversation() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    for n in 1..=9 {
        let mut body = send_body(&dm, &[&bob], "m", &format!("c{n}"));
        body["message_type"] = json!(if n % 3 == 0 { "image" } else { "text" });
        assert_ok(ann.api.post("/v1/messages", body).await, StatusCode::CREATED);
    }
    let seqs = |page: &Value| -> Vec<u64> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["sequence_number"].as_u64().unwrap())
            .collect()
    };
    let mut pages = Vec::new();
    let mut url = format!("/v1/messages?conversation_id={dm}&limit=4");
    loop {
        let page = assert_ok(bob.api.get(&url).await, StatusCode::OK);
        pages.push(seqs(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["has_more"], true);
                url = format!("/v1/messages?conversation_id={dm}&limit=4&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(pages, [vec![6, 7, 8, 9], vec![2, 3, 4, 5], vec![1]]);

    let images = assert_ok(
        bob.api
            .get(&format!(
                "/v1/messages?conversation_id={dm}&type=image&after_seq=0&limit=2"
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(seqs(&images), [3, 6]);
    let cursor = images["next_cursor"].as_str().unwrap();
    let rest = assert_ok(
        bob.api
            .get(&format!(
                "/v1/messages?conversation_id={dm}&type=image&limit=2&cursor={cursor}"
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!((seqs(&rest), rest["has_more"].clone()), (vec![9], json!(false)));
    let future = assert_ok(
        bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&from=2999-01-01T00:00:00Z"))
            .await,
        StatusCode::OK,
    );
    assert!(future["messages"].as_array().unwrap().is_empty());
    let past = assert_ok(
        bob.api
            .get(&format!(
                "/v1/messages?conversation_id={dm}&to=2999-01-01T00:00:00Z&limit=100"
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(seqs(&past).len(), 9);
    assert_error(
        &bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&cursor=zzz"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    let message = assert_error(
        &bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&type=hologram"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("type: must be one of text, image"), "{message}");
}

#[tokio::test]
async fn edits_and_deletes_reach_the_participants_live() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    let sent = assert_ok(send_text(&ann, &dm, &[&bob], "draft", "c1").await, StatusCode::CREATED);
    let path = format!("/v1/messages/{}", sent["id"].as_str().unwrap());
    bob_ws.expect("message:new").await;
    let edit = json!({ "ciphertexts": [{ "recipient_device_id": bob.device_id, "ciphertext": b64(b"final") }] });
    assert_ok(ann.api.put(&path, edit).await, StatusCode::OK);
    let updated = bob_ws.expect("message:updated").await;
    assert_eq!(
        (updated["message_id"].clone(), content(&updated)),
        (sent["id"].clone(), "final".to_owned())
    );
    assert_ok(ann.api.delete(&path).await, StatusCode::OK);
    let deleted = bob_ws.expect("message:deleted").await;
    assert_eq!(
        (deleted["message_id"].clone(), deleted["sequence_number"].clone()),
        (sent["id"].clone(), json!(1))
    );
}
