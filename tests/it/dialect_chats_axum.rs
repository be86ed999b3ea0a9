//! `chats-axum.md` walked as its own clients do, against a real node: `/auth` with the key backup and
//! sessions, `/users`, `/chats` with members, roles, favourites, read and delivered marks, the
//! WebSocket with the token in the `Authorization` header and its snake_case events, and errors with
//! the document's statuses.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

const PASSWORD: &str = "correct horse battery";

struct Person {
    id: String,
    access: String,
    refresh: String,
    api: Api,
}

fn keys(name: &str) -> Value {
    json!({ "pkebymk": format!("{name}-by-master"), "pkebyrk": format!("{name}-by-recovery"), "pubk": format!("{name}-public"), "salt": format!("{name}-salt") })
}

async fn register(node: &TestNode, name: &str) -> Person {
    let mut body = keys(name);
    body["login"] = json!(format!("{name}@example.org"));
    body["username"] = json!(name);
    body["nickname"] = json!(format!("{name} nick"));
    body["password"] = json!(PASSWORD);
    let (status, answer) = node.client().post("/auth/register", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["user"]["login"], format!("{name}@example.org"));
    assert_eq!(answer["user"]["nickname"], format!("{name} nick"));
    assert_eq!(answer["keys"], keys(name));
    person(node, &answer)
}

fn person(node: &TestNode, answer: &Value) -> Person {
    let access = answer["access_token"].as_str().unwrap().to_owned();
    Person {
        id: answer["user"]["id"].as_str().unwrap().to_owned(),
        refresh: answer["refresh_token"].as_str().unwrap().to_owned(),
        api: node.client().with_token(&access),
        access,
    }
}

fn error_of(result: &(StatusCode, Value), status: StatusCode) -> String {
    assert_eq!(result.0, status, "{}", result.1);
    result.1["error"].as_str().expect("an error message").to_owned()
}

/// A chats-axum socket: the token in the Authorization header.
struct Socket {
    inner: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Socket {
    async fn open(node: &TestNode, person: &Person) -> Self {
        let mut request = format!("{}/ws", node.base.replacen("http", "ws", 1))
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {}", person.access).parse().unwrap());
        let (inner, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Self { inner }
    }

    async fn send(&mut self, frame: Value) {
        self.inner
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    /// The next frame of the given type (others are skipped), within 10 s.
    async fn expect(&mut self, kind: &str) -> Value {
        let wait = std::time::Duration::from_secs(10);
        loop {
            let frame = tokio::time::timeout(wait, self.inner.next())
                .await
                .unwrap_or_else(|_| panic!("a {kind} frame within 10 s"))
                .expect("the socket is open")
                .unwrap();
            if let WsMessage::Text(text) = frame {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == kind {
                    return frame;
                }
            }
        }
    }
}

#[tokio::test]
async fn accounts_sessions_and_the_key_backup_as_documented() {
    let node = TestNode::start().await;
    let ann = register(&node, "ann").await;

    // Login returns the key backup to its owner, on a session of its own.
    let (status, answer) = node
        .client()
        .post(
            "/auth/login",
            json!({ "login": "ann@example.org", "password": PASSWORD, "remember_me": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["keys"], keys("ann"));
    let laptop = person(&node, &answer);
    let wrong = node
        .client()
        .post(
            "/auth/login",
            json!({ "login": "ann@example.org", "password": "not it at all" }),
        )
        .await;
    error_of(&wrong, StatusCode::UNAUTHORIZED);
    let taken = node
        .client()
        .post(
            "/auth/register",
            json!({ "login": "ann@example.org", "username": "ann2", "password": PASSWORD, "pkebymk": "a", "pkebyrk": "b", "pubk": "c", "salt": "d" }),
        )
        .await;
    error_of(&taken, StatusCode::CONFLICT);
    let missing_keys = node
        .client()
        .post(
            "/auth/register",
            json!({ "login": "x@example.org", "username": "x", "password": PASSWORD }),
        )
        .await;
    error_of(&missing_keys, StatusCode::BAD_REQUEST);

    let (status, sessions) = ann.api.get("/auth/sessions").await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert_eq!(
        sessions
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .count(),
        1
    );

    // Refresh rotates; DELETE /auth/sessions ends the others; the laptop is then out.
    let (status, pair) = laptop
        .api
        .post("/auth/refresh", json!({ "refresh_token": laptop.refresh }))
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_ne!(pair["refresh_token"], laptop.refresh.as_str());
    let (status, _) = ann.api.delete("/auth/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = node
        .client()
        .with_token(pair["access_token"].as_str().unwrap())
        .get("/users/me")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, me) = ann.api.get("/users/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "ann");
    let (status, renamed) = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::PATCH, "/users/nickname")
                .json(&json!({ "nickname": "Annie" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["nickname"], "Annie");
    let bob = register(&node, "bob").await;
    let (status, found) = bob.api.get("/users/search?q=ann&limit=5").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found[0]["id"], ann.id.as_str());
    assert_eq!(found[0]["nickname"], "Annie");

    // Deleting the account ends it, key backup included.
    let (status, _) = bob.api.delete("/users/me").await;
    assert_eq!(status, StatusCode::OK);
    let gone = node
        .client()
        .post(
            "/auth/login",
            json!({ "login": "bob@example.org", "password": PASSWORD }),
        )
        .await;
    error_of(&gone, StatusCode::UNAUTHORIZED);
    let (status, _) = bob.api.get("/users/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let sessions_of_other = ann.api.delete(&format!("/auth/sessions/{}", Uuid::new_v4())).await;
    error_of(&sessions_of_other, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn chats_members_and_the_websocket_as_documented() {
    let node = TestNode::start().await;
    let ann = register(&node, "ann").await;
    let bob = register(&node, "bob").await;
    let cat = register(&node, "cat").await;

    let (status, group) = ann
        .api
        .post(
            "/chats",
            json!({ "kind": "group", "title": "Team", "user_ids": [bob.id] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["kind"], "group");
    assert_eq!(group["title"], "Team");
    assert_eq!(group["members_count"], 2);
    let id = group["id"].as_str().unwrap().to_owned();
    let (status, private) = ann
        .api
        .post("/chats", json!({ "kind": "private", "user_ids": [cat.id] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{private}");
    assert_eq!(private["kind"], "private");

    let mut bob_ws = Socket::open(&node, &bob).await;
    let mut ann_ws = Socket::open(&node, &ann).await;
    ann_ws.send(json!({ "type": "init", "request_id": 1 })).await;
    let ok = ann_ws.expect("ok").await;
    assert_eq!(ok["request_id"], 1);
    assert_eq!(ok["data"]["user_id"], ann.id.as_str());
    ann_ws.send(json!({ "type": "join_chat", "chat_id": id })).await;
    ann_ws.expect("ok").await;

    // send_message in the clear: the sender gets `ok` with the message, the member `message_new`.
    ann_ws
        .send(json!({ "type": "send_message", "request_id": "s1", "data": { "chat_id": id, "payload": "hello team", "client_message_id": "c-1" } }))
        .await;
    let sent = ann_ws.expect("ok").await;
    assert_eq!(sent["request_id"], "s1");
    assert_eq!(sent["data"]["payload"], "hello team");
    assert_eq!(sent["data"]["encrypted"], false);
    let message_id = sent["data"]["id"].as_str().unwrap().to_owned();
    let new = bob_ws.expect("message_new").await;
    assert_eq!(new["data"]["id"], message_id.as_str());
    assert_eq!(new["data"]["chat_id"], id.as_str());
    assert_eq!(new["data"]["payload"], "hello team");

    // Edit, typing, forward, delete.
    ann_ws
        .send(json!({ "type": "edit_message", "message_id": message_id, "payload": "hello, team" }))
        .await;
    assert_eq!(ann_ws.expect("ok").await["data"]["edited"], true);
    assert_eq!(bob_ws.expect("message_updated").await["data"]["payload"], "hello, team");
    bob_ws
        .send(json!({ "event": "typing", "data": { "chat_id": id, "is_typing": true } }))
        .await;
    bob_ws.expect("ok").await;
    let typing = ann_ws.expect("typing").await;
    assert_eq!(typing["data"]["user_id"], bob.id.as_str());
    bob_ws
        .send(json!({ "type": "forward_message", "message_id": message_id, "chat_id": id }))
        .await;
    let forwarded = bob_ws.expect("ok").await;
    assert_eq!(forwarded["data"]["forwarded_from"], message_id.as_str());
    assert_eq!(forwarded["data"]["payload"], "hello, team");
    ann_ws
        .send(json!({ "type": "delete_message", "message_id": message_id }))
        .await;
    ann_ws.expect("ok").await;
    let deleted = bob_ws.expect("message_deleted").await;
    assert_eq!(deleted["data"]["message_id"], message_id.as_str());
    bob_ws.send(json!({ "type": "dance" })).await;
    assert!(bob_ws.expect("error").await["data"]["message"].is_string());
    cat_cannot_join(&node, &cat, &id).await;

    // History with before_id / after_id; read and delivered marks.
    for n in 1..=3 {
        ann_ws
            .send(json!({ "type": "send_message", "chat_id": id, "payload": format!("m{n}") }))
            .await;
        ann_ws.expect("ok").await;
    }
    let (status, page) = bob.api.get(&format!("/chats/{id}/messages?limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["has_more"], true);
    let payloads = |page: &Value| -> Vec<Value> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["payload"].clone())
            .collect()
    };
    assert_eq!(payloads(&page), [json!("m2"), json!("m3")]);
    let oldest_here = page["messages"][0]["id"].as_str().unwrap();
    let (_, older) = bob
        .api
        .get(&format!("/chats/{id}/messages?limit=10&before_id={oldest_here}"))
        .await;
    // The deleted message keeps its slot with no content.
    assert_eq!(payloads(&older), [Value::Null, json!("hello, team"), json!("m1")]);
    assert_eq!(older["messages"][0]["deleted"], true);
    let (_, newer) = bob
        .api
        .get(&format!("/chats/{id}/messages?after_id={oldest_here}"))
        .await;
    assert_eq!(payloads(&newer), [json!("m3")]);
    let (status, _) = bob.api.post(&format!("/chats/{id}/delivered"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = bob.api.post_empty(&format!("/chats/{id}/read")).await;
    assert_eq!(status, StatusCode::OK);
    // Marked delivered: a new socket of Bob's replays nothing.
    let mut again = Socket::open(&node, &bob).await;
    again.send(json!({ "type": "init" })).await;
    let first = again.expect("ok").await;
    assert_eq!(first["data"]["user_id"], bob.id.as_str());

    // Members, roles, favourites, renaming, deleting.
    let (status, added) = ann
        .api
        .post(
            &format!("/chats/{id}/members"),
            json!({ "user_id": cat.id, "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["role"], "admin");
    let joined = bob_ws.expect("member_added").await;
    assert_eq!(joined["data"]["user_id"], cat.id.as_str());
    assert_eq!(joined["data"]["role"], "admin");
    assert_eq!(joined["data"]["by"], ann.id.as_str());
    let (_, members) = cat.api.get(&format!("/chats/{id}/members")).await;
    assert_eq!(members.as_array().unwrap().len(), 3);
    let (status, demoted) = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::PATCH, &format!("/chats/{id}/members/{}", cat.id))
                .json(&json!({ "role": "member" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{demoted}");
    assert_eq!(demoted["role"], "member");
    assert_eq!(bob_ws.expect("member_role_changed").await["data"]["role"], "member");
    let refused = bob
        .api
        .send(
            bob.api
                .request(reqwest::Method::PATCH, &format!("/chats/{id}/members/{}", cat.id))
                .json(&json!({ "role": "owner" })),
        )
        .await;
    error_of(&refused, StatusCode::FORBIDDEN);
    let (status, favorite) = bob.api.post_empty(&format!("/chats/{id}/favorite")).await;
    assert_eq!(status, StatusCode::OK, "{favorite}");
    assert_eq!(favorite["favorite"], true);
    let (_, listed) = bob.api.get("/chats").await;
    assert_eq!(listed[0]["favorite"], true);
    let (_, unfavorite) = bob.api.delete(&format!("/chats/{id}/favorite")).await;
    assert_eq!(unfavorite["favorite"], false);
    let (status, renamed) = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::PATCH, &format!("/chats/{id}"))
                .json(&json!({ "title": "Team 2" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["title"], "Team 2");
    let (status, _) = ann.api.delete(&format!("/chats/{id}/members/{}", cat.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bob_ws.expect("member_removed").await["data"]["user_id"],
        cat.id.as_str()
    );
    let not_member = cat.api.get(&format!("/chats/{id}/messages")).await;
    assert!([StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&not_member.0));
    let refused = bob.api.delete(&format!("/chats/{id}?for_all=true")).await;
    error_of(&refused, StatusCode::FORBIDDEN);
    let (status, _) = bob.api.delete(&format!("/chats/{id}?for_all=false")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ann.api.delete(&format!("/chats/{id}?for_all=true")).await;
    assert_eq!(status, StatusCode::OK);
    let gone = ann.api.get(&format!("/chats/{id}/members")).await;
    error_of(&gone, StatusCode::NOT_FOUND);
    let anonymous = node.client().get("/chats").await;
    error_of(&anonymous, StatusCode::UNAUTHORIZED);
}

/// A user who is not a member cannot join a chat's events.
async fn cat_cannot_join(node: &TestNode, cat: &Person, chat: &str) {
    let mut socket = Socket::open(node, cat).await;
    socket.send(json!({ "type": "join_chat", "chat_id": chat })).await;
    let refused = socket.expect("error").await;
    assert!(refused["data"]["message"].is_string(), "{refused}");
}

/// A multipart body with the given parts, each `(name, file name, bytes)`.
fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "chats-axum-boundary-7d2f";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn media_is_uploaded_as_a_form_and_streamed_back() {
    let node = TestNode::start().await;
    let ann = register(&node, "ann").await;
    let bob = register(&node, "bob").await;
    let cat = register(&node, "cat").await;
    let (_, chat) = ann
        .api
        .post(
            "/chats",
            json!({ "kind": "group", "title": "files", "user_ids": [bob.id] }),
        )
        .await;
    let chat = chat["id"].as_str().unwrap().to_owned();
    let sealed: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();

    // The file before the chat id, as the document lists the fields.
    let (content_type, body) = form(&[
        ("file", Some("voice.ogg.enc"), &sealed),
        ("chat_id", None, chat.as_bytes()),
    ]);
    let (status, media) = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::POST, "/media")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{media}");
    assert_eq!(media["chat_id"], chat.as_str());
    assert_eq!(media["filename"], "voice.ogg.enc");
    assert_eq!(media["size"], 70_000);
    let id = media["id"].as_str().unwrap();
    let download = reqwest::Client::new()
        .get(format!("{}/media/{id}", node.base))
        .bearer_auth(&bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().to_vec(), sealed);
    let stranger = reqwest::Client::new()
        .get(format!("{}/media/{id}", node.base))
        .bearer_auth(&cat.access)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);

    // Named parts first: the name given wins over the part's own.
    let (content_type, body) = form(&[
        ("chat_id", None, chat.as_bytes()),
        ("filename", None, b"photo.jpg.enc"),
        ("mimetype", None, b"application/x-encrypted"),
        ("file", Some("blob"), b"0123456789"),
    ]);
    let (status, named) = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::POST, "/media")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    assert_eq!(named["filename"], "photo.jpg.enc");
    assert_eq!(named["mimetype"], "application/x-encrypted");

    // Refusals: no chat, a chat the caller is not in, no form at all.
    let (content_type, body) = form(&[("file", Some("x"), b"abc")]);
    let refused = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::POST, "/media")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
    assert!(error_of(&refused, StatusCode::BAD_REQUEST).contains("chat_id"));
    let (content_type, body) = form(&[("file", Some("x"), b"abc"), ("chat_id", None, chat.as_bytes())]);
    let refused = cat
        .api
        .send(
            cat.api
                .request(reqwest::Method::POST, "/media")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&refused.0),
        "{refused:?}"
    );
    let not_a_form = ann.api.post("/media", json!({ "file": "abc" })).await;
    error_of(&not_a_form, StatusCode::BAD_REQUEST);
    // Parts the upload does not use are bounded in number and size; a second file is refused.
    let names: Vec<String> = (0..20).map(|n| format!("extra{n}")).collect();
    let many: Vec<(&str, Option<&str>, &[u8])> = names.iter().map(|n| (n.as_str(), None, &b"x"[..])).collect();
    let refused = send_form(&ann, reqwest::Method::POST, "/media".into(), &many).await;
    assert!(error_of(&refused, StatusCode::BAD_REQUEST).contains("at most 16 parts"));
    let big = vec![b'x'; 4096];
    let refused = send_form(&ann, reqwest::Method::POST, "/media".into(), &[("note", None, &big)]).await;
    assert!(error_of(&refused, StatusCode::BAD_REQUEST).contains("at most 1024 bytes"));
    let refused = send_form(
        &ann,
        reqwest::Method::POST,
        "/media".into(),
        &[
            ("file", Some("a"), b"one"),
            ("file", Some("b"), b"two"),
            ("chat_id", None, chat.as_bytes()),
        ],
    )
    .await;
    assert!(error_of(&refused, StatusCode::BAD_REQUEST).contains("only one file"));
    let files: Vec<_> = std::fs::read_dir(node.dir.path().join("files"))
        .map(|entries| entries.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(files.len() <= 3, "refused uploads keep nothing: {files:?}");
}

async fn send_form(
    person: &Person,
    method: reqwest::Method,
    path: String,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (StatusCode, Value) {
    let (content_type, body) = form(parts);
    person
        .api
        .send(
            person
                .api
                .request(method, &path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
}

#[tokio::test]
async fn pictures_are_set_served_and_cleared() {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake but well-typed picture";
    let node = TestNode::start().await;
    let ann = register(&node, "ann").await;
    let bob = register(&node, "bob").await;
    let (status, me) = send_form(
        &ann,
        reqwest::Method::PATCH,
        "/users/avatar".into(),
        &[("avatar", Some("a.png"), PNG)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let url = me["avatar_url"].as_str().unwrap().to_owned();
    let name = url.rsplit('/').next().unwrap();
    let served = reqwest::get(format!("{}/avatars/{name}", node.base)).await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    let (status, cleared) = send_form(
        &ann,
        reqwest::Method::POST,
        "/users/avatar".into(),
        &[("remove", None, b"true")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["avatar_url"], Value::Null);
    let gone = reqwest::get(format!("{}/avatars/{name}", node.base)).await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "the old picture is removed");
    let not_an_image = send_form(
        &ann,
        reqwest::Method::POST,
        "/users/avatar".into(),
        &[("avatar", Some("a.txt"), b"hello")],
    )
    .await;
    error_of(&not_an_image, StatusCode::BAD_REQUEST);
    // `remove` is a boolean, wherever it stands in the form.
    let not_a_boolean = send_form(
        &ann,
        reqwest::Method::POST,
        "/users/avatar".into(),
        &[("avatar", Some("a.png"), PNG), ("remove", None, b"[]")],
    )
    .await;
    error_of(&not_a_boolean, StatusCode::BAD_REQUEST);

    let (_, chat) = ann
        .api
        .post(
            "/chats",
            json!({ "kind": "group", "title": "pictures", "user_ids": [bob.id] }),
        )
        .await;
    let chat = chat["id"].as_str().unwrap().to_owned();
    let (status, pictured) = send_form(
        &ann,
        reqwest::Method::POST,
        format!("/chats/{chat}/avatar"),
        &[("avatar", Some("c.png"), PNG)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pictured}");
    assert!(pictured["avatar_url"].is_string());
    let refused = send_form(
        &bob,
        reqwest::Method::PATCH,
        format!("/chats/{chat}/avatar"),
        &[("remove", None, b"true")],
    )
    .await;
    error_of(&refused, StatusCode::FORBIDDEN);
    let (status, cleared) = send_form(
        &ann,
        reqwest::Method::PATCH,
        format!("/chats/{chat}/avatar"),
        &[("remove", None, b"true")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["avatar_url"], Value::Null);
}

#[tokio::test]
async fn a_users_public_key_is_the_one_they_registered() {
    let node = TestNode::start().await;
    let (ann, bob) = (register(&node, "ann").await, register(&node, "bob").await);
    let answer = assert_ok_plain(bob.api.get(&format!("/users/{}/public-key", ann.id)).await);
    assert_eq!(answer["user_id"], ann.id);
    assert_eq!(answer["public_key"], "ann-public");
    assert_eq!(answer["key_version"], 1);
    assert!(
        answer["signature"].is_null() && answer["identity_key"].is_null(),
        "{answer}"
    );
    // The backup's private halves are not in it.
    assert!(!answer.to_string().contains("by-master"), "{answer}");

    let v1_only = node.user("cara").await;
    let no_key = bob.api.get(&format!("/users/{}/public-key", v1_only.id)).await;
    assert!(error_of(&no_key, StatusCode::NOT_FOUND).contains("public key"));
    let nobody = bob.api.get(&format!("/users/{}/public-key", Uuid::new_v4())).await;
    error_of(&nobody, StatusCode::NOT_FOUND);
    let stranger = node.client().get(&format!("/users/{}/public-key", ann.id)).await;
    error_of(&stranger, StatusCode::UNAUTHORIZED);
}

fn assert_ok_plain(result: (StatusCode, Value)) -> Value {
    assert_eq!(result.0, StatusCode::OK, "{}", result.1);
    result.1
}
