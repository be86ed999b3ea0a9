use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};

use crate::support::*;

const SECRET: &str = "a webhook secret of some length";

/// A receiver on 127.0.0.1 that checks each delivery's signature the way a real one must, records the
/// good ones, and fails the first `fail_first` requests to exercise retries.
struct Receiver {
    url: String,
    accepted: Arc<Mutex<Vec<Value>>>,
    forged: Arc<Mutex<usize>>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let forged = Arc::new(Mutex::new(0));
    let seen = Arc::new(Mutex::new(0usize));
    let (good, bad) = (accepted.clone(), forged.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (good, bad, seen) = (good.clone(), bad.clone(), seen.clone());
            async move {
                let signature = headers
                    .get("x-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !protocol::webhooks::verify(SECRET.as_bytes(), &body, signature) {
                    *bad.lock().unwrap() += 1;
                    return AxumStatus::UNAUTHORIZED;
                }
                let mut count = seen.lock().unwrap();
                *count += 1;
                if *count <= fail_first {
                    return AxumStatus::SERVICE_UNAVAILABLE;
                }
                good.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                AxumStatus::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, accepted, forged }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deliveries_are_signed_metadata_only_and_retried() {
    let node = TestNode::start_with(|config| config.webhook_retry_base = Duration::from_millis(50)).await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let hook_receiver = receiver(2).await;
    let hook = ann
        .api
        .post(
            "/v1/webhooks",
            json!({ "url": hook_receiver.url, "events": ["message.created", "user.updated", "conversation.updated"], "secret": SECRET }),
        )
        .await;
    let hook = assert_ok(hook, StatusCode::CREATED);
    assert!(hook.get("secret").is_none(), "the secret is never shown again");
    let group = conversation(&bob, "GROUP", &[&ann]).await;
    let sent = assert_ok(
        send_text(&bob, &group, &[&ann], "secret plaintext marker", "c1").await,
        StatusCode::CREATED,
    );
    let accepted = hook_receiver.accepted.clone();
    wait_for("the retried message.created", || !accepted.lock().unwrap().is_empty()).await;
    let delivery = accepted.lock().unwrap()[0].clone();
    assert_eq!(delivery["event"], "message.created");
    assert_eq!(delivery["data"]["message_id"], sent["id"]);
    let text = delivery.to_string();
    assert!(
        !text.contains("ciphertext") && !text.contains(&b64(b"secret plaintext marker")),
        "metadata only: {text}"
    );

    assert_ok(
        ann.api.put("/v1/users/me", json!({ "status": "busy" })).await,
        StatusCode::OK,
    );
    assert_ok(
        bob.api
            .put(&format!("/v1/conversations/{group}"), json!({ "subject": "renamed" }))
            .await,
        StatusCode::OK,
    );
    wait_for("user.updated and conversation.updated", || {
        accepted.lock().unwrap().len() >= 3
    })
    .await;
    let events: Vec<String> = accepted
        .lock()
        .unwrap()
        .iter()
        .map(|d| d["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        events.contains(&"user.updated".to_owned()) && events.contains(&"conversation.updated".to_owned()),
        "{events:?}"
    );

    let id = hook["id"].as_str().unwrap();
    let outcomes = assert_ok(
        ann.api.get(&format!("/v1/webhooks/{id}/deliveries")).await,
        StatusCode::OK,
    );
    let first = outcomes["deliveries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (first["status"].as_str(), first["attempts"].as_u64()),
        (Some("DELIVERED"), Some(3)),
        "{first}"
    );
    assert_eq!(*hook_receiver.forged.lock().unwrap(), 0);
    assert_error(
        &bob.api.get(&format!("/v1/webhooks/{id}/deliveries")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );

    let forged = reqwest::Client::new()
        .post(&hook_receiver.url)
        .header(
            "x-signature",
            protocol::webhooks::sign(b"not the secret at all!!", b"{}"),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::UNAUTHORIZED,
        "the receiver refuses a forged signature"
    );
    assert_eq!(*hook_receiver.forged.lock().unwrap(), 1);
}

#[tokio::test]
async fn hooks_are_validated_listed_and_removed() {
    let node = TestNode::start_with(|config| config.webhook_retry_base = Duration::from_millis(10)).await;
    let ann = node.user("ann").await;
    let bad_url = ann
        .api
        .post(
            "/v1/webhooks",
            json!({ "url": "ftp://x", "events": ["user.updated"], "secret": SECRET }),
        )
        .await;
    assert_error(&bad_url, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let short = ann
        .api
        .post(
            "/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/x", "events": ["user.updated"], "secret": "short" }),
        )
        .await;
    assert_error(&short, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let unknown = ann
        .api
        .post(
            "/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/x", "events": ["everything"], "secret": SECRET }),
        )
        .await;
    assert_error(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let dead = ann
        .api
        .post(
            "/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/x", "events": ["user.updated"], "secret": SECRET }),
        )
        .await;
    let dead = assert_ok(dead, StatusCode::CREATED);
    assert_eq!(
        assert_ok(ann.api.get("/v1/webhooks").await, StatusCode::OK)["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_ok(ann.api.put("/v1/users/me", json!({ "bio": "x" })).await, StatusCode::OK);
    let id = dead["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let outcomes = assert_ok(
            ann.api.get(&format!("/v1/webhooks/{id}/deliveries")).await,
            StatusCode::OK,
        );
        if outcomes["deliveries"][0]["status"] == "FAILED" {
            assert_eq!(outcomes["deliveries"][0]["attempts"], 5);
            assert!(outcomes["deliveries"][0]["last_error"].is_string());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "an unreachable receiver ends as FAILED"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ok(ann.api.delete(&format!("/v1/webhooks/{id}")).await, StatusCode::OK);
    assert!(
        assert_ok(ann.api.get("/v1/webhooks").await, StatusCode::OK)["webhooks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
