use std::collections::HashSet;

use crate::support::*;

#[tokio::test]
async fn each_device_reads_only_its_own_ciphertext() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let bob_laptop = node.second_device(&bob).await;
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let sent = assert_ok(
        send_text(&ann, &dm, &[&bob, &bob_laptop], "hello", "c1").await,
        StatusCode::CREATED,
    );
    assert_eq!(sent["sequence_number"], 1);
    assert_eq!(sent["sender_id"], ann.id);
    assert_eq!(sent["sender_device_id"], ann.device_id);
    assert!(sent["ciphertext"].is_null(), "the sending device had no copy");

    for device in [&bob, &bob_laptop] {
        let page = assert_ok(
            device.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
            StatusCode::OK,
        );
        let message = &page["messages"][0];
        assert_eq!(message["recipient_device_id"], device.device_id);
        let text = String::from_utf8(unb64(message["ciphertext"].as_str().unwrap())).unwrap();
        assert_eq!(text, format!("hello for {}", device.device_id));
        let one = assert_ok(
            device
                .api
                .get(&format!("/v1/messages/{}", sent["id"].as_str().unwrap()))
                .await,
            StatusCode::OK,
        );
        assert_eq!(one["ciphertext"], message["ciphertext"]);
    }
    let own = assert_ok(
        ann.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    assert!(own["messages"][0]["ciphertext"].is_null());
}

#[tokio::test]
async fn sends_are_checked_field_by_field() {
    let node = TestNode::start().await;
    let (ann, bob, eve) = (node.user("ann").await, node.user("bob").await, node.user("eve").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let to_stranger = send_text(&ann, &dm, &[&eve], "x", "c1").await;
    let message = assert_error(&to_stranger, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert!(message.starts_with("ciphertexts[0].recipient_device_id"), "{message}");
    let twice = send_text(&ann, &dm, &[&bob, &bob], "x", "c2").await;
    assert_error(&twice, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let mut bad_type = send_body(&dm, &[&bob], "x", "c3");
    bad_type["message_type"] = json!("hologram");
    let message = assert_error(
        &ann.api.post("/v1/messages", bad_type).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("message_type"), "{message}");
    let mut not_base64 = send_body(&dm, &[&bob], "x", "c4");
    not_base64["ciphertexts"][0]["ciphertext"] = json!("***");
    let message = assert_error(
        &ann.api.post("/v1/messages", not_base64).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("ciphertexts[0].ciphertext"), "{message}");
    let mut huge = send_body(&dm, &[&bob], "x", "c5");
    huge["ciphertexts"][0]["ciphertext"] = json!(b64(&vec![7u8; 64 * 1024 + 1]));
    assert_error(
        &ann.api.post("/v1/messages", huge).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    let empty_id = send_text(&ann, &dm, &[&bob], "x", "").await;
    let message = assert_error(&empty_id, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(message, "client_message_id: must not be empty");
    let long_id = send_text(&ann, &dm, &[&bob], "x", &"x".repeat(129)).await;
    let message = assert_error(&long_id, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(message, "client_message_id: must be at most 128 characters");
    let outsider = send_text(&eve, &dm, &[&bob], "x", "c7").await;
    assert_error(&outsider, StatusCode::FORBIDDEN, "FORBIDDEN");
    let nowhere = send_text(&ann, &Uuid::new_v4().to_string(), &[&bob], "x", "c8").await;
    assert_error(&nowhere, StatusCode::NOT_FOUND, "NOT_FOUND");
    let page = assert_ok(
        bob.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    assert!(
        page["messages"].as_array().unwrap().is_empty(),
        "nothing of a refused send was stored"
    );
    let sequence = assert_ok(
        ann.api.get(&format!("/v1/conversations/{dm}/sequence")).await,
        StatusCode::OK,
    );
    assert_eq!(sequence["sequence"], 0);

    let mut loose = send_body(&dm, &[&bob], "x", " c6 ");
    loose["message_type"] = json!(" Image ");
    let stored = assert_ok(ann.api.post("/v1/messages", loose).await, StatusCode::CREATED);
    assert_eq!(
        (&stored["message_type"], &stored["client_message_id"]),
        (&json!("image"), &json!("c6")),
        "a type in any case and an id with spaces around are stored in their plain form"
    );
}

#[tokio::test]
async fn resending_a_client_message_id_returns_the_original() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let first = assert_ok(
        send_text(&ann, &dm, &[&bob], "once", "same-id").await,
        StatusCode::CREATED,
    );
    let again = assert_ok(
        send_text(&ann, &dm, &[&bob], "twice", "same-id").await,
        StatusCode::CREATED,
    );
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["sequence_number"], 1);
    let page = assert_ok(
        bob.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    let text = String::from_utf8(unb64(page["messages"][0]["ciphertext"].as_str().unwrap())).unwrap();
    assert!(text.starts_with("once"), "{text}");
    let other_sender = assert_ok(
        send_text(&bob, &dm, &[&ann], "bob's", "same-id").await,
        StatusCode::CREATED,
    );
    assert_eq!(other_sender["sequence_number"], 2, "idempotency keys are per sender");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_get_gap_free_unique_sequence_numbers() {
    let node = TestNode::start().await;
    let users = [
        node.user("ann").await,
        node.user("bob").await,
        node.user("carl").await,
        node.user("dan").await,
    ];
    let refs: Vec<&User> = users.iter().collect();
    let group = conversation(&users[0], "GROUP", &refs[1..]).await;
    let mut tasks = Vec::new();
    for (index, sender) in users.iter().enumerate() {
        for n in 0..15 {
            let sender = sender.clone();
            let others: Vec<User> = users.iter().filter(|u| u.id != sender.id).cloned().collect();
            let group = group.clone();
            tasks.push(tokio::spawn(async move {
                let refs: Vec<&User> = others.iter().collect();
                let sent = send_text(&sender, &group, &refs, "race", &format!("{index}-{n}")).await;
                assert_ok(sent, StatusCode::CREATED)["sequence_number"]
                    .as_u64()
                    .unwrap()
            }));
        }
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=60).collect::<Vec<u64>>());
    let mut listed = Vec::new();
    let mut after = 0;
    loop {
        let page = assert_ok(
            users[1]
                .api
                .get(&format!(
                    "/v1/messages?conversation_id={group}&after_seq={after}&limit=25"
                ))
                .await,
            StatusCode::OK,
        );
        let messages = page["messages"].as_array().unwrap();
        listed.extend(messages.iter().map(|m| m["sequence_number"].as_u64().unwrap()));
        after = *listed.last().unwrap();
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(listed, (1..=60).collect::<Vec<u64>>());
}

#[tokio::test]
async fn listing_pages_both_ways() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    for n in 1..=7 {
        assert_ok(
            send_text(&ann, &dm, &[&bob], "m", &format!("c{n}")).await,
            StatusCode::CREATED,
        );
    }
    let seqs = |page: &Value| -> Vec<u64> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["sequence_number"].as_u64().unwrap())
            .collect()
    };
    let latest = assert_ok(
        bob.api.get(&format!("/v1/messages?conversation_id={dm}&limit=3")).await,
        StatusCode::OK,
    );
    assert_eq!(seqs(&latest), [5, 6, 7]);
    assert_eq!(latest["has_more"], true);
    let before = assert_ok(
        bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&before_seq=5&limit=3"))
            .await,
        StatusCode::OK,
    );
    assert_eq!(seqs(&before), [2, 3, 4]);
    let oldest = assert_ok(
        bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&before_seq=2&limit=3"))
            .await,
        StatusCode::OK,
    );
    assert_eq!((seqs(&oldest), oldest["has_more"].clone()), (vec![1], json!(false)));
    let after = assert_ok(
        bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&after_seq=5"))
            .await,
        StatusCode::OK,
    );
    assert_eq!((seqs(&after), after["has_more"].clone()), (vec![6, 7], json!(false)));
    let window = assert_ok(
        bob.api
            .get(&format!("/v1/messages?conversation_id={dm}&after_seq=2&before_seq=6"))
            .await,
        StatusCode::OK,
    );
    assert_eq!(seqs(&window), [3, 4, 5]);
    let too_many = bob
        .api
        .get(&format!("/v1/messages?conversation_id={dm}&limit=101"))
        .await;
    assert_error(&too_many, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn only_the_sender_edits_and_deletes() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let sent = assert_ok(
        send_text(&ann, &group, &[&bob], "draft", "c1").await,
        StatusCode::CREATED,
    );
    let path = format!("/v1/messages/{}", sent["id"].as_str().unwrap());
    let edit_body = json!({ "ciphertexts": [{ "recipient_device_id": bob.device_id, "ciphertext": b64(b"final") }] });
    assert_error(
        &bob.api.put(&path, edit_body.clone()).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let edited = assert_ok(ann.api.put(&path, edit_body).await, StatusCode::OK);
    assert_eq!(edited["is_edited"], true);
    let seen = assert_ok(bob.api.get(&path).await, StatusCode::OK);
    assert_eq!(unb64(seen["ciphertext"].as_str().unwrap()), b"final");

    assert_error(&bob.api.delete(&path).await, StatusCode::FORBIDDEN, "FORBIDDEN");
    let deleted = assert_ok(ann.api.delete(&path).await, StatusCode::OK);
    assert_eq!(deleted["is_deleted"], true);
    let seen = assert_ok(bob.api.get(&path).await, StatusCode::OK);
    assert_eq!(seen["is_deleted"], true);
    assert!(seen["ciphertext"].is_null(), "a soft delete erases the content");
    let edit_deleted = ann
        .api
        .put(
            &path,
            json!({ "ciphertexts": [{ "recipient_device_id": bob.device_id, "ciphertext": b64(b"x") }] }),
        )
        .await;
    assert_error(&edit_deleted, StatusCode::CONFLICT, "CONFLICT");

    let second = assert_ok(
        send_text(&bob, &group, &[&ann], "oops", "c2").await,
        StatusCode::CREATED,
    );
    let hard = format!("/v1/messages/{}/hard", second["id"].as_str().unwrap());
    assert_ok(ann.api.delete(&hard).await, StatusCode::OK);
    assert_error(
        &bob.api.get(&hard.replace("/hard", "")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let page = assert_ok(
        bob.api.get(&format!("/v1/messages?conversation_id={group}")).await,
        StatusCode::OK,
    );
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn receipts_are_recorded_once_and_only_by_participants() {
    let node = TestNode::start().await;
    let (ann, bob, eve) = (node.user("ann").await, node.user("bob").await, node.user("eve").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let sent = assert_ok(send_text(&ann, &dm, &[&bob], "hi", "c1").await, StatusCode::CREATED);
    let id = sent["id"].as_str().unwrap();
    let delivered = assert_ok(
        bob.api.post_empty(&format!("/v1/messages/{id}/delivered")).await,
        StatusCode::OK,
    );
    assert!(delivered["delivered_at"].is_string());
    assert!(delivered["read_at"].is_null());
    let read = assert_ok(
        bob.api.post_empty(&format!("/v1/messages/{id}/read")).await,
        StatusCode::OK,
    );
    assert_eq!(read["delivered_at"], delivered["delivered_at"]);
    assert!(read["read_at"].is_string());
    let again = assert_ok(
        bob.api.post_empty(&format!("/v1/messages/{id}/read")).await,
        StatusCode::OK,
    );
    assert_eq!(again["read_at"], read["read_at"]);
    assert_error(
        &eve.api.post_empty(&format!("/v1/messages/{id}/read")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let unknown = format!("/v1/messages/{}/read", Uuid::new_v4());
    assert_error(&bob.api.post_empty(&unknown).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    let ids: HashSet<&str> = [id].into_iter().collect();
    assert_eq!(ids.len(), 1);
}
