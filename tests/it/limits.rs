use crate::support::*;

async fn limited_node() -> TestNode {
    TestNode::start_with(|config| {
        config.rate_limits.enabled = true;
        config.rate_limits.auth = 3;
        config.rate_limits.messages = 2;
        config.rate_limits.general = 100;
        config.rate_limits.websocket = 2;
    })
    .await
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn authentication_is_limited_per_address_with_headers() {
    let node = limited_node().await;
    let api = node.client();
    let http = reqwest::Client::new();
    let login = || {
        http.post(format!("{}/v1/auth/login", node.base))
            .json(&json!({ "identity": "nobody", "password": "whatever pw", "device_id": Uuid::new_v4() }))
            .send()
    };
    for remaining in (0..3).rev() {
        let response = login().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&response, "x-ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(remaining.to_string()));
        assert!(header(&response, "x-ratelimit-reset").unwrap().parse::<u64>().unwrap() > 1_700_000_000);
    }
    let refused = login().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&refused, "retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["success"].as_bool()),
        (Some("RATE_LIMIT_EXCEEDED"), Some(false))
    );
    assert!(body["retry_after"].as_u64().unwrap() >= 1);
    assert_ok(api.get("/ping").await, StatusCode::OK);
}

#[tokio::test]
async fn message_sends_are_limited_per_user_over_rest_and_websocket() {
    let node = limited_node().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    assert_ok(send_text(&ann, &dm, &[&bob], "1", "c1").await, StatusCode::CREATED);
    assert_ok(send_text(&ann, &dm, &[&bob], "2", "c2").await, StatusCode::CREATED);
    assert_error(
        &send_text(&ann, &dm, &[&bob], "3", "c3").await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMIT_EXCEEDED",
    );
    assert_ok(
        send_text(&bob, &dm, &[&ann], "bob has his own budget", "b1").await,
        StatusCode::CREATED,
    );
    assert_ok(
        ann.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
        StatusCode::OK,
    );

    let mut socket = ann.ws(&node).await;
    socket.sync().await;
    let mut frame = send_body(&dm, &[&bob], "4", "c4");
    frame["type"] = json!("message:send");
    socket.send(frame).await;
    let error = socket.expect("error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_message_id"].as_str()),
        (Some("RATE_LIMIT_EXCEEDED"), Some("c4"))
    );
}

#[tokio::test]
async fn new_websocket_connections_are_limited_per_minute() {
    let node = limited_node().await;
    let ann = node.user("ann").await;
    let first = ann.ws(&node).await;
    first.close().await;
    let second = ann.ws(&node).await;
    second.close().await;
    match Ws::try_connect(&node.ws_url(&format!("?token={}", ann.token))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        _ => panic!("the third connection within a minute must be refused"),
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let node = TestNode::start_with(|config| config.cors_origins = vec!["https://app.example".into()]).await;
    let http = reqwest::Client::new();
    let echoed = http
        .get(format!("{}/ping", node.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&echoed, "x-request-id").as_deref(), Some("abc-123"));
    let generated = http.get(format!("{}/ping", node.base)).send().await.unwrap();
    assert!(Uuid::parse_str(&header(&generated, "x-request-id").unwrap()).is_ok());
    let unlimited = http.get(format!("{}/v1/nowhere", node.base)).send().await.unwrap();
    assert!(
        header(&unlimited, "x-ratelimit-limit").is_none(),
        "limits are off on this node"
    );
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/v1/messages", node.base))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let stranger = http
        .get(format!("{}/ping", node.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(header(&stranger, "access-control-allow-origin").is_none());
}

/// A valid token on a login does not move the attempt off the address's budget: guesses from one
/// address stop at the auth limit, however many accounts' tokens they rotate through.
#[tokio::test]
async fn a_token_does_not_buy_more_login_attempts() {
    let node = TestNode::start_with(|config| {
        config.rate_limits.enabled = true;
        config.rate_limits.auth = 3;
    })
    .await;
    // Registrations are auth requests of the address too: three accounts spend its whole budget.
    let mut tokens = Vec::new();
    for n in 0..3 {
        let (status, body) = node
            .client()
            .post(
                "/v1/auth/register",
                json!({ "email": format!("rotor{n}@example.org"), "username": format!("rotor{n}"), "password": "correct horse battery", "device_id": Uuid::new_v4() }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens.push(body["data"]["access_token"].as_str().unwrap().to_owned());
    }
    for token in &tokens {
        let guess = node
            .client()
            .with_token(token)
            .post(
                "/v1/auth/login",
                json!({ "identity": "rotor0", "password": "a wrong guess", "device_id": Uuid::new_v4() }),
            )
            .await;
        assert_eq!(guess.0, StatusCode::TOO_MANY_REQUESTS, "{}", guess.1);
    }
    // Other requests of those users still count per user, not against the spent address budget.
    let (status, _) = node.client().with_token(&tokens[1]).get("/v1/users/me").await;
    assert_eq!(status, StatusCode::OK);
}
