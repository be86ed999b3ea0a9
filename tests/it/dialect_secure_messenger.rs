//! `secure-messenger.md` walked as its own clients do, against a real node: `/api/v1/auth`, the key
//! distribution of `/api/v1/keys` (identity, signed prekey, one-time prekeys, per-user bundles),
//! `/api/v1/conversations` with encrypted history, `/api/v1/files`, and an end-to-end encrypted
//! message over `/ws` with the token in the `Authorization` header.

use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

const PASSWORD: &str = "correct horse battery";

struct Member {
    id: String,
    device_id: String,
    access: String,
    refresh: String,
    api: Api,
}

async fn register(node: &TestNode, name: &str) -> Member {
    let (status, body) = node
        .client()
        .post(
            "/api/v1/auth/register",
            json!({ "username": name, "email": format!("{name}@example.org"), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap().to_owned();
    Member {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        device_id: body["device_id"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        api: node.client().with_token(&access),
        access,
    }
}

/// Publishes an identity key (self-signed), a signed prekey and `one_time` one-time prekeys.
async fn publish_keys(member: &Member, one_time: u32) {
    let identity = SigningKey::generate(&mut rand::rng());
    let public = identity.verifying_key().to_bytes();
    let (status, body) = member
        .api
        .post(
            "/api/v1/keys/identity",
            json!({ "public_key": b64(&public), "signature": b64(&identity.sign(&public).to_bytes()) }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let prekey: [u8; 32] = rand::random();
    let (status, body) = member
        .api
        .post(
            "/api/v1/keys/signed-prekey",
            json!({ "key_id": 1, "public_key": b64(&prekey), "signature": b64(&identity.sign(&prekey).to_bytes()) }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let keys: Vec<Value> = (1..=one_time)
        .map(|id| json!({ "key_id": id, "public_key": b64(&rand::random::<[u8; 32]>()) }))
        .collect();
    let (status, body) = member
        .api
        .post("/api/v1/keys/one-time-prekeys", json!({ "prekeys": keys }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["uploaded"], one_time);
}

#[tokio::test]
async fn keys_conversations_messages_and_files_as_documented() {
    let node = TestNode::start().await;
    let ann = register(&node, "ann").await;
    let bob = register(&node, "bob").await;

    // An identity key whose signature is not its own is refused.
    let key = SigningKey::generate(&mut rand::rng());
    let other = SigningKey::generate(&mut rand::rng());
    let public = key.verifying_key().to_bytes();
    let forged = ann
        .api
        .post(
            "/api/v1/keys/identity",
            json!({ "public_key": b64(&public), "signature": b64(&other.sign(&public).to_bytes()) }),
        )
        .await;
    assert_eq!(forged.0, StatusCode::BAD_REQUEST, "{}", forged.1);
    assert!(forged.1["error"].as_str().unwrap().starts_with("signature"));
    publish_keys(&ann, 2).await;

    // Bob reads Ann's keys: her identity per device, then bundles that use up her one-time prekeys.
    let (status, identities) = bob.api.get(&format!("/api/v1/keys/identity/{}", ann.id)).await;
    assert_eq!(status, StatusCode::OK, "{identities}");
    assert_eq!(identities["devices"][0]["device_id"], ann.device_id.as_str());
    let mut claimed = Vec::new();
    for _ in 0..3 {
        let (status, bundles) = bob.api.get(&format!("/api/v1/keys/bundle/{}", ann.id)).await;
        assert_eq!(status, StatusCode::OK, "{bundles}");
        let bundle = &bundles["bundles"][0];
        assert_eq!(bundle["device_id"], ann.device_id.as_str());
        assert_eq!(bundle["signed_prekey"]["key_id"], 1);
        claimed.push(bundle["one_time_prekey"]["key_id"].clone());
    }
    claimed.sort_by_key(|id| id.as_u64());
    assert_eq!(
        claimed,
        [Value::Null, json!(1), json!(2)],
        "each one-time prekey is handed out once"
    );

    // A P2P conversation, and an end-to-end encrypted message over the socket.
    let (status, conversation) = bob
        .api
        .post(
            "/api/v1/conversations",
            json!({ "type": "p2p", "participants": [ann.id] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{conversation}");
    assert_eq!(conversation["type"], "p2p");
    let id = conversation["id"].as_str().unwrap().to_owned();
    let mut request = format!("{}/ws", node.base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", bob.access).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let frame = json!({
        "type": "send_message",
        "chat_id": id,
        "envelopes": [{ "device_id": ann.device_id, "ciphertext": b64(b"sealed for ann"), "header": b64(b"ratchet") }],
    });
    socket.send(WsMessage::Text(frame.to_string().into())).await.unwrap();
    loop {
        let Some(Ok(WsMessage::Text(text))) = socket.next().await else {
            panic!("the socket closed")
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] == "ok" {
            assert_eq!(frame["data"]["encrypted"], true);
            break;
        }
        assert_ne!(frame["type"], "error", "{frame}");
    }
    let (status, history) = ann.api.get(&format!("/api/v1/conversations/{id}/messages")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let message = &history["messages"][0];
    assert_eq!(message["encrypted"], true);
    assert_eq!(unb64(message["ciphertext"].as_str().unwrap()), b"sealed for ann");
    assert_eq!(unb64(message["header"].as_str().unwrap()), b"ratchet");
    assert_eq!(message["body"], Value::Null);

    // Files: pre-encrypted bytes up, metadata, bytes down; a stranger reads nothing.
    let sealed: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let (status, info) = ann
        .api
        .send(
            ann.api
                .request(
                    reqwest::Method::POST,
                    &format!("/api/v1/files/upload?file_name=sealed.bin&conversation_id={id}"),
                )
                .body(sealed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    let file = info["id"].as_str().unwrap().to_owned();
    let (status, described) = bob.api.get(&format!("/api/v1/files/{file}/info")).await;
    assert_eq!(status, StatusCode::OK, "{described}");
    assert_eq!(described["size"], 10_000);
    let bytes = reqwest::Client::new()
        .get(format!("{}/api/v1/files/{file}", node.base))
        .bearer_auth(&bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(bytes.status(), StatusCode::OK);
    assert_eq!(bytes.bytes().await.unwrap().to_vec(), sealed);
    let cat = register(&node, "cat").await;
    let (status, refused) = cat.api.get(&format!("/api/v1/files/{file}/info")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    assert!(refused["error"].is_string());
    let (status, _) = cat.api.get(&format!("/api/v1/conversations/{id}/messages")).await;
    assert!([StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status));

    // Refresh, logout, and what a missing token gets.
    let (status, pair) = node
        .client()
        .post("/api/v1/auth/refresh", json!({ "refresh_token": ann.refresh }))
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let refreshed = node.client().with_token(pair["access_token"].as_str().unwrap());
    let (status, _) = refreshed.post_empty("/api/v1/auth/logout").await;
    assert_eq!(status, StatusCode::OK);
    let (status, ended) = refreshed.get(&format!("/api/v1/keys/identity/{}", bob.id)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{ended}");
    let (status, login) = node
        .client()
        .post(
            "/api/v1/auth/login",
            json!({ "email": "ann@example.org", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_ne!(login["device_id"], ann.device_id.as_str(), "each login is a device");
}
