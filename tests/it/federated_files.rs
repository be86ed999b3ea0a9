//! A file shared in a DM across two nodes: it stays on the uploader's node, and the member on the
//! other node downloads it through their own node, naming the uploader. Their node fetches it in
//! chunks on their behalf, checks it against its SHA-256 and keeps the copy, which it serves on even
//! while the uploader's node is down; a user of that node who may not read the file gets nothing.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, RANGE};

use crate::federation::start_bootstrap;
use crate::federation_faults::{NodeSpec, open_dm, register};
use crate::support::*;

/// Bytes over several federation chunks (512 KiB each), not a whole number of them.
const SIZE: usize = 1_300_000;

/// A download: status and body.
async fn download(user: &User, path: &str, range: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut request = user.api.request(Method::GET, path).bearer_auth(&user.token);
    if let Some(range) = range {
        request = request.header(RANGE, range);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_shared_across_nodes_is_fetched_once_through_the_readers_node() {
    let bootstrap = start_bootstrap().await;
    let a = NodeSpec::new("node-a", &bootstrap.address).start();
    let b = NodeSpec::new("node-b", &bootstrap.address).start();
    let ann = register(&a.base, "ann").await;
    let bob = register(&b.base, "bob").await;
    let cat = register(&b.base, "cat").await;
    let dm = open_dm(&ann, &bob).await;
    // Cat's node knows Ann too (from a DM of its own), yet Cat may not read what Ann shared with Bob.
    let cats = assert_ok(
        cat.api
            .post(
                "/v1/conversations",
                json!({ "type": "DM", "participants": ["ann@node-a"] }),
            )
            .await,
        StatusCode::CREATED,
    );
    assert!(cats["id"].is_string());

    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let request = ann
        .api
        .request(
            Method::POST,
            &format!("/v1/files?file_name=ciphertext.bin&conversation_id={dm}"),
        )
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(data.clone());
    let file = assert_ok(ann.api.send(request).await, StatusCode::CREATED);
    let id = file["id"].as_str().unwrap();

    let (status, _) = download(&bob, &format!("/v1/files/{id}"), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not kept on bob's node until asked for by its uploader"
    );
    let through_b = format!("/v1/files/{id}?uploader_id={}", ann.id);
    let (status, body) = download(&bob, &through_b, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == data, "the same bytes, {} of {}", body.len(), data.len());
    let (status, body) = download(&cat, &through_b, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "cat may not read it: {}",
        String::from_utf8_lossy(&body)
    );

    // Ann's node goes down: Bob's node serves its copy, ranges included, and says what it is.
    a.kill();
    let (status, body) = download(&bob, &through_b, Some("bytes=1000000-1000009")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, data[1_000_000..1_000_010]);
    let info = assert_ok(bob.api.get(&format!("/v1/files/{id}/info")).await, StatusCode::OK);
    assert_eq!(
        (info["size"].as_u64(), info["uploader_id"].as_str()),
        (Some(SIZE as u64), Some(ann.id.as_str()))
    );
    let (status, _) = download(&cat, &through_b, None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "whether cat may read it is ann's node's to say"
    );
    drop(b);
}
