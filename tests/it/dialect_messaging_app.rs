//! `messaging-app.md` walked as its own clients do, against a real node: registration at
//! `POST /api/users`, login by email, refresh, profiles, messages with their cursor, filters and
//! `X-Pagination-*` headers, groups, webhooks, the WebSocket's message, typing and presence events,
//! and errors as `{"error": {"code", "message", "details"}}`.

use std::time::Duration;

use crate::support::*;

const PASSWORD: &str = "secure_password";

struct Member {
    id: String,
    access: String,
    refresh: String,
    api: Api,
}

async fn register_and_login(node: &TestNode, name: &str) -> Member {
    let email = format!("{name}@example.com");
    let (status, body) = node
        .client()
        .post(
            "/api/users",
            json!({ "email": email, "password": PASSWORD, "username": name, "display_name": format!("{name} Display") }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], email.as_str());
    assert_eq!(body["username"], name);
    assert_eq!(body["display_name"], format!("{name} Display"));
    assert!(body["created_at"].is_string());
    let id = body["id"].as_str().unwrap().to_owned();

    let (status, body) = node
        .client()
        .post("/api/auth/login", json!({ "email": email, "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let access = body["access_token"].as_str().unwrap().to_owned();
    Member {
        id,
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        api: node.client().with_token(&access),
        access,
    }
}

/// Asserts messaging-app's error shape and returns its `code`, `message` and `details`.
#[track_caller]
fn coded(result: &(StatusCode, Value), status: StatusCode, code: &str) -> Value {
    let (actual, body) = result;
    assert_eq!(*actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_object(), "{body}");
    body["error"].clone()
}

#[tokio::test]
async fn accounts_and_profiles_as_documented() {
    let node = TestNode::start().await;
    let user = register_and_login(&node, "username").await;

    let taken = node
        .client()
        .post(
            "/api/users",
            json!({ "email": "username@example.com", "password": PASSWORD, "username": "other" }),
        )
        .await;
    coded(&taken, StatusCode::CONFLICT, "conflict");
    let invalid = node
        .client()
        .post(
            "/api/users",
            json!({ "email": "not an email", "password": PASSWORD, "username": "third" }),
        )
        .await;
    let error = coded(&invalid, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
    assert_eq!(error["details"]["field"], "email", "{error}");
    let wrong = node
        .client()
        .post(
            "/api/auth/login",
            json!({ "email": "username@example.com", "password": "nope nope" }),
        )
        .await;
    let error = coded(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(error["details"]["token_expired"], false);

    // Refresh: the new pair works, the spent token is refused in this document's shape.
    let (status, body) = node
        .client()
        .post("/api/auth/refresh", json!({ "refresh_token": user.refresh }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap();
    assert!(body["refresh_token"].is_string());
    let (status, _) = node
        .client()
        .with_token(access)
        .get(&format!("/api/users/{}", user.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let reused = node
        .client()
        .post("/api/auth/refresh", json!({ "refresh_token": user.refresh }))
        .await;
    coded(&reused, StatusCode::UNAUTHORIZED, "unauthorized");
    // Reuse of a spent token revokes the session (a stolen copy is caught), so log in again.
    let user = register_login_again(&node, "username").await;

    let (status, profile) = user.api.get(&format!("/api/users/{}", user.id)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["username"], "username");
    assert_eq!(profile["display_name"], "username Display");
    assert!(["online", "offline"].contains(&profile["status"].as_str().unwrap()));
    assert!(profile["profile"].is_object());

    let (status, updated) = user
        .api
        .send(
            user.api
                .request(reqwest::Method::PATCH, &format!("/api/users/{}", user.id))
                .json(&json!({ "display_name": "New Display Name", "bio": "Updated bio", "location": "New City, Country" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["display_name"], "New Display Name");
    assert_eq!(updated["profile"]["bio"], "Updated bio");
    assert_eq!(updated["profile"]["location"], "New City, Country");

    let other = register_and_login(&node, "other2").await;
    let foreign = user
        .api
        .send(
            user.api
                .request(reqwest::Method::PATCH, &format!("/api/users/{}", other.id))
                .json(&json!({ "bio": "mine now" })),
        )
        .await;
    coded(&foreign, StatusCode::FORBIDDEN, "forbidden");
    let missing = user.api.get(&format!("/api/users/{}", Uuid::new_v4())).await;
    coded(&missing, StatusCode::NOT_FOUND, "not_found");
    let anonymous = node.client().get(&format!("/api/users/{}", user.id)).await;
    coded(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");

    // Webhooks as configured in the document; its example secret is too short to be safe.
    let short = user
        .api
        .post(
            "/api/webhooks",
            json!({ "url": "https://your-server.com/webhook", "events": ["message.created", "user.updated"], "secret": "webhook_secret" }),
        )
        .await;
    let error = coded(&short, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
    assert_eq!(error["details"]["field"], "secret", "{error}");
    let (status, hook) = user
        .api
        .post(
            "/api/webhooks",
            json!({ "url": "https://your-server.com/webhook", "events": ["message.created", "user.updated"], "secret": "webhook_secret_long_enough" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["events"], json!(["message.created", "user.updated"]));
    assert!(hook.get("secret").is_none(), "the secret is never shown again");
}

async fn register_login_again(node: &TestNode, name: &str) -> Member {
    let (status, body) = node
        .client()
        .post(
            "/api/auth/login",
            json!({ "email": format!("{name}@example.com"), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    Member {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        api: node.client().with_token(&access),
        access,
    }
}

#[tokio::test]
async fn messages_pages_filters_and_the_websocket_as_documented() {
    let node = TestNode::start().await;
    let ann = register_and_login(&node, "ann").await;
    let bob = register_and_login(&node, "bob").await;
    let url = format!("{}/ws", node.base.replacen("http", "ws", 1));
    let mut ann_ws = Ws::connect(&format!("{url}?token={}", ann.access)).await;

    let (status, sent) = ann
        .api
        .post(
            "/api/messages",
            json!({ "receiver_id": bob.id, "content": "Hello, world!", "type": "text", "metadata": { "reply_to": null, "mentions": [bob.id] } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["sender_id"], ann.id.as_str());
    assert_eq!(sent["receiver_id"], bob.id.as_str());
    assert_eq!(sent["content"], "Hello, world!");
    assert_eq!(sent["type"], "text");
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["metadata"]["mentions"], json!([bob.id]));
    let conversation = sent["conversation_id"].as_str().unwrap().to_owned();

    // Bob comes online: Ann sees his presence; his socket carries the message he missed.
    let mut bob_ws = Ws::connect(&format!("{url}?token={}", bob.access)).await;
    let frame = bob_ws.next().await;
    assert_eq!(frame["type"], "message", "{frame}");
    assert_eq!(frame["data"]["id"], sent["id"]);
    assert_eq!(frame["data"]["content"], "Hello, world!");
    assert_eq!(frame["data"]["type"], "text");
    assert_eq!(frame["data"]["sender_id"], ann.id.as_str());
    let presence = ann_ws.expect("presence").await;
    assert_eq!(presence["data"]["user_id"], bob.id.as_str());
    assert_eq!(presence["data"]["status"], "online");

    // Typing, as messaging-app writes its events.
    bob_ws
        .send(json!({ "type": "typing", "data": { "conversation_id": conversation, "is_typing": true } }))
        .await;
    let typing = ann_ws.expect("typing").await;
    assert_eq!(
        typing["data"],
        json!({ "user_id": bob.id, "conversation_id": conversation, "is_typing": true })
    );

    // A reply, then an image; Bob reads the first message.
    let (status, reply) = bob
        .api
        .post(
            "/api/messages",
            json!({ "receiver_id": ann.id, "content": "hi ann", "metadata": { "reply_to": sent["id"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["conversation_id"], conversation.as_str());
    assert_eq!(reply["metadata"]["reply_to"], sent["id"]);
    for n in 1..=3 {
        ann.api
            .post(
                "/api/messages",
                json!({ "receiver_id": bob.id, "content": format!("picture {n}"), "type": "image" }),
            )
            .await;
    }
    let first = sent["id"].as_str().unwrap();
    bob.api.post(&format!("/v1/messages/{first}/read"), json!({})).await;

    // Pages of 2, newest first by page, with the X-Pagination headers.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/messages?conversation_id={conversation}&limit=2",
            node.base
        ))
        .bearer_auth(&ann.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("x-pagination-total"), "5");
    assert_eq!(header("x-pagination-pages"), "3");
    assert_eq!(header("x-pagination-current-page"), "1");
    assert_eq!(header("x-pagination-per-page"), "2");
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["has_more"], true);
    let texts = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(&page), ["picture 2", "picture 3"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, older) = ann
        .api
        .get(&format!(
            "/api/messages?conversation_id={conversation}&limit=2&before={cursor}"
        ))
        .await;
    assert_eq!(texts(&older), ["hi ann", "picture 1"]);
    let (_, oldest) = ann
        .api
        .get(&format!(
            "/api/messages?conversation_id={conversation}&limit=2&before={}",
            older["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(texts(&oldest), ["Hello, world!"]);
    assert_eq!(oldest["has_more"], false);
    assert_eq!(oldest["next_cursor"], Value::Null);
    let (_, newer) = ann
        .api
        .get(&format!(
            "/api/messages?conversation_id={conversation}&limit=2&after={first}"
        ))
        .await;
    assert_eq!(texts(&newer), ["hi ann", "picture 1"]);

    // Filters: status, type and a date range.
    let (_, read) = ann
        .api
        .get(&format!("/api/messages?conversation_id={conversation}&status=read"))
        .await;
    assert_eq!(texts(&read), ["Hello, world!"]);
    assert_eq!(read["messages"][0]["status"], "read");
    let (_, images) = ann
        .api
        .get(&format!("/api/messages?conversation_id={conversation}&type=image"))
        .await;
    assert_eq!(texts(&images), ["picture 1", "picture 2", "picture 3"]);
    let today = chrono::Utc::now().date_naive();
    let (_, dated) = ann
        .api
        .get(&format!(
            "/api/messages?conversation_id={conversation}&from={today}&to={today}"
        ))
        .await;
    assert_eq!(dated["messages"].as_array().unwrap().len(), 5);
    let (_, past) = ann
        .api
        .get(&format!(
            "/api/messages?conversation_id={conversation}&from=2024-03-01&to=2024-03-20"
        ))
        .await;
    assert_eq!(past["messages"], json!([]));

    let unnamed = ann.api.get("/api/messages?limit=5").await;
    let error = coded(&unnamed, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");
    assert_eq!(error["details"]["field"], "conversation_id");
    let stranger = register_and_login(&node, "stranger").await;
    let foreign = stranger
        .api
        .get(&format!("/api/messages?conversation_id={conversation}"))
        .await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&foreign.0),
        "{foreign:?}"
    );
    assert!(foreign.1["error"]["code"].is_string(), "{foreign:?}");
    let neither = ann.api.post("/api/messages", json!({ "content": "to whom?" })).await;
    coded(&neither, StatusCode::UNPROCESSABLE_ENTITY, "validation_error");

    // Bob goes away: Ann sees him offline with a last_seen.
    bob_ws.close().await;
    let presence = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame = ann_ws.expect("presence").await;
            if frame["data"]["status"] == "offline" {
                return frame;
            }
        }
    })
    .await
    .expect("an offline presence");
    assert!(presence["data"]["last_seen"].is_string());
}

#[tokio::test]
async fn groups_as_documented() {
    let node = TestNode::start().await;
    let owner = register_and_login(&node, "owner").await;
    let first = register_and_login(&node, "first").await;
    let second = register_and_login(&node, "second").await;

    let (status, group) = owner
        .api
        .post(
            "/api/groups",
            json!({
                "name": "Group Name",
                "description": "Group description",
                "members": [first.id, second.id],
                "settings": { "is_private": false, "allow_invites": true, "message_retention_days": 30 },
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["name"], "Group Name");
    assert_eq!(group["description"], "Group description");
    assert_eq!(group["owner_id"], owner.id.as_str());
    assert_eq!(group["settings"]["message_retention_days"], 30);
    assert_eq!(group["settings"]["allow_invites"], true);
    let members = group["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    let first_member = members.iter().find(|m| m["user_id"] == first.id.as_str()).unwrap();
    assert_eq!(first_member["role"], "member");
    assert!(first_member["joined_at"].is_string());

    // messaging-app has no group send of its own: `conversation_id` names the group.
    let id = group["id"].as_str().unwrap();
    let (status, sent) = first
        .api
        .post(
            "/api/messages",
            json!({ "conversation_id": id, "content": "hello group" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (_, page) = second.api.get(&format!("/api/messages?conversation_id={id}")).await;
    assert_eq!(page["messages"][0]["content"], "hello group");
    assert_eq!(page["messages"][0]["status"], "delivered");

    // A group body in messaging-app's form gets its error shape.
    let unknown = owner
        .api
        .post(
            "/api/groups",
            json!({ "name": "x", "members": [Uuid::new_v4()], "description": "d" }),
        )
        .await;
    assert!(unknown.1["error"]["code"].is_string(), "{unknown:?}");
}
