//! `parley admin backup` of a running (or stopped) node and `parley admin restore` into an empty data
//! dir: the restored node has the same accounts, messages, keys, files and identity.

use std::path::Path;

use crate::admin_cli::{admin, admin_async, start, stop};
use crate::support::*;

const PASSWORD: &str = "correct horse battery";

async fn register(api: &Api, name: &str) -> Value {
    assert_ok(
        api.post(
            "/v1/auth/register",
            json!({
                "email": format!("{name}@example.org"),
                "username": name,
                "password": PASSWORD,
                "device_id": Uuid::new_v4(),
            }),
        )
        .await,
        StatusCode::CREATED,
    )
}

async fn login(api: &Api, name: &str) -> Api {
    let data = assert_ok(
        api.post(
            "/v1/auth/login",
            json!({ "identity": name, "password": PASSWORD, "device_id": Uuid::new_v4() }),
        )
        .await,
        StatusCode::OK,
    );
    api.with_token(data["access_token"].as_str().unwrap())
}

async fn peer_id(api: &Api) -> Value {
    assert_ok(api.get("/v1/federation/node").await, StatusCode::OK)["peer_id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_node_restores_into_an_equal_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (node, base) = start(&data, &[]);
    let client = Api::new(&base);
    let ann = register(&client, "ann").await;
    let bob = register(&client, "bob").await;
    let ann_api = client.with_token(ann["access_token"].as_str().unwrap());
    let conversation = assert_ok(
        ann_api
            .post(
                "/v1/conversations",
                json!({ "type": "DM", "participants": [bob["user_id"]] }),
            )
            .await,
        StatusCode::CREATED,
    );
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let body = json!({
            "conversation_id": conversation,
            "ciphertexts": [
                { "recipient_device_id": ann["device_id"], "ciphertext": b64(format!("{i} for ann").as_bytes()) },
                { "recipient_device_id": bob["device_id"], "ciphertext": b64(format!("{i} for bob").as_bytes()) },
            ],
            "message_type": "text",
            "client_message_id": format!("m{i}"),
        });
        assert_ok(ann_api.post("/v1/messages", body).await, StatusCode::CREATED);
    }
    let blob: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let file = ann_api
        .send(
            ann_api
                .request(reqwest::Method::POST, "/v1/files?file_name=notes.bin")
                .header("content-type", "application/octet-stream")
                .body(blob.clone()),
        )
        .await;
    let file_id = assert_ok(file, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let identity = peer_id(&ann_api).await;
    let device_key = ed25519_dalek::SigningKey::generate(&mut rand::rng());
    let device_key = b64(&device_key.verifying_key().to_bytes());
    assert_ok(
        ann_api
            .post("/v1/encryption/identity", json!({ "public_key": device_key }))
            .await,
        StatusCode::CREATED,
    );

    let backup = dir.path().join("node.backup");
    let written = admin_async(&data, &["backup", backup.to_str().unwrap()]).await.ok();
    assert!(written.as_str().unwrap().starts_with("wrote "), "{written}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the backup holds the node's keys: owner only, not {mode:o}"
        );
    }
    assert_eq!(
        admin_async(&data, &["backup", backup.to_str().unwrap()]).await.code,
        1,
        "an existing file is never overwritten"
    );
    // Written after the backup: not in it.
    register(&client, "cyd").await;
    stop(node);

    let restored = dir.path().join("restored");
    let answer = admin_async(&restored, &["restore", backup.to_str().unwrap()])
        .await
        .ok();
    assert!(answer.as_str().unwrap().starts_with("restored "), "{answer}");
    let (node, base) = start(&restored, &[]);
    let client = Api::new(&base);
    // The token secret came back: tokens issued before the backup still work.
    let ann_again = client.with_token(ann["access_token"].as_str().unwrap());
    assert_eq!(peer_id(&ann_again).await, identity, "the node keeps its identity");
    let bob_api = login(&client, "bob").await;
    let published = assert_ok(
        bob_api
            .get(&format!(
                "/v1/encryption/identity?user_id={}&device_id={}",
                ann["user_id"].as_str().unwrap(),
                ann["device_id"].as_str().unwrap()
            ))
            .await,
        StatusCode::OK,
    );
    assert!(
        published.to_string().contains(&device_key),
        "ann's device key: {published}"
    );
    let history = assert_ok(
        bob_api
            .get(&format!("/v1/messages?conversation_id={conversation}&limit=50"))
            .await,
        StatusCode::OK,
    );
    assert_eq!(history["messages"].as_array().unwrap().len(), 5, "{history}");
    let download = bob_api.request(reqwest::Method::GET, &format!("/v1/files/{file_id}"));
    let download = download
        .bearer_auth(ann["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().to_vec(), blob);
    assert_error(
        &client
            .post(
                "/v1/auth/login",
                json!({ "identity": "cyd", "password": PASSWORD, "device_id": Uuid::new_v4() }),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    stop(node);
}

#[test]
fn restores_refuse_a_node_dir_and_a_damaged_backup_and_offline_backups_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (node, _) = start(&data, &[]);
    stop(node);
    let backup = dir.path().join("offline.backup");
    admin(&data, &["backup", backup.to_str().unwrap()]).ok();

    let refusal = admin(&data, &["restore", backup.to_str().unwrap()]).failed();
    assert!(refusal.contains("already holds a node"), "{refusal}");

    let bytes = std::fs::read(&backup).unwrap();
    let truncated = dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let target = dir.path().join("target");
    let refusal = admin(&target, &["restore", truncated.to_str().unwrap()]).failed();
    assert!(refusal.contains("not a whole Parley backup"), "{refusal}");
    assert!(empty(&target), "a refused restore leaves nothing behind");

    admin(&target, &["restore", backup.to_str().unwrap()]).ok();
    let (node, base) = start(&target, &[]);
    assert!(base.starts_with("http://"));
    stop(node);
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_is_the_store_at_one_instant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (node, base) = start(&data, &[]);
    let client = Api::new(&base);
    let ann = register(&client, "ann").await;
    let ann_api = client.with_token(ann["access_token"].as_str().unwrap());
    let group = assert_ok(
        ann_api
            .post(
                "/v1/conversations",
                json!({ "type": "GROUP", "subject": "busy", "participants": [] }),
            )
            .await,
        StatusCode::CREATED,
    );
    let group = group["id"].as_str().unwrap().to_owned();
    let writer = {
        let (api, group, device) = (ann_api.clone(), group.clone(), ann["device_id"].clone());
        tokio::spawn(async move {
            for i in 0..200 {
                let body = json!({
                    "conversation_id": group,
                    "ciphertexts": [{ "recipient_device_id": device, "ciphertext": b64(b"x") }],
                    "message_type": "text",
                    "client_message_id": format!("w{i}"),
                });
                api.post("/v1/messages", body).await;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let backup = dir.path().join("busy.backup");
    admin_async(&data, &["backup", backup.to_str().unwrap()]).await.ok();
    writer.await.unwrap();
    stop(node);

    let restored = dir.path().join("restored");
    admin_async(&restored, &["restore", backup.to_str().unwrap()])
        .await
        .ok();
    let (node, base) = start(&restored, &[]);
    let api = Api::new(&base).with_token(ann["access_token"].as_str().unwrap());
    let mut sequences: Vec<u64> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = assert_ok(
            api.get(&format!("/v1/messages?conversation_id={group}&limit=100{cursor}"))
                .await,
            StatusCode::OK,
        );
        sequences.extend(
            page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|message| message["sequence_number"].as_u64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(next) if page["has_more"] == true => cursor = format!("&cursor={next}"),
            _ => break,
        }
    }
    sequences.sort_unstable();
    assert!(!sequences.is_empty(), "the backup was taken after some messages");
    let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
    assert_eq!(sequences, expected, "a gap: the backup mixed two instants");
    stop(node);
}
