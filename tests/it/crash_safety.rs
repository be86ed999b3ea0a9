//! Every file the node writes outside sled (its secrets, stored blobs, upload parts), with the real
//! binary killed at each step of writing it (`PARLEY_CRASH_AT`, an abort with nothing flushed), and a
//! write set to several of sled's trees cut in half: the node starts again, keeps what it
//! acknowledged, leaves no debris, and a retry of what it did not acknowledge succeeds.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use sha2::{Digest, Sha256};

use crate::support::*;

/// `parley node` on a free port; with `crash_at`, set to die at that point.
fn start(data_dir: &Path, crash_at: Option<&str>) -> (Child, Option<String>) {
    let mut command = node_command(data_dir);
    command.env_remove(node::crash::CRASH_AT);
    if let Some(point) = crash_at {
        command.env(node::crash::CRASH_AT, point);
    }
    spawn_node(command)
}

fn serving(data_dir: &Path) -> (Child, String) {
    let (child, base) = start(data_dir, None);
    (child, base.expect("the node serves after the crash"))
}

async fn aborted(mut child: Child) {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(
                status.signal(),
                Some(6),
                "the node died at the crash point (SIGABRT): {status}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the node did not reach its crash point within 30 s");
}

fn stop(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn register(base: &str, name: &str) -> String {
    let data = assert_ok(
        Api::new(base)
            .post(
                "/v1/auth/register",
                json!({ "email": format!("{name}@example.org"), "username": name,
                        "password": "long enough pw", "device_id": Uuid::new_v4() }),
            )
            .await,
        StatusCode::CREATED,
    );
    data["access_token"].as_str().unwrap().to_owned()
}

fn files_on_disk(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("files"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_crash_while_writing_a_secret_leaves_a_node_that_starts_and_keeps_its_secrets() {
    for file in ["node.key", "token.secret"] {
        for step in ["created", "written", "renamed"] {
            let dir = tempfile::tempdir().unwrap();
            let point = format!("secret:{file}:{step}");
            let (child, _) = start(dir.path(), Some(&point));
            aborted(child).await;

            let (node, base) = serving(dir.path());
            let token = register(&base, "ann").await;
            stop(node);
            for secret in ["node.key", "token.secret"] {
                let bytes = std::fs::read(dir.path().join(secret)).unwrap();
                assert_eq!(bytes.len(), 32, "{secret} after a crash at {point}");
            }
            // The secrets the recovering start wrote are the ones the next start reads.
            let (node, base) = serving(dir.path());
            assert_ok(
                Api::new(&base).with_token(&token).get("/v1/users/me").await,
                StatusCode::OK,
            );
            stop(node);
        }
    }
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

async fn post_file(base: &str, token: &str, data: &[u8]) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{base}/v1/files?file_name=x.enc"))
        .bearer_auth(token)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
}

async fn download(base: &str, token: &str, url: &str) -> Vec<u8> {
    let response = reqwest::Client::new()
        .get(format!("{base}{url}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_crash_while_storing_a_file_leaves_no_debris_and_the_retry_is_stored() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for point in ["file:written", "file:promoted"] {
        let dir = tempfile::tempdir().unwrap();
        let (node, base) = serving(dir.path());
        let token = register(&base, "ann").await;
        stop(node);

        let (child, base) = start(dir.path(), Some(point));
        let answer = post_file(&base.unwrap(), &token, &data).await;
        assert!(answer.is_err(), "the node died before answering ({point})");
        aborted(child).await;

        let (node, base) = serving(dir.path());
        assert_eq!(
            files_on_disk(dir.path()),
            Vec::<String>::new(),
            "after a crash at {point}"
        );
        let stored: Value = post_file(&base, &token, &data).await.unwrap().json().await.unwrap();
        let url = stored["data"]["file_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{stored}"));
        assert_eq!(download(&base, &token, url).await, data);
        stop(node);
    }
}

async fn upload_call(base: &str, token: &str, method: Method, path: &str, body: Vec<u8>) -> reqwest::Result<Value> {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if !body.is_empty() {
        request = request.header(CONTENT_TYPE, "application/octet-stream").body(body);
    }
    request.send().await?.json().await
}

#[tokio::test]
async fn a_crash_during_a_resumable_upload_loses_only_what_was_not_acknowledged() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 253) as u8).collect();
    for point in ["upload:chunk-written", "upload:promoted"] {
        let dir = tempfile::tempdir().unwrap();
        let (node, base) = serving(dir.path());
        let token = register(&base, "ann").await;
        let created = assert_ok(
            Api::new(&base)
                .with_token(&token)
                .post(
                    "/v1/uploads",
                    json!({ "file_name": "x.enc", "file_size": data.len(), "sha256": sha_hex(&data),
                            "content_type": "application/octet-stream" }),
                )
                .await,
            StatusCode::CREATED,
        );
        let id = created["id"].as_str().unwrap().to_owned();
        let put = |base: String, token: String, data: Vec<u8>| {
            let path = format!("/v1/uploads/{id}/data?offset=0");
            async move { upload_call(&base, &token, Method::PUT, &path, data).await }
        };
        let complete = |base: String, token: String| {
            let path = format!("/v1/uploads/{id}/complete");
            async move { upload_call(&base, &token, Method::POST, &path, Vec::new()).await }
        };
        if point == "upload:promoted" {
            let answer = put(base.clone(), token.clone(), data.clone()).await.unwrap();
            assert_eq!(answer["data"]["uploaded_bytes"], data.len(), "{answer}");
        }
        stop(node);

        let (child, base) = start(dir.path(), Some(point));
        let base = base.unwrap();
        let cut_short = if point == "upload:chunk-written" {
            put(base, token.clone(), data.clone()).await
        } else {
            complete(base, token.clone()).await
        };
        assert!(cut_short.is_err(), "the node died before answering ({point})");
        aborted(child).await;

        let (node, base) = serving(dir.path());
        let status = assert_ok(
            Api::new(&base)
                .with_token(&token)
                .get(&format!("/v1/uploads/{id}"))
                .await,
            StatusCode::OK,
        );
        if point == "upload:chunk-written" {
            assert_eq!(status["uploaded_bytes"], 0, "an unacknowledged chunk is not counted");
            let answer = put(base.clone(), token.clone(), data.clone()).await.unwrap();
            assert_eq!(answer["data"]["uploaded_bytes"], data.len(), "{answer}");
        }
        let done = complete(base.clone(), token.clone()).await.unwrap();
        assert_eq!(done["data"]["status"], "COMPLETED", "after a crash at {point}: {done}");
        let url = done["data"]["file_url"].as_str().unwrap().to_owned();
        assert_eq!(download(&base, &token, &url).await, data);
        assert_eq!(
            files_on_disk(dir.path()).len(),
            1,
            "one blob, no parts: {:?}",
            files_on_disk(dir.path())
        );
        stop(node);
    }
}

#[tokio::test]
async fn a_crash_while_storing_an_avatar_leaves_no_half_written_picture() {
    use crate::avatars::{PNG, multipart};
    for step in ["created", "written", "renamed"] {
        let dir = tempfile::tempdir().unwrap();
        let (node, base) = serving(dir.path());
        let token = register(&base, "ann").await;
        stop(node);

        let upload = |base: String| {
            let (content_type, body) = multipart("avatar", PNG);
            let token = token.clone();
            async move {
                reqwest::Client::new()
                    .post(format!("{base}/v1/users/me/avatar"))
                    .bearer_auth(token)
                    .header(CONTENT_TYPE, content_type)
                    .body(body)
                    .send()
                    .await
            }
        };
        let point = format!("avatar:{step}");
        let (child, crashing) = start(dir.path(), Some(&point));
        assert!(
            upload(crashing.unwrap()).await.is_err(),
            "the node died before answering ({point})"
        );
        aborted(child).await;

        let (node, base) = serving(dir.path());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("avatars"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "after a crash at {point}: {leftovers:?}");
        let me = assert_ok(
            Api::new(&base).with_token(&token).get("/v1/users/me").await,
            StatusCode::OK,
        );
        assert!(
            me["avatar_url"].is_null(),
            "an unacknowledged picture is not the user's: {me}"
        );
        let stored: Value = upload(base.clone()).await.unwrap().json().await.unwrap();
        let url = stored["data"]["avatar_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{stored}"));
        assert_eq!(download(&base, &token, url).await, PNG);
        stop(node);
    }
}

/// The id of the account's device, from `/v1/users/me/devices`.
async fn device_of(base: &str, token: &str) -> String {
    let devices = assert_ok(
        Api::new(base).with_token(token).get("/v1/users/me/devices").await,
        StatusCode::OK,
    );
    devices["devices"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_crash_halfway_through_an_edit_leaves_the_message_whole_and_edited() {
    let dir = tempfile::tempdir().unwrap();
    let (node, base) = serving(dir.path());
    let (ann, bob) = (register(&base, "ann").await, register(&base, "bob").await);
    let bob_device = device_of(&base, &bob).await;
    let bob_id = assert_ok(
        Api::new(&base).with_token(&bob).get("/v1/users/me").await,
        StatusCode::OK,
    )["id"]
        .clone();
    let ann_api = Api::new(&base).with_token(&ann);
    let dm = assert_ok(
        ann_api
            .post("/v1/conversations", json!({ "type": "DM", "participants": [bob_id] }))
            .await,
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let copy = |text: &str| json!([{ "recipient_device_id": bob_device, "ciphertext": b64(text.as_bytes()) }]);
    let sent = assert_ok(
        ann_api
            .post(
                "/v1/messages",
                json!({ "conversation_id": dm, "client_message_id": "c1", "ciphertexts": copy("first") }),
            )
            .await,
        StatusCode::CREATED,
    );
    let path = format!("/v1/messages/{}", sent["id"].as_str().unwrap());
    stop(node);

    // The edit's write set dies after taking the old copy away and before writing the new one, with
    // what it wrote so far on disk.
    let (node, base) = start(dir.path(), Some("write-set:half-applied"));
    let edit = Api::new(&base.unwrap())
        .request(Method::PUT, &path)
        .bearer_auth(&ann)
        .json(&json!({ "ciphertexts": copy("second") }))
        .send()
        .await;
    assert!(edit.is_err(), "the edit was not acknowledged: {edit:?}");
    aborted(node).await;

    let (node, base) = serving(dir.path());
    let message = assert_ok(Api::new(&base).with_token(&bob).get(&path).await, StatusCode::OK);
    assert_eq!(message["is_edited"], true, "opening the store completed the edit");
    assert_eq!(unb64(message["ciphertext"].as_str().unwrap()), b"second");
    stop(node);
}
