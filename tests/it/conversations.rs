use crate::support::*;

#[tokio::test]
async fn a_dm_is_created_once_and_found_directly() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let first = ann
        .api
        .post("/v1/conversations", json!({ "type": "DM", "participants": [bob.id] }))
        .await;
    let dm = assert_ok(first, StatusCode::CREATED);
    assert_eq!(dm["type"], "DM");
    assert_eq!(dm["participant_count"], 2);
    let again = bob
        .api
        .post(
            "/v1/conversations",
            json!({ "type": "DM", "participants": [ann.id, bob.id] }),
        )
        .await;
    assert_eq!(assert_ok(again, StatusCode::OK)["id"], dm["id"]);
    let direct = assert_ok(
        ann.api
            .get(&format!(
                "/v1/conversations/direct?user_id_1={}&user_id_2={}",
                ann.id, bob.id
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(direct["id"], dm["id"]);
    let carl = node.user("carl").await;
    let snoop = carl
        .api
        .get(&format!(
            "/v1/conversations/direct?user_id_1={}&user_id_2={}",
            ann.id, bob.id
        ))
        .await;
    assert_error(&snoop, StatusCode::FORBIDDEN, "FORBIDDEN");
    let bad = ann
        .api
        .post(
            "/v1/conversations",
            json!({ "type": "DM", "participants": [bob.id, carl.id] }),
        )
        .await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn groups_list_page_and_search() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    for subject in ["Team chat", "Family", "Team lunch"] {
        let body = json!({ "type": "GROUP", "subject": subject, "description": "d", "participants": [bob.id] });
        let group = assert_ok(ann.api.post("/v1/conversations", body).await, StatusCode::CREATED);
        assert_eq!(group["participant_count"], 2);
        assert_eq!(group["creator_id"], ann.id);
    }
    let page = assert_ok(bob.api.get("/v1/conversations?page=1&limit=2").await, StatusCode::OK);
    assert_eq!(page["total"], 3);
    assert_eq!(page["conversations"].as_array().unwrap().len(), 2);
    let rest = assert_ok(bob.api.get("/v1/conversations?page=2&limit=2").await, StatusCode::OK);
    assert_eq!(rest["conversations"].as_array().unwrap().len(), 1);
    assert_error(
        &bob.api.get("/v1/conversations?limit=101").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    let found = assert_ok(bob.api.get("/v1/conversations/search?query=team").await, StatusCode::OK);
    assert_eq!(found["conversations"].as_array().unwrap().len(), 2);
    let missing_subject = ann
        .api
        .post("/v1/conversations", json!({ "type": "GROUP", "participants": [] }))
        .await;
    let message = assert_error(&missing_subject, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert!(message.starts_with("subject"), "{message}");
    let ghost = ann
        .api
        .post(
            "/v1/conversations",
            json!({ "type": "GROUP", "subject": "x", "participants": [Uuid::new_v4()] }),
        )
        .await;
    assert_error(&ghost, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn the_newest_activity_comes_first_in_the_list() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let older = conversation(&ann, "GROUP", &[&bob]).await;
    let newer = conversation(&ann, "GROUP", &[&bob]).await;
    assert_ok(send_text(&ann, &older, &[&bob], "hi", "c1").await, StatusCode::CREATED);
    let page = assert_ok(bob.api.get("/v1/conversations").await, StatusCode::OK);
    let ids: Vec<&str> = page["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [older.as_str(), newer.as_str()]);
    assert!(page["conversations"][0]["last_message_at"].is_string());
    let sequence = assert_ok(
        bob.api.get(&format!("/v1/conversations/{older}/sequence")).await,
        StatusCode::OK,
    );
    assert_eq!(sequence["sequence"], 1);
}

#[tokio::test]
async fn strangers_cannot_touch_a_conversation() {
    let node = TestNode::start().await;
    let (ann, bob, eve) = (node.user("ann").await, node.user("bob").await, node.user("eve").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let path = format!("/v1/conversations/{group}");
    assert_error(&eve.api.get(&path).await, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_error(
        &eve.api.put(&path, json!({ "subject": "mine" })).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(&eve.api.delete(&path).await, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_error(
        &eve.api.get(&format!("{path}/participants")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let join = eve
        .api
        .post(&format!("{path}/participants"), json!({ "user_id": eve.id }))
        .await;
    assert_error(&join, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_error(
        &eve.api.get(&format!("{path}/sequence")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &eve.api.get(&format!("/v1/messages?conversation_id={group}")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &send_text(&eve, &group, &[&ann], "spam", "e1").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &ann.api.get(&format!("/v1/conversations/{}", Uuid::new_v4())).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn roles_decide_who_changes_what() {
    let node = TestNode::start().await;
    let (owner, admin, member, newcomer) = (
        node.user("owner").await,
        node.user("admin").await,
        node.user("member").await,
        node.user("newcomer").await,
    );
    let group = conversation(&owner, "GROUP", &[&admin, &member]).await;
    let path = format!("/v1/conversations/{group}");
    let promote = owner
        .api
        .put(
            &format!("{path}/participants/{}/role", admin.id),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(assert_ok(promote, StatusCode::OK)["role"], "admin");

    assert_error(
        &member.api.put(&path, json!({ "subject": "x" })).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let renamed = assert_ok(
        admin.api.put(&path, json!({ "subject": "Renamed" })).await,
        StatusCode::OK,
    );
    assert_eq!(renamed["subject"], "Renamed");

    let by_member = member
        .api
        .post(&format!("{path}/participants"), json!({ "user_id": newcomer.id }))
        .await;
    assert_error(&by_member, StatusCode::FORBIDDEN, "FORBIDDEN");
    let as_admin = admin
        .api
        .post(
            &format!("{path}/participants"),
            json!({ "user_id": newcomer.id, "role": "admin" }),
        )
        .await;
    assert_error(&as_admin, StatusCode::FORBIDDEN, "FORBIDDEN");
    let added = admin
        .api
        .post(&format!("{path}/participants"), json!({ "user_id": newcomer.id }))
        .await;
    assert_eq!(assert_ok(added, StatusCode::CREATED)["role"], "member");
    let twice = admin
        .api
        .post(&format!("{path}/participants"), json!({ "user_id": newcomer.id }))
        .await;
    assert_error(&twice, StatusCode::CONFLICT, "CONFLICT");

    let demote_owner = admin
        .api
        .put(
            &format!("{path}/participants/{}/role", owner.id),
            json!({ "role": "member" }),
        )
        .await;
    assert_error(&demote_owner, StatusCode::FORBIDDEN, "FORBIDDEN");
    let admin_removes_admin = admin.api.delete(&format!("{path}/participants/{}", owner.id)).await;
    assert_error(&admin_removes_admin, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_ok(
        admin.api.delete(&format!("{path}/participants/{}", newcomer.id)).await,
        StatusCode::OK,
    );
    assert_error(&newcomer.api.get(&path).await, StatusCode::FORBIDDEN, "FORBIDDEN");

    let last_owner_leaves = owner.api.delete(&format!("{path}/participants/{}", owner.id)).await;
    assert_error(&last_owner_leaves, StatusCode::CONFLICT, "CONFLICT");
    let last_owner_demoted = owner
        .api
        .put(
            &format!("{path}/participants/{}/role", owner.id),
            json!({ "role": "admin" }),
        )
        .await;
    assert_error(&last_owner_demoted, StatusCode::CONFLICT, "CONFLICT");

    assert_ok(
        member.api.delete(&format!("{path}/participants/{}", member.id)).await,
        StatusCode::OK,
    );
    let participants = assert_ok(owner.api.get(&format!("{path}/participants")).await, StatusCode::OK);
    let users: Vec<&str> = participants["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, [owner.id.as_str(), admin.id.as_str()]);
    assert_eq!(participants["participants"][0]["username"], "owner");

    assert_error(&member.api.delete(&path).await, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_ok(owner.api.delete(&path).await, StatusCode::OK);
    assert_error(&owner.api.get(&path).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    let listed = assert_ok(admin.api.get("/v1/conversations").await, StatusCode::OK);
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn a_dm_cannot_change_members_or_details() {
    let node = TestNode::start().await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let path = format!("/v1/conversations/{dm}");
    assert_error(
        &ann.api.put(&path, json!({ "subject": "x" })).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let add = ann
        .api
        .post(&format!("{path}/participants"), json!({ "user_id": carl.id }))
        .await;
    assert_error(&add, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_ok(bob.api.delete(&path).await, StatusCode::OK);
    let recreated = ann
        .api
        .post("/v1/conversations", json!({ "type": "DM", "participants": [bob.id] }))
        .await;
    assert_ne!(assert_ok(recreated, StatusCode::CREATED)["id"], dm.as_str());
}
