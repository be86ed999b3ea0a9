//! `simple-chat.md` walked as its own clients do, against a real node: its paths, bodies and answers,
//! the token in `Authorization` and in `?token=` on `/ws`, its WebSocket frames, its cursor
//! pagination and its `{"error": …}` errors. Its users share conversations with `/v1` users. The
//! socket also carries messaging-app's typing and presence frames (the two documents share it), which
//! a simple-chat client passes over as frames of a type it does not know; so do these tests.

use std::collections::HashSet;

use crate::support::*;

const PASSWORD: &str = "securepassword123";

/// A simple-chat client: the document's own login answer.
struct Chatter {
    id: String,
    access: String,
    refresh: String,
    api: Api,
}

async fn register(node: &TestNode, name: &str) -> Chatter {
    let (status, body) = node
        .client()
        .post(
            "/api/auth/register",
            json!({ "username": name, "email": format!("{name}@example.com"), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "register {name}: {body}");
    assert_eq!(body["user"]["username"], name);
    assert_eq!(body["user"]["email"], format!("{name}@example.com"));
    assert!(body["user"]["created_at"].is_string(), "{body}");
    chatter(node, &body)
}

fn chatter(node: &TestNode, body: &Value) -> Chatter {
    let access = body["access_token"].as_str().unwrap().to_owned();
    Chatter {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        api: node.client().with_token(&access),
        access,
    }
}

fn error_of(result: &(StatusCode, Value), status: StatusCode) -> String {
    let (actual, body) = result;
    assert_eq!(*actual, status, "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "only an error: {body}");
    body["error"].as_str().expect("an error message").to_owned()
}

#[tokio::test]
async fn accounts_log_in_refresh_and_log_out_as_documented() {
    let node = TestNode::start().await;
    let john = register(&node, "johndoe").await;

    let (status, body) = node
        .client()
        .post(
            "/api/auth/login",
            json!({ "username": "johndoe", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], john.id.as_str());
    assert_eq!(body["user"]["email"], "johndoe@example.com");
    let second = chatter(&node, &body);
    assert_ne!(second.access, john.access, "each login is a session of its own");

    let wrong = node
        .client()
        .post(
            "/api/auth/login",
            json!({ "username": "johndoe", "password": "wrong password" }),
        )
        .await;
    error_of(&wrong, StatusCode::UNAUTHORIZED);
    let malformed = node
        .client()
        .post("/api/auth/login", json!({ "username": "johndoe" }))
        .await;
    error_of(&malformed, StatusCode::BAD_REQUEST);
    let taken = node
        .client()
        .post(
            "/api/auth/register",
            json!({ "username": "johndoe", "email": "other@example.com", "password": PASSWORD }),
        )
        .await;
    error_of(&taken, StatusCode::CONFLICT);

    // Refresh gives a working access token; the spent refresh token does not work twice.
    let (status, body) = node
        .client()
        .post("/api/auth/refresh", json!({ "refresh_token": john.refresh }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let (status, _) = node.client().with_token(access).get("/api/conversations").await;
    assert_eq!(status, StatusCode::OK);
    let reused = node
        .client()
        .post("/api/auth/refresh", json!({ "refresh_token": john.refresh }))
        .await;
    error_of(&reused, StatusCode::UNAUTHORIZED);
    let garbage = node
        .client()
        .post("/api/auth/refresh", json!({ "refresh_token": "eyJhbGc..." }))
        .await;
    error_of(&garbage, StatusCode::UNAUTHORIZED);

    let (status, body) = second.api.post_empty("/api/auth/logout").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "message": "Logged out successfully" }));
    let ended = second.api.get("/api/conversations").await;
    error_of(&ended, StatusCode::UNAUTHORIZED);
    let anonymous = node.client().get("/api/conversations").await;
    error_of(&anonymous, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn conversations_messages_and_the_websocket_as_documented() {
    let node = TestNode::start().await;
    let john = register(&node, "johndoe").await;
    let jane = register(&node, "janedoe").await;

    // Create or get: the same conversation from either side.
    let (status, body) = john.api.post("/api/conversations", json!({ "user_id": jane.id })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let conversation = &body["conversation"];
    let id = conversation["id"].as_str().unwrap().to_owned();
    assert_eq!(conversation["participants"], json!([john.id, jane.id]));
    assert!(conversation["created_at"].is_string() && conversation["updated_at"].is_string());
    let (_, again) = jane.api.post("/api/conversations", json!({ "user_id": john.id })).await;
    assert_eq!(again["conversation"]["id"], id.as_str());
    let (status, listed) = jane.api.get("/api/conversations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["conversations"][0]["id"], id.as_str());
    let (status, details) = jane.api.get(&format!("/api/conversations/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{details}");
    assert_eq!(details["conversation"]["participants"], json!([jane.id, john.id]));

    // Jane listens on `/ws?token=`; John sends over REST, then over the socket.
    let url = format!("{}/ws", node.base.replacen("http", "ws", 1));
    let mut jane_ws = Ws::connect(&format!("{url}?token={}", jane.access)).await;
    let mut john_ws = Ws::connect(&format!("{url}?token={}", john.access)).await;
    let (status, sent) = john
        .api
        .post(
            &format!("/api/conversations/{id}/messages"),
            json!({ "content": "Hello!" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let message = &sent["message"];
    assert_eq!(message["content"], "Hello!");
    assert_eq!(message["sender_id"], john.id.as_str());
    assert_eq!(message["conversation_id"], id.as_str());
    let frame = jane_ws.expect("message").await;
    assert_eq!(frame["type"], "message", "{frame}");
    assert_eq!(frame["data"]["id"], message["id"]);
    assert_eq!(frame["data"]["content"], "Hello!");
    assert_eq!(frame["data"]["conversation_id"], id.as_str());
    assert_eq!(frame["data"]["group_id"], Value::Null);

    john_ws
        .send(json!({ "type": "message", "conversation_id": id, "group_id": null, "content": "How are you?" }))
        .await;
    let echoed = john_ws.expect("message").await;
    assert_eq!(echoed["type"], "message", "{echoed}");
    assert_eq!(echoed["data"]["content"], "How are you?");
    let frame = jane_ws.expect("message").await;
    assert_eq!(frame["data"]["id"], echoed["data"]["id"]);
    john_ws.send(json!({ "type": "message", "content": "where to?" })).await;
    let refused = john_ws.expect("error").await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("conversation_id"));
    john_ws.send(json!("not an object")).await;
    john_ws.expect("error").await;

    // A message sent while Jane was away reaches her socket when she comes back. (Away means the node
    // has seen her socket close: a message it writes to the socket before that counts as delivered.)
    jane_ws.close().await;
    loop {
        let presence = john_ws.expect("presence").await;
        if presence["data"]["user_id"] == jane.id.as_str() && presence["data"]["status"] == "offline" {
            break;
        }
    }
    john.api
        .post(
            &format!("/api/conversations/{id}/messages"),
            json!({ "content": "missed you" }),
        )
        .await;
    let mut jane_ws = Ws::connect(&format!("{url}?token={}", jane.access)).await;
    assert_eq!(jane_ws.expect("message").await["data"]["content"], "missed you");

    // Cursor pagination: newest first by page, oldest first within one, until `next_cursor` is null.
    for n in 1..=5 {
        john.api
            .post(
                &format!("/api/conversations/{id}/messages"),
                json!({ "content": format!("m{n}") }),
            )
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        // RFC 3339 in UTC (`…T03:40:00.123456789Z`) needs no escaping in a query string.
        let query = match &cursor {
            Some(cursor) => format!("limit=3&cursor={cursor}"),
            None => "limit=3".to_owned(),
        };
        let (status, page) = jane.api.get(&format!("/api/conversations/{id}/messages?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let texts: Vec<String> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect();
        seen.splice(0..0, texts);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["Hello!", "How are you?", "missed you", "m1", "m2", "m3", "m4", "m5"]
    );

    // Errors in the document's shape.
    let stranger = register(&node, "stranger").await;
    let forbidden = stranger.api.get(&format!("/api/conversations/{id}/messages")).await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&forbidden.0),
        "{forbidden:?}"
    );
    error_of(&forbidden, forbidden.0);
    let missing = john.api.get(&format!("/api/conversations/{}", Uuid::new_v4())).await;
    error_of(&missing, StatusCode::NOT_FOUND);
    let bad = john.api.get("/api/conversations/not-a-uuid").await;
    error_of(&bad, StatusCode::BAD_REQUEST);
    let empty = john
        .api
        .post(&format!("/api/conversations/{id}/messages"), json!({ "content": "" }))
        .await;
    error_of(&empty, StatusCode::BAD_REQUEST);
    match Ws::try_connect(&format!("{url}?token=nope")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401);
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a socket opened with an invalid token"),
    }
}

#[tokio::test]
async fn groups_as_documented_shared_with_v1_users() {
    let node = TestNode::start().await;
    let john = register(&node, "johndoe").await;
    let jane = register(&node, "janedoe").await;
    let ann = node.user("ann").await;

    let (status, body) = john.api.post("/api/groups", json!({ "name": "Team Chat" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let group = &body["group"];
    let id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["name"], "Team Chat");
    assert_eq!(group["created_by"], john.id.as_str());
    assert_eq!(group["members"], json!([john.id]));

    for member in [&jane.id, &ann.id] {
        let (status, body) = john
            .api
            .post(&format!("/api/groups/{id}/members"), json!({ "user_id": member }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "message": "Member added successfully" }));
    }
    let (_, listed) = jane.api.get("/api/groups").await;
    assert_eq!(listed["groups"][0]["id"], id.as_str());
    let members: HashSet<&str> = listed["groups"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        HashSet::from([john.id.as_str(), jane.id.as_str(), ann.id.as_str()])
    );
    let (status, _) = jane.api.get(&format!("/api/groups/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    // A group is not a one-to-one conversation.
    let (status, _) = jane.api.get(&format!("/api/conversations/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let url = format!("{}/ws", node.base.replacen("http", "ws", 1));
    let mut jane_ws = Ws::connect(&format!("{url}?token={}", jane.access)).await;
    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    let (status, sent) = john
        .api
        .post(
            &format!("/api/groups/{id}/messages"),
            json!({ "content": "Hello team!" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["message"]["group_id"], id.as_str());
    let frame = jane_ws.expect("message").await;
    assert_eq!(frame["data"]["group_id"], id.as_str());
    assert_eq!(frame["data"]["conversation_id"], Value::Null);
    // The /v1 user reads it as a message in the clear.
    let event = ann_ws.expect("message:new").await;
    assert_eq!(event["body"], "Hello team!");
    assert_eq!(event["encrypted"], false);
    // Her own message in the clear reaches the dialect's users.
    assert_ok(
        ann.api
            .post(
                "/v1/messages",
                json!({ "conversation_id": id, "client_message_id": "a1", "body": "hi from /v1" }),
            )
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(jane_ws.expect("message").await["data"]["content"], "hi from /v1");
    let (_, page) = jane.api.get(&format!("/api/groups/{id}/messages")).await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Hello team!", "hi from /v1"]);
    assert_eq!(page["next_cursor"], Value::Null);

    // Members are removed by the owner; a former member reads nothing more.
    let (status, body) = john.api.delete(&format!("/api/groups/{id}/members/{}", jane.id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "message": "Member removed successfully" }));
    let gone = jane.api.get(&format!("/api/groups/{id}/messages")).await;
    error_of(&gone, gone.0);
    assert!([StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&gone.0));
    let not_owner = node
        .client()
        .with_token(&ann.token)
        .delete(&format!("/api/groups/{id}/members/{}", john.id))
        .await;
    error_of(&not_owner, StatusCode::FORBIDDEN);
}
