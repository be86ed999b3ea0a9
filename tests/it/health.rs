use crate::support::*;

#[tokio::test]
async fn ping_and_health_answer_in_the_envelope() {
    let node = TestNode::start().await;
    let api = node.client();
    assert_eq!(assert_ok(api.get("/ping").await, StatusCode::OK)["message"], "pong");
    let health = assert_ok(api.get("/health").await, StatusCode::OK);
    assert_eq!(health["status"], "healthy");
    assert_eq!(unb64(health["node_public_key"].as_str().unwrap()).len(), 32);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let node = TestNode::start().await;
    let api = node.client();
    assert_error(&api.get("/v1/nothing-here").await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_error(
        &api.delete("/ping").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    );
    assert_error(
        &api.get("/v1/auth/register").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_without_harm() {
    let node = TestNode::start().await;
    let api = node.client();
    let raw = |body: &'static str| {
        api.request(reqwest::Method::POST, "/v1/auth/register")
            .header("content-type", "application/json")
            .body(body)
    };
    for body in ["{", "not json", "{\"email\": }", "\u{0}"] {
        assert_error(&api.send(raw(body)).await, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    let message = assert_error(
        &api.send(raw("{}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.contains("missing field"), "{message}");
    let wrong_type = api
        .send(raw(r#"{"email":1,"username":"a","password":"p","device_id":"x"}"#))
        .await;
    let message = assert_error(&wrong_type, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert!(message.starts_with("email:"), "{message}");
    let no_type = api.request(reqwest::Method::POST, "/v1/auth/register").body("{}");
    assert_error(
        &api.send(no_type).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    let huge = "x".repeat(gateway::MAX_BODY_BYTES + 1);
    let too_big = api
        .request(reqwest::Method::POST, "/v1/auth/login")
        .header("content-type", "application/json")
        .body(huge);
    assert_error(
        &api.send(too_big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    assert_ok(api.get("/health").await, StatusCode::OK);
}

#[tokio::test]
async fn malformed_ids_and_queries_name_what_is_wrong() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    assert_error(
        &ann.api.get("/v1/conversations/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    let message = assert_error(
        &ann.api.get("/v1/messages?conversation_id=nope").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("conversation_id"), "{message}");
    let message = assert_error(
        &ann.api.get("/v1/messages").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.contains("conversation_id"), "{message}");
}
