//! The node answers as its OpenAPI document says, where the two once differed (issue 13, defect 4):
//! what the document calls valid is taken, and what it calls invalid is refused.

use crate::support::*;

#[tokio::test]
async fn a_body_is_an_object_and_its_integers_may_be_written_with_a_fraction() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    for path in ["/v1/users/me", "/v1/users/me/settings"] {
        let array = ann.api.put(path, json!([null, null])).await;
        assert_error(&array, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    }
    // JSON Schema, and JSON itself, count 30.0 as an integer.
    let group = conversation(&ann, "GROUP", &[]).await;
    let settings = ann
        .api
        .put(
            &format!("/v1/conversations/{group}/settings"),
            json!({ "message_retention_days": 30.0 }),
        )
        .await;
    assert_eq!(
        assert_ok(settings, StatusCode::OK)["settings"]["message_retention_days"],
        30
    );
    // An optional body left out reads as JSON `null` too.
    let read = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::POST, &format!("/v1/conversations/{group}/read"))
                .header("content-type", "application/json")
                .body("null"),
        )
        .await;
    assert_ok(read, StatusCode::OK);
}

#[tokio::test]
async fn lengths_count_characters_as_sent() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    // At most 64 characters, white space included; blank once trimmed is empty.
    let padded = ann
        .api
        .put(
            "/v1/users/me",
            json!({ "display_name": format!(" {} ", "a".repeat(63)) }),
        )
        .await;
    assert_error(&padded, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    // A key backup's fields are bounded in characters, as the document's `maxLength` counts.
    let wide = "é".repeat(16 * 1024);
    let backup = json!({
        "private_key_by_master_key": wide,
        "private_key_by_recovery_key": "r",
        "public_key": "p",
        "salt": "s",
    });
    assert_ok(ann.api.put("/v1/users/me/key-backup", backup).await, StatusCode::OK);
}

#[tokio::test]
async fn a_file_sent_without_a_name_is_named_file() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let stored = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::POST, "/v1/files")
                .header("content-type", "application/octet-stream")
                .body(b"bytes".to_vec()),
        )
        .await;
    assert_eq!(assert_ok(stored, StatusCode::CREATED)["file_name"], "file");
}

#[tokio::test]
async fn what_names_nobody_is_not_found_and_naming_oneself_conflicts() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let nobody = Uuid::new_v4();
    let keys = ann
        .api
        .get(&format!("/v1/encryption/signed-prekeys?user_id={nobody}"))
        .await;
    assert_error(&keys, StatusCode::NOT_FOUND, "NOT_FOUND");
    let group = ann
        .api
        .post(
            "/v1/conversations",
            json!({ "type": "GROUP", "subject": "s", "participants": [nobody] }),
        )
        .await;
    assert_error(&group, StatusCode::NOT_FOUND, "NOT_FOUND");
    let block = ann
        .api
        .post_empty(&format!("/v1/users/me/contacts/{}/block", ann.id))
        .await;
    assert_error(&block, StatusCode::CONFLICT, "CONFLICT");
}

#[tokio::test]
async fn a_search_for_text_with_an_at_sign_that_is_no_handle_searches_the_text() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let found = ann.api.get("/v1/users/search?query=a%20b%40-c").await;
    assert_eq!(assert_ok(found, StatusCode::OK)["users"], json!([]));
    let long = ann.api.get(&format!("/v1/users/search?query={}", "a".repeat(65))).await;
    assert_error(&long, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_handle_may_have_white_space_before_its_at_sign() {
    let node = TestNode::start_with(|config| config.federation.name = Some("alpha".into())).await;
    let ann = node.user("ann").await;
    let resolved = ann.api.get("/v1/federation/users/ann%20@alpha").await;
    assert_eq!(assert_ok(resolved, StatusCode::OK)["user_id"], ann.id);
}
