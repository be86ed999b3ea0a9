use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn only_owners_and_admins_post_in_a_channel() {
    let node = TestNode::start().await;
    let (owner, admin, reader) = (
        node.user("owner").await,
        node.user("admin").await,
        node.user("reader").await,
    );
    let channel = conversation(&owner, "CHANNEL", &[&admin, &reader]).await;
    let path = format!("/v1/conversations/{channel}");
    assert_eq!(assert_ok(owner.api.get(&path).await, StatusCode::OK)["type"], "CHANNEL");
    let promote = owner
        .api
        .put(
            &format!("{path}/participants/{}/role", admin.id),
            json!({ "role": "admin" }),
        )
        .await;
    assert_ok(promote, StatusCode::OK);
    assert_error(
        &send_text(&reader, &channel, &[&owner], "me too", "r1").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_ok(
        send_text(&owner, &channel, &[&admin, &reader], "news", "o1").await,
        StatusCode::CREATED,
    );
    assert_ok(
        send_text(&admin, &channel, &[&owner, &reader], "more news", "a1").await,
        StatusCode::CREATED,
    );
    let page = assert_ok(
        reader.api.get(&format!("/v1/messages?conversation_id={channel}")).await,
        StatusCode::OK,
    );
    assert_eq!(page["messages"].as_array().unwrap().len(), 2, "members read");
}

#[tokio::test]
async fn invite_links_can_be_regenerated_previewed_and_joined() {
    let node = TestNode::start().await;
    let (ann, bob, carl, dan) = (
        node.user("ann").await,
        node.user("bob").await,
        node.user("carl").await,
        node.user("dan").await,
    );
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let path = format!("/v1/conversations/{group}");
    assert_error(
        &bob.api.post_empty(&format!("{path}/invite")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let first = assert_ok(ann.api.post_empty(&format!("{path}/invite")).await, StatusCode::OK);
    let first_link = first["invite_link"].as_str().unwrap().to_owned();
    assert!(first_link.starts_with("parley://invite/"));
    assert_eq!(
        assert_ok(ann.api.get(&path).await, StatusCode::OK)["invite_link"],
        first_link.as_str()
    );
    assert!(
        assert_ok(bob.api.get(&path).await, StatusCode::OK)["invite_link"].is_null(),
        "members do not see it"
    );

    let preview = assert_ok(
        carl.api
            .get(&format!(
                "/v1/conversations/invite?link={}",
                first["invite_code"].as_str().unwrap()
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(
        (preview["id"].as_str(), preview["participant_count"].as_u64()),
        (Some(group.as_str()), Some(2))
    );
    let joined = assert_ok(
        carl.api
            .post("/v1/conversations/join", json!({ "link": first_link }))
            .await,
        StatusCode::OK,
    );
    assert_eq!(
        (joined["role"].as_str(), joined["participant_count"].as_u64()),
        (Some("member"), Some(3))
    );
    let twice = carl
        .api
        .post("/v1/conversations/join", json!({ "link": first_link }))
        .await;
    assert_error(&twice, StatusCode::CONFLICT, "CONFLICT");

    let second = assert_ok(ann.api.post_empty(&format!("{path}/invite")).await, StatusCode::OK);
    assert_ne!(second["invite_link"], first["invite_link"]);
    let stale = dan
        .api
        .post("/v1/conversations/join", json!({ "link": first_link }))
        .await;
    assert_error(&stale, StatusCode::NOT_FOUND, "NOT_FOUND");
    let garbage = dan
        .api
        .post(
            "/v1/conversations/join",
            json!({ "link": "parley://invite/not a code!" }),
        )
        .await;
    assert_error(&garbage, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");

    let closed = ann
        .api
        .put(&format!("{path}/settings"), json!({ "allow_invites": false }))
        .await;
    assert_eq!(assert_ok(closed, StatusCode::OK)["settings"]["allow_invites"], false);
    let revoked = dan
        .api
        .post("/v1/conversations/join", json!({ "link": second["invite_link"] }))
        .await;
    assert_error(&revoked, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_error(
        &ann.api.post_empty(&format!("{path}/invite")).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
}

#[tokio::test]
async fn mute_pin_archive_and_favourite_are_personal_and_filterable() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let first = conversation(&ann, "GROUP", &[&bob]).await;
    let second = conversation(&ann, "GROUP", &[&bob]).await;
    let until = "2999-01-01T00:00:00Z";
    let muted = assert_ok(
        ann.api
            .post(&format!("/v1/conversations/{first}/mute"), json!({ "until": until }))
            .await,
        StatusCode::OK,
    );
    assert_eq!(muted["muted_until"], "2999-01-01T00:00:00Z");
    let past = ann
        .api
        .post(
            &format!("/v1/conversations/{first}/mute"),
            json!({ "until": "2000-01-01T00:00:00Z" }),
        )
        .await;
    assert_error(&past, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let forever = assert_ok(
        ann.api.post_empty(&format!("/v1/conversations/{second}/mute")).await,
        StatusCode::OK,
    );
    assert!(forever["muted_until"].as_str().unwrap().starts_with("9999"));
    assert!(
        assert_ok(
            ann.api.post_empty(&format!("/v1/conversations/{second}/unmute")).await,
            StatusCode::OK
        )["muted_until"]
            .is_null()
    );
    assert!(
        assert_ok(bob.api.get(&format!("/v1/conversations/{first}")).await, StatusCode::OK)["muted_until"].is_null(),
        "personal"
    );

    assert_ok(
        ann.api.post_empty(&format!("/v1/conversations/{first}/pin")).await,
        StatusCode::OK,
    );
    assert_ok(
        ann.api.post_empty(&format!("/v1/conversations/{second}/archive")).await,
        StatusCode::OK,
    );
    assert_ok(
        ann.api
            .post_empty(&format!("/v1/conversations/{second}/favorite"))
            .await,
        StatusCode::OK,
    );
    let ids = |page: &Value| -> Vec<String> {
        page["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_ok(
        send_text(&bob, &second, &[&ann], "newer", "b1").await,
        StatusCode::CREATED,
    );
    let all = assert_ok(ann.api.get("/v1/conversations").await, StatusCode::OK);
    assert_eq!(
        ids(&all),
        [first.clone(), second.clone()],
        "pinned first despite older activity"
    );
    let archived = assert_ok(ann.api.get("/v1/conversations?archived=true").await, StatusCode::OK);
    assert_eq!(ids(&archived), std::slice::from_ref(&second));
    let active = assert_ok(ann.api.get("/v1/conversations?archived=false").await, StatusCode::OK);
    assert_eq!(ids(&active), std::slice::from_ref(&first));
    let favourites = assert_ok(ann.api.get("/v1/conversations?favorite=true").await, StatusCode::OK);
    assert_eq!(ids(&favourites), std::slice::from_ref(&second));
    assert_ok(
        ann.api.delete(&format!("/v1/conversations/{second}/favorite")).await,
        StatusCode::OK,
    );
    assert_ok(
        ann.api
            .post_empty(&format!("/v1/conversations/{second}/unarchive"))
            .await,
        StatusCode::OK,
    );
    assert_ok(
        ann.api.post_empty(&format!("/v1/conversations/{first}/unpin")).await,
        StatusCode::OK,
    );
    let plain = assert_ok(ann.api.get("/v1/conversations").await, StatusCode::OK);
    assert_eq!(ids(&plain), [second, first]);
    let bobs = assert_ok(bob.api.get("/v1/conversations?archived=true").await, StatusCode::OK);
    assert_eq!(bobs["total"], 0);
}

#[tokio::test]
async fn delete_for_me_hides_history_until_something_new_arrives() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    for n in 0..3 {
        assert_ok(
            send_text(&bob, &dm, &[&ann], "old", &format!("o{n}")).await,
            StatusCode::CREATED,
        );
    }
    assert_ok(
        ann.api.delete(&format!("/v1/conversations/{dm}?for_all=false")).await,
        StatusCode::OK,
    );
    assert_eq!(
        assert_ok(ann.api.get("/v1/conversations").await, StatusCode::OK)["total"],
        0
    );
    let mine = assert_ok(
        ann.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    assert!(mine["messages"].as_array().unwrap().is_empty());
    let mut socket = ann.ws(&node).await;
    assert!(socket.sync().await.is_empty(), "cleared messages are not replayed");
    let theirs = assert_ok(
        bob.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    assert_eq!(
        theirs["messages"].as_array().unwrap().len(),
        3,
        "the other side keeps its history"
    );

    assert_ok(send_text(&bob, &dm, &[&ann], "new", "n1").await, StatusCode::CREATED);
    assert_eq!(
        assert_ok(ann.api.get("/v1/conversations").await, StatusCode::OK)["total"],
        1
    );
    let mine = assert_ok(
        ann.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    let seqs: Vec<u64> = mine["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [4]);
    assert_error(
        &bob.api
            .delete(&format!("/v1/conversations/{}?for_all=false", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn reading_up_to_a_message_marks_every_earlier_one() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let sent = assert_ok(
            send_text(&ann, &dm, &[&bob], "m", &format!("c{n}")).await,
            StatusCode::CREATED,
        );
        ids.push(sent["id"].as_str().unwrap().to_owned());
    }
    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    let read = bob
        .api
        .post(&format!("/v1/conversations/{dm}/read"), json!({ "message_id": ids[2] }))
        .await;
    let read = assert_ok(read, StatusCode::OK);
    assert_eq!(
        (read["read_through"].as_u64(), read["marked"].as_u64()),
        (Some(3), Some(3))
    );
    let event = ann_ws.expect("message:read").await;
    assert_eq!(
        event["message_id"],
        ids[2].as_str(),
        "one event naming the newest message read"
    );
    for (n, id) in ids.iter().enumerate() {
        let receipt = assert_ok(
            bob.api.post_empty(&format!("/v1/messages/{id}/delivered")).await,
            StatusCode::OK,
        );
        assert_eq!(receipt["read_at"].is_string(), n <= 2, "message {n}");
    }
    let rest = assert_ok(
        bob.api.post_empty(&format!("/v1/conversations/{dm}/read")).await,
        StatusCode::OK,
    );
    assert_eq!(
        (rest["read_through"].as_u64(), rest["marked"].as_u64()),
        (Some(5), Some(2))
    );
    let other = conversation(&ann, "GROUP", &[&bob]).await;
    let wrong = bob
        .api
        .post(
            &format!("/v1/conversations/{other}/read"),
            json!({ "message_id": ids[0] }),
        )
        .await;
    assert_error(&wrong, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn messages_past_their_retention_disappear() {
    let node = TestNode::start_with(|config| config.maintenance_interval = Duration::from_millis(100)).await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let body = json!({ "type": "GROUP", "subject": "ephemeral", "participants": [bob.id],
                       "settings": { "message_retention_seconds": 1 } });
    let group = assert_ok(ann.api.post("/v1/conversations", body).await, StatusCode::CREATED);
    assert_eq!(group["settings"]["message_retention_seconds"], 1);
    let group = group["id"].as_str().unwrap().to_owned();
    let keep = conversation(&ann, "GROUP", &[&bob]).await;
    assert_ok(
        send_text(&ann, &group, &[&bob], "vanishes", "v1").await,
        StatusCode::CREATED,
    );
    assert_ok(
        send_text(&ann, &keep, &[&bob], "stays", "k1").await,
        StatusCode::CREATED,
    );
    let count = |page: Value| page["messages"].as_array().unwrap().len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = assert_ok(
            bob.api.get(&format!("/v1/messages?conversation_id={group}")).await,
            StatusCode::OK,
        );
        if count(page) == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the message outlived its retention"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = assert_ok(
        bob.api.get(&format!("/v1/messages?conversation_id={keep}")).await,
        StatusCode::OK,
    );
    assert_eq!(count(kept), 1, "conversations without retention keep everything");
    let too_long = ann
        .api
        .put(
            &format!("/v1/conversations/{keep}/settings"),
            json!({ "message_retention_days": 5000 }),
        )
        .await;
    assert_error(&too_long, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let by_member = bob
        .api
        .put(
            &format!("/v1/conversations/{keep}/settings"),
            json!({ "is_private": true }),
        )
        .await;
    assert_error(&by_member, StatusCode::FORBIDDEN, "FORBIDDEN");
}
