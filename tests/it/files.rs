use std::path::PathBuf;

use reqwest::Method;
use reqwest::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH, RANGE,
};
use sha2::{Digest, Sha256};

use crate::support::*;

const MIB: usize = 1024 * 1024;

/// Deterministic, incompressible-looking bytes.
fn blob(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed) | 0x9e37_0000;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Names of everything in the node's blob directory.
fn on_disk(node: &TestNode) -> Vec<String> {
    let dir: PathBuf = node.dir.path().join("files");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

async fn create_upload(user: &User, data: &[u8], extra: Value) -> Value {
    let mut body = json!({
        "file_name": "photo.jpg.enc",
        "file_size": data.len(),
        "content_type": "application/octet-stream",
        "sha256": sha_hex(data),
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    assert_ok(user.api.post("/v1/uploads", body).await, StatusCode::CREATED)
}

async fn put_chunk(user: &User, upload: &str, offset: usize, chunk: &[u8]) -> (StatusCode, Value) {
    let request = user
        .api
        .request(Method::PUT, &format!("/v1/uploads/{upload}/data?offset={offset}"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(chunk.to_vec());
    user.api.send(request).await
}

/// `POST /v1/files` with the whole body in one request.
async fn post_file(user: &User, query: &str, data: Vec<u8>) -> (StatusCode, Value) {
    let request = user
        .api
        .request(Method::POST, &format!("/v1/files?{query}"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(data);
    user.api.send(request).await
}

/// A raw download: status, headers and body bytes.
async fn download(
    user: &User,
    url: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = user.api.request(Method::GET, url).bearer_auth(&user.token);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    (status, headers, body)
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> &str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_default()
}

#[tokio::test]
async fn a_resumable_upload_in_chunks_is_verified_then_downloadable() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let data = blob(5 * MIB + 123, 1);
    let forged = ann
        .api
        .post(
            "/v1/uploads",
            json!({ "file_name": "x", "file_size": 1, "content_type": "a/b", "sha256": sha_hex(b"x"), "uploader_id": bob.id }),
        )
        .await;
    assert_error(&forged, StatusCode::FORBIDDEN, "FORBIDDEN");
    let bad_hash = ann
        .api
        .post(
            "/v1/uploads",
            json!({ "file_name": "x", "file_size": 1, "content_type": "a/b", "sha256": "abc" }),
        )
        .await;
    assert_error(&bad_hash, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");

    let upload = create_upload(&ann, &data, json!({ "uploader_id": ann.id })).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    assert_eq!(upload["status"], "PENDING");
    assert_eq!(upload["uploaded_bytes"], 0);
    assert_eq!(upload["file_size"], data.len());
    assert_eq!(upload["uploader_id"], ann.id);
    assert_eq!(upload["upload_url"], format!("/v1/uploads/{id}/data"));
    assert!(upload["created_at"].is_string());

    // A 3 MiB chunk: more than the API's general 2 MiB body limit.
    let first = 3 * MIB;
    let after_first = assert_ok(put_chunk(&ann, &id, 0, &data[..first]).await, StatusCode::OK);
    assert_eq!(after_first["status"], "IN_PROGRESS");
    assert_eq!(after_first["uploaded_bytes"], first);

    let replayed = put_chunk(&ann, &id, 0, &data[..10]).await;
    let message = assert_error(&replayed, StatusCode::CONFLICT, "CONFLICT");
    assert!(
        message.contains(&first.to_string()),
        "names the expected offset: {message}"
    );
    let ahead = put_chunk(&ann, &id, first + 5, &data[first..first + 10]).await;
    assert_error(&ahead, StatusCode::CONFLICT, "CONFLICT");

    let mut too_much = data[first..].to_vec();
    too_much.extend_from_slice(b"extra bytes");
    assert_error(
        &put_chunk(&ann, &id, first, &too_much).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    let status = assert_ok(ann.api.get(&format!("/v1/uploads/{id}")).await, StatusCode::OK);
    assert_eq!(status["uploaded_bytes"], first, "a refused chunk leaves nothing behind");
    let part = node.dir.path().join("files").join(format!("upload-{id}.part"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), first as u64);

    let wrong = ann
        .api
        .post(
            &format!("/v1/uploads/{id}/progress"),
            json!({ "uploaded_bytes": first + 1 }),
        )
        .await;
    assert!(assert_error(&wrong, StatusCode::CONFLICT, "CONFLICT").contains("counts"));
    let right = ann
        .api
        .post(
            &format!("/v1/uploads/{id}/progress"),
            json!({ "uploaded_bytes": first }),
        )
        .await;
    assert_eq!(assert_ok(right, StatusCode::OK)["uploaded_bytes"], first);

    let second = first + 2 * MIB;
    assert_ok(put_chunk(&ann, &id, first, &data[first..second]).await, StatusCode::OK);
    let last = assert_ok(put_chunk(&ann, &id, second, &data[second..]).await, StatusCode::OK);
    assert_eq!(last["uploaded_bytes"], data.len());
    assert_eq!(last["status"], "IN_PROGRESS");

    assert_error(
        &bob.api.get(&format!("/v1/uploads/{id}")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api.post_empty(&format!("/v1/uploads/{id}/complete")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );

    let done = assert_ok(
        ann.api.post_empty(&format!("/v1/uploads/{id}/complete")).await,
        StatusCode::OK,
    );
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["completed_at"].is_string());
    let file_id = done["file_id"].as_str().unwrap().to_owned();
    let url = done["file_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/v1/files/{file_id}"));
    let again = ann.api.post_empty(&format!("/v1/uploads/{id}/complete")).await;
    assert_eq!(assert_ok(again, StatusCode::OK)["file_id"], file_id.as_str());
    assert_error(
        &put_chunk(&ann, &id, data.len(), b"more").await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert_error(
        &ann.api.delete(&format!("/v1/uploads/{id}")).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert_eq!(on_disk(&node), [file_id.as_str()], "the part became the stored blob");

    let (status, headers, body) = download(&ann, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), data.len());
    assert!(body == data, "the download equals the upload");
    assert_eq!(header(&headers, CONTENT_TYPE), "application/octet-stream");
    assert_eq!(header(&headers, CONTENT_LENGTH), data.len().to_string());
    assert_eq!(header(&headers, ETAG), format!("\"{}\"", sha_hex(&data)));
    assert_eq!(header(&headers, ACCEPT_RANGES), "bytes");

    let info = assert_ok(ann.api.get(&format!("{url}/info")).await, StatusCode::OK);
    assert_eq!(info["id"], file_id.as_str());
    assert_eq!(info["size"], data.len());
    assert_eq!(info["sha256"], sha_hex(&data));
    assert_eq!(info["file_name"], "photo.jpg.enc");
    assert_eq!(info["uploader_id"], ann.id);
    assert!(info["conversation_id"].is_null());
}

#[tokio::test]
async fn a_wrong_hash_or_a_short_upload_fails_on_completion() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let data = blob(100_000, 2);
    let upload = create_upload(&ann, &data, json!({ "sha256": sha_hex(b"something else") })).await;
    let id = upload["id"].as_str().unwrap();
    assert_ok(put_chunk(&ann, id, 0, &data).await, StatusCode::OK);
    let refused = ann.api.post_empty(&format!("/v1/uploads/{id}/complete")).await;
    assert!(assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").starts_with("sha256"));
    let status = assert_ok(ann.api.get(&format!("/v1/uploads/{id}")).await, StatusCode::OK);
    assert_eq!(status["status"], "FAILED");
    assert!(status["file_url"].is_null());
    assert_error(
        &put_chunk(&ann, id, data.len(), b"x").await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );

    let short = create_upload(&ann, &data, json!({})).await;
    let short_id = short["id"].as_str().unwrap();
    assert_ok(put_chunk(&ann, short_id, 0, &data[..500]).await, StatusCode::OK);
    let refused = ann.api.post_empty(&format!("/v1/uploads/{short_id}/complete")).await;
    assert!(assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").contains("500 of"));
    let status = assert_ok(ann.api.get(&format!("/v1/uploads/{short_id}")).await, StatusCode::OK);
    assert_eq!(status["status"], "FAILED");

    let given_up = create_upload(&ann, &data, json!({})).await;
    let given_up_id = given_up["id"].as_str().unwrap();
    assert_ok(put_chunk(&ann, given_up_id, 0, &data[..10]).await, StatusCode::OK);
    let failed = ann.api.post_empty(&format!("/v1/uploads/{given_up_id}/fail")).await;
    assert_eq!(assert_ok(failed, StatusCode::OK)["status"], "FAILED");
    assert!(
        on_disk(&node).is_empty(),
        "failed uploads keep no bytes: {:?}",
        on_disk(&node)
    );
}

#[tokio::test]
async fn a_streamed_upload_is_stored_and_downloaded_intact() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let data = blob(3 * MIB + 17, 3);
    let info = assert_ok(
        post_file(&ann, "file_name=video.mp4.enc&content_type=video/mp4", data.clone()).await,
        StatusCode::CREATED,
    );
    assert_eq!(info["size"], data.len());
    assert_eq!(info["sha256"], sha_hex(&data));
    assert_eq!(info["file_name"], "video.mp4.enc");
    assert_eq!(info["content_type"], "video/mp4");
    assert_eq!(info["uploader_id"], ann.id);
    assert!(info["created_at"].is_string());
    let url = info["file_url"].as_str().unwrap().to_owned();
    let (status, headers, body) = download(&ann, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == data, "the download equals the upload");
    assert_eq!(header(&headers, CONTENT_TYPE), "video/mp4");

    // Metadata in headers instead, and a body streamed without a Content-Length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(100_000).map(|c| Ok(c.to_vec())).collect();
    let request = ann
        .api
        .request(Method::POST, "/v1/files")
        .header("x-file-name", "second.bin")
        .header("x-file-sha256", sha_hex(&data))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)));
    let second = assert_ok(ann.api.send(request).await, StatusCode::CREATED);
    assert_eq!(second["file_name"], "second.bin");
    assert_eq!(second["size"], data.len());
    assert_ne!(second["id"], info["id"]);

    let mismatch = ann
        .api
        .send(
            ann.api
                .request(
                    Method::POST,
                    &format!("/v1/files?file_name=x&sha256={}", sha_hex(b"other")),
                )
                .body(data[..1000].to_vec()),
        )
        .await;
    assert_error(&mismatch, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(
        on_disk(&node).len(),
        2,
        "refused uploads keep nothing: {:?}",
        on_disk(&node)
    );
    // A name is metadata the client may leave out.
    let nameless = assert_ok(post_file(&ann, "", data[..10].to_vec()).await, StatusCode::CREATED);
    assert_eq!(nameless["file_name"], "file");
    let anonymous = Api::new(&node.base)
        .send(
            Api::new(&node.base)
                .request(Method::POST, "/v1/files?file_name=x")
                .body(vec![1, 2, 3]),
        )
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    // A form's framing is not stored as part of the file: a multipart body is refused.
    let form = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nabc\r\n--b--\r\n";
    let multipart = ann
        .api
        .send(
            ann.api
                .request(Method::POST, "/v1/files?file_name=x")
                .header("content-type", "multipart/form-data; boundary=b")
                .body(form.to_vec()),
        )
        .await;
    let message = assert_error(&multipart, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    assert!(message.contains("not multipart/form-data"), "{message}");
    assert_eq!(on_disk(&node).len(), 3, "a refused form keeps nothing");
}

#[tokio::test]
async fn byte_ranges_are_served() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let data = blob(1000, 4);
    let info = assert_ok(
        post_file(&ann, "file_name=r.bin", data.clone()).await,
        StatusCode::CREATED,
    );
    let url = info["file_url"].as_str().unwrap();

    let (status, headers, body) = download(&ann, url, &[(RANGE, "bytes=100-199")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &data[100..200]);
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes 100-199/1000");
    assert_eq!(header(&headers, CONTENT_LENGTH), "100");

    let (status, headers, body) = download(&ann, url, &[(RANGE, "bytes=900-")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &data[900..]);
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes 900-999/1000");

    let (status, headers, body) = download(&ann, url, &[(RANGE, "bytes=-50")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &data[950..]);
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes 950-999/1000");

    let (status, headers, body) = download(&ann, url, &[(RANGE, "bytes=990-5000")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &data[990..]);
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes 990-999/1000");

    let (status, headers, _) = download(&ann, url, &[(RANGE, "bytes=1000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&headers, CONTENT_RANGE), "bytes */1000");

    let (status, _, body) = download(&ann, url, &[(RANGE, "bytes=0-1,5-6")]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "several ranges are not served: the whole file is"
    );
    assert_eq!(body, data);

    let etag = format!("\"{}\"", sha_hex(&data));
    let (status, _, body) = download(&ann, url, &[(IF_NONE_MATCH, etag.as_str())]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
}

#[tokio::test]
async fn only_the_uploader_and_participants_of_a_sharing_conversation_can_read_a_file() {
    let node = TestNode::start().await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let data = blob(4096, 5);

    let shared = assert_ok(
        post_file(&ann, &format!("file_name=g.bin&conversation_id={group}"), data.clone()).await,
        StatusCode::CREATED,
    );
    assert_eq!(shared["conversation_id"], group.as_str());
    let url = shared["file_url"].as_str().unwrap();
    let (status, _, body) = download(&bob, url, &[]).await;
    assert_eq!(status, StatusCode::OK, "a participant of the conversation can download");
    assert!(body == data);
    assert_ok(bob.api.get(&format!("{url}/info")).await, StatusCode::OK);
    let (status, _, _) = download(&carl, url, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a stranger cannot");
    assert_error(
        &carl.api.get(&format!("{url}/info")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let (status, _, _) = download(&carl, &format!("/v1/files/{}", Uuid::new_v4()), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the same answer as for no file at all");

    // A private file, then shared in a DM with carl.
    let private = assert_ok(
        post_file(&ann, "file_name=p.bin", data.clone()).await,
        StatusCode::CREATED,
    );
    let private_url = private["file_url"].as_str().unwrap();
    let (status, _, _) = download(&bob, private_url, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let dm = conversation(&ann, "DM", &[&carl]).await;
    let outsider = post_file(&carl, &format!("file_name=x&conversation_id={group}"), data.clone()).await;
    assert_error(&outsider, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_error(
        &carl
            .api
            .post(&format!("{private_url}/share"), json!({ "conversation_id": dm }))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api
            .post(&format!("{url}/share"), json!({ "conversation_id": group }))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let not_mine = conversation(&bob, "GROUP", &[&carl]).await;
    assert_error(
        &ann.api
            .post(&format!("{private_url}/share"), json!({ "conversation_id": not_mine }))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_ok(
        ann.api
            .post(&format!("{private_url}/share"), json!({ "conversation_id": dm }))
            .await,
        StatusCode::OK,
    );
    let (status, _, body) = download(&carl, private_url, &[]).await;
    assert_eq!(status, StatusCode::OK, "shared later, readable by the DM's participant");
    assert!(body == data);
    let (status, _, _) = download(&bob, private_url, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "but still not by others");

    // A resumable upload for the group is readable by its participants once completed.
    let upload = create_upload(&ann, &data, json!({ "conversation_id": group })).await;
    let id = upload["id"].as_str().unwrap();
    assert_ok(put_chunk(&ann, id, 0, &data).await, StatusCode::OK);
    let done = assert_ok(
        ann.api.post_empty(&format!("/v1/uploads/{id}/complete")).await,
        StatusCode::OK,
    );
    let (status, _, body) = download(&bob, done["file_url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == data);
    let (status, _, _) = download(&carl, done["file_url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_size_limit_is_enforced_while_streaming() {
    let node = TestNode::start_with(|config| config.max_file_bytes = 1024 * 1024).await;
    let ann = node.user("ann").await;
    let data = blob(2 * MIB, 6);

    let declared = post_file(&ann, "file_name=big.bin", data.clone()).await;
    assert_error(&declared, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    assert!(on_disk(&node).is_empty(), "{:?}", on_disk(&node));

    // Without a Content-Length the limit is found while streaming, and the partial file removed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let request = ann
        .api
        .request(Method::POST, "/v1/files?file_name=big.bin")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)));
    assert_error(
        &ann.api.send(request).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    assert!(on_disk(&node).is_empty(), "{:?}", on_disk(&node));

    let session = ann
        .api
        .post(
            "/v1/uploads",
            json!({ "file_name": "big.bin", "file_size": data.len(), "content_type": "a/b", "sha256": sha_hex(&data) }),
        )
        .await;
    assert_error(&session, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");

    let fits = assert_ok(
        post_file(&ann, "file_name=fits.bin", data[..MIB].to_vec()).await,
        StatusCode::CREATED,
    );
    assert_eq!(fits["size"], MIB);
    assert_eq!(on_disk(&node), [fits["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn stale_uploads_are_listed_and_cleaned_up() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let data = blob(10_000, 7);
    let idle = create_upload(&ann, &data, json!({})).await;
    let started = create_upload(&ann, &data, json!({})).await;
    assert_ok(
        put_chunk(&ann, started["id"].as_str().unwrap(), 0, &data[..4000]).await,
        StatusCode::OK,
    );
    let finished = create_upload(&ann, &data, json!({})).await;
    let finished_id = finished["id"].as_str().unwrap();
    assert_ok(put_chunk(&ann, finished_id, 0, &data).await, StatusCode::OK);
    let done = assert_ok(
        ann.api.post_empty(&format!("/v1/uploads/{finished_id}/complete")).await,
        StatusCode::OK,
    );
    create_upload(&bob, &data, json!({})).await;

    let recent = assert_ok(
        ann.api.get("/v1/uploads/stale?older_than_sec=3600").await,
        StatusCode::OK,
    );
    assert_eq!(recent["uploads"].as_array().unwrap().len(), 0);
    let stale = assert_ok(ann.api.get("/v1/uploads/stale?older_than_sec=0").await, StatusCode::OK);
    let mut ids: Vec<&str> = stale["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![idle["id"].as_str().unwrap(), started["id"].as_str().unwrap()];
    expected.sort();
    assert_eq!(ids, expected, "only ann's unfinished uploads");
    assert_eq!(on_disk(&node).len(), 2, "one part and one blob");

    let deleted = assert_ok(
        ann.api.delete("/v1/uploads/stale?older_than_sec=0").await,
        StatusCode::OK,
    );
    assert_eq!(deleted["deleted"], 2);
    for id in expected {
        let upload = assert_ok(ann.api.get(&format!("/v1/uploads/{id}")).await, StatusCode::OK);
        assert_eq!(upload["status"], "CANCELLED");
    }
    assert_eq!(
        on_disk(&node),
        [done["file_id"].as_str().unwrap()],
        "the part is gone, the blob stays"
    );
    let again = assert_ok(ann.api.get("/v1/uploads/stale?older_than_sec=0").await, StatusCode::OK);
    assert_eq!(again["uploads"].as_array().unwrap().len(), 0);
    let bobs = assert_ok(bob.api.get("/v1/uploads/stale?older_than_sec=0").await, StatusCode::OK);
    assert_eq!(
        bobs["uploads"].as_array().unwrap().len(),
        1,
        "another user's uploads are untouched"
    );
}

#[tokio::test]
async fn uploads_are_listed_for_their_uploader_only() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let data = blob(100, 8);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let upload = create_upload(&ann, &data, json!({})).await;
        ids.push(upload["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_ok(put_chunk(&ann, &ids[0], 0, &data).await, StatusCode::OK);
    assert_ok(
        ann.api.post_empty(&format!("/v1/uploads/{}/complete", ids[0])).await,
        StatusCode::OK,
    );
    let cancelled = assert_ok(ann.api.delete(&format!("/v1/uploads/{}", ids[1])).await, StatusCode::OK);
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_error(
        &put_chunk(&ann, &ids[1], 0, &data).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );

    let names = |list: &Value| -> Vec<String> {
        list["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = assert_ok(ann.api.get("/v1/uploads").await, StatusCode::OK);
    assert_eq!(
        names(&all),
        [ids[2].clone(), ids[1].clone(), ids[0].clone()],
        "newest first"
    );
    let page = assert_ok(ann.api.get("/v1/uploads?page=2&limit=2").await, StatusCode::OK);
    assert_eq!(names(&page), [ids[0].clone()]);
    let own = assert_ok(
        ann.api.get(&format!("/v1/uploads?uploader_id={}", ann.id)).await,
        StatusCode::OK,
    );
    assert_eq!(names(&own).len(), 3);
    assert_error(
        &ann.api.get(&format!("/v1/uploads?uploader_id={}", bob.id)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &ann.api.get("/v1/uploads?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    let completed = assert_ok(ann.api.get("/v1/uploads/completed").await, StatusCode::OK);
    assert_eq!(names(&completed), [ids[0].clone()]);
    assert_eq!(completed["uploads"][0]["status"], "COMPLETED");
    let in_progress = assert_ok(ann.api.get("/v1/uploads/in-progress").await, StatusCode::OK);
    assert_eq!(names(&in_progress), [ids[2].clone()]);

    let bobs = assert_ok(bob.api.get("/v1/uploads").await, StatusCode::OK);
    assert!(names(&bobs).is_empty());
    for id in &ids {
        assert_error(
            &bob.api.get(&format!("/v1/uploads/{id}")).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        assert_error(
            &bob.api.delete(&format!("/v1/uploads/{id}")).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        assert_error(&put_chunk(&bob, id, 0, b"x").await, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    assert_error(
        &ann.api.get(&format!("/v1/uploads/{}", Uuid::new_v4())).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

/// A body that sends `good` bytes, then breaks off.
fn broken_body(good: &[u8]) -> reqwest::Body {
    let items: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(good.to_vec()),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    reqwest::Body::wrap_stream(futures_util::stream::iter(items))
}

#[tokio::test]
async fn an_interrupted_body_leaves_nothing_behind() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let data = blob(600_000, 9);

    let request = ann
        .api
        .request(Method::POST, "/v1/files?file_name=cut.bin")
        .bearer_auth(&ann.token)
        .body(broken_body(&data[..300_000]));
    let _ = request.send().await;

    let upload = create_upload(&ann, &data, json!({})).await;
    let id = upload["id"].as_str().unwrap();
    assert_ok(put_chunk(&ann, id, 0, &data[..100_000]).await, StatusCode::OK);
    let request = ann
        .api
        .request(Method::PUT, &format!("/v1/uploads/{id}/data?offset=100000"))
        .bearer_auth(&ann.token)
        .body(broken_body(&data[100_000..400_000]));
    let _ = request.send().await;

    // The server notices the broken body on its own schedule.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let busy = ann
            .api
            .post(
                &format!("/v1/uploads/{id}/progress"),
                json!({ "uploaded_bytes": 100_000 }),
            )
            .await;
        if on_disk(&node) == [format!("upload-{id}.part")] && busy.0 == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {:?}",
            on_disk(&node)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let status = assert_ok(ann.api.get(&format!("/v1/uploads/{id}")).await, StatusCode::OK);
    assert_eq!(status["uploaded_bytes"], 100_000, "the broken chunk does not count");
    assert_ok(put_chunk(&ann, id, 100_000, &data[100_000..]).await, StatusCode::OK);
    let done = assert_ok(
        ann.api.post_empty(&format!("/v1/uploads/{id}/complete")).await,
        StatusCode::OK,
    );
    assert_eq!(done["status"], "COMPLETED", "resumed after the broken chunk");
    let (_, _, body) = download(&ann, done["file_url"].as_str().unwrap(), &[]).await;
    assert!(body == data);
}

#[tokio::test]
async fn a_deleted_account_takes_its_files_and_uploads_along() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let data = blob(4096, 3);
    let stored = assert_ok(
        post_file(&ann, &format!("file_name=a&conversation_id={group}"), data.clone()).await,
        StatusCode::CREATED,
    );
    let upload = create_upload(&ann, &data, json!({})).await;
    assert_ok(
        put_chunk(&ann, upload["id"].as_str().unwrap(), 0, &data[..1024]).await,
        StatusCode::OK,
    );
    let kept = assert_ok(post_file(&bob, "file_name=b", blob(100, 4)).await, StatusCode::CREATED);
    assert_eq!(on_disk(&node).len(), 3);

    assert_ok(ann.api.delete("/v1/users/me").await, StatusCode::OK);
    let info = format!("/v1/files/{}/info", stored["id"].as_str().unwrap());
    assert_error(&bob.api.get(&info).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        on_disk(&node),
        [kept["id"].as_str().unwrap().to_owned()],
        "only bob's blob is left"
    );
}

#[tokio::test]
async fn abandoned_uploads_are_cancelled_in_the_background() {
    let node = TestNode::start_with(|config| {
        config.maintenance_interval = std::time::Duration::from_millis(100);
        config.upload_idle_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let ann = node.user("ann").await;
    let data = blob(2048, 5);
    let upload = create_upload(&ann, &data, json!({})).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    assert_ok(put_chunk(&ann, &id, 0, &data[..512]).await, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    // The status is stored (and visible) before the bytes are removed, so wait for both.
    loop {
        let status = assert_ok(ann.api.get(&format!("/v1/uploads/{id}")).await, StatusCode::OK);
        if status["status"] == "CANCELLED" && on_disk(&node).is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle upload was cancelled and its bytes are gone: {status}, {:?}",
            on_disk(&node)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
