use crate::support::*;

pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake but well-typed picture";

pub(crate) fn multipart(field: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "parley-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(user: &User, path: &str, field: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let (content_type, body) = multipart(field, bytes);
    user.api
        .send(
            user.api
                .request(reqwest::Method::POST, path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
}

#[tokio::test]
async fn avatars_are_checked_stored_served_and_replaced() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let me = assert_ok(upload(&ann, "/v1/users/me/avatar", "avatar", PNG).await, StatusCode::OK);
    let url = me["avatar_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/v1/avatars/"), "{url}");
    let served = reqwest::get(format!("{}{url}", node.base)).await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

    let svg = upload(&ann, "/v1/users/me/avatar", "avatar", b"<svg onload=alert(1)>").await;
    assert_error(&svg, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let wrong_field = upload(&ann, "/v1/users/me/avatar", "picture", PNG).await;
    assert_error(&wrong_field, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let huge = [PNG, &vec![0u8; 1024 * 1024]].concat();
    assert_error(
        &upload(&ann, "/v1/users/me/avatar", "avatar", &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );

    let replaced = assert_ok(upload(&ann, "/v1/users/me/avatar", "avatar", PNG).await, StatusCode::OK);
    assert_ne!(replaced["avatar_url"], url.as_str());
    assert_eq!(
        reqwest::get(format!("{}{url}", node.base)).await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "the old picture is gone"
    );
    let traversal = reqwest::get(format!("{}/v1/avatars/..%2F..%2Fnode.key", node.base))
        .await
        .unwrap();
    assert_eq!(traversal.status(), StatusCode::NOT_FOUND);

    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let by_member = upload(&bob, &format!("/v1/conversations/{group}/avatar"), "avatar", PNG).await;
    assert_error(&by_member, StatusCode::FORBIDDEN, "FORBIDDEN");
    let by_owner = assert_ok(
        upload(&ann, &format!("/v1/conversations/{group}/avatar"), "avatar", PNG).await,
        StatusCode::OK,
    );
    assert!(by_owner["avatar_url"].as_str().unwrap().starts_with("/v1/avatars/"));
    let avatars = std::fs::read_dir(node.dir.path().join("avatars")).unwrap().count();
    assert_eq!(
        avatars, 2,
        "one for ann, one for the group; refused uploads left nothing"
    );
}

#[tokio::test]
async fn a_request_that_is_not_a_form_gets_the_envelope() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let not_a_form = ann.api.post("/v1/users/me/avatar", json!({ "avatar": "x" })).await;
    assert_error(&not_a_form, StatusCode::BAD_REQUEST, "BAD_REQUEST");
}
