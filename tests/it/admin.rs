//! The operator API (`/v1/admin`) and registration modes, over HTTP against a real node.

use std::time::Duration;

use node::{OPERATOR_TOKEN_FILE, Registration};

use crate::federation::{FederatedNode, eventually, resolve, start_bootstrap, start_node};
use crate::support::*;

/// An operator account made through the local operator token, and an API client logged in as it.
async fn operator(node: &TestNode) -> Api {
    let local = local_operator(node);
    assert_ok(
        local
            .post(
                "/v1/admin/users",
                json!({ "username": "root", "email": "root@example.org", "password": "operator password", "role": "operator" }),
            )
            .await,
        StatusCode::CREATED,
    );
    node.login("root", "operator password").await.api
}

/// The CLI's credential: the token the node wrote to its data directory.
fn local_operator(node: &TestNode) -> Api {
    let token = std::fs::read_to_string(node.dir.path().join(OPERATOR_TOKEN_FILE)).unwrap();
    node.client().with_token(token.trim())
}

fn registration(name: &str, token: Option<&str>) -> Value {
    let mut body = json!({
        "email": format!("{name}@example.org"),
        "username": name,
        "password": "correct horse battery",
        "device_id": Uuid::new_v4(),
    });
    if let Some(token) = token {
        body["registration_token"] = json!(token);
    }
    body
}

#[tokio::test]
async fn a_closed_node_registers_nobody_but_its_operators_make_accounts() {
    let node = TestNode::start_with(|config| config.registration = Registration::Closed).await;
    let refusal = assert_error(
        &node.client().post("/v1/auth/register", registration("ann", None)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(refusal.contains("registration is closed"), "{refusal}");

    let root = operator(&node).await;
    let created = assert_ok(
        root.post(
            "/v1/admin/users",
            json!({ "username": "ann", "email": "ann@example.org" }),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(created["user"]["role"], "user");
    let reset_token = created["reset_token"]
        .as_str()
        .expect("a reset token when no password is given");
    assert_ok(
        node.client()
            .post(
                "/v1/auth/password/reset",
                json!({ "reset_token": reset_token, "new_password": "ann's own password" }),
            )
            .await,
        StatusCode::OK,
    );
    node.login("ann", "ann's own password").await;
}

#[tokio::test]
async fn a_token_node_registers_with_tokens_until_their_uses_or_time_run_out() {
    let node = TestNode::start_with(|config| config.registration = Registration::Token).await;
    let root = operator(&node).await;
    let client = node.client();

    let missing = assert_error(
        &client.post("/v1/auth/register", registration("ann", None)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(missing.contains("registration_token is required"), "{missing}");
    let unknown = assert_error(
        &client
            .post("/v1/auth/register", registration("ann", Some("guess")))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(unknown.contains("not valid"), "{unknown}");

    let once = assert_ok(
        root.post("/v1/admin/registration-tokens", json!({ "uses_allowed": 1 }))
            .await,
        StatusCode::CREATED,
    );
    let once = once["token"].as_str().unwrap().to_owned();
    assert_ok(
        client.post("/v1/auth/register", registration("ann", Some(&once))).await,
        StatusCode::CREATED,
    );
    let used = assert_error(
        &client.post("/v1/auth/register", registration("bob", Some(&once))).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(used.contains("used up"), "{used}");

    let expires_at = chrono::Utc::now() + chrono::TimeDelta::milliseconds(1500);
    assert_ok(
        root.post(
            "/v1/admin/registration-tokens",
            json!({ "token": "spring-party", "expires_at": expires_at }),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_error(
        &root
            .post("/v1/admin/registration-tokens", json!({ "token": "spring-party" }))
            .await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert_ok(
        client
            .post("/v1/auth/register", registration("bob", Some("spring-party")))
            .await,
        StatusCode::CREATED,
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let expired = assert_error(
        &client
            .post("/v1/auth/register", registration("cyd", Some("spring-party")))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(expired.contains("expired"), "{expired}");

    let list = assert_ok(root.get("/v1/admin/registration-tokens").await, StatusCode::OK);
    let party = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["token"] == "spring-party")
        .unwrap();
    assert_eq!(
        (party["completed"].as_u64(), party["valid"].as_bool()),
        (Some(1), Some(false))
    );
    assert_ok(
        root.delete(&format!("/v1/admin/registration-tokens/{once}")).await,
        StatusCode::OK,
    );
    assert_error(
        &root.delete(&format!("/v1/admin/registration-tokens/{once}")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &root
            .post("/v1/admin/registration-tokens", json!({ "uses_allowed": 0 }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn only_operators_reach_the_operator_api() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    assert_error(
        &node.client().get("/v1/admin/stats").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(
        &ann.api.get("/v1/admin/stats").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &node
            .client()
            .with_token("not-the-operator-token")
            .get("/v1/admin/stats")
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_ok(local_operator(&node).get("/v1/admin/stats").await, StatusCode::OK);
    assert_error(&ann.api.get("/goroutines").await, StatusCode::FORBIDDEN, "FORBIDDEN");
    let tasks = assert_ok(local_operator(&node).get("/goroutines").await, StatusCode::OK);
    assert!(tasks["goroutines"].as_u64().unwrap() >= 1, "{tasks}");

    // An operator account may make another; taking the role away takes the access with it.
    let root = operator(&node).await;
    assert_ok(
        root.post("/v1/admin/users/ann/role", json!({ "role": "operator" }))
            .await,
        StatusCode::OK,
    );
    assert_ok(ann.api.get("/v1/admin/stats").await, StatusCode::OK);
    assert_ok(
        root.post("/v1/admin/users/ann/role", json!({ "role": "user" })).await,
        StatusCode::OK,
    );
    assert_error(
        &ann.api.get("/v1/admin/stats").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
}

#[tokio::test]
async fn a_suspension_closes_open_sockets_at_once_and_refuses_logins_until_lifted() {
    let node = TestNode::start().await;
    let root = operator(&node).await;
    let ann = node.user("ann").await;
    let mut socket = ann.ws(&node).await;
    assert_eq!(socket.next().await["type"], "ready");

    let suspended = assert_ok(root.post_empty("/v1/admin/users/ann/suspend").await, StatusCode::OK);
    assert!(suspended["suspended_at"].is_string(), "{suspended}");
    let closed = async {
        while let Some(frame) = socket.next_within(Duration::from_secs(5)).await {
            eprintln!("after the suspension: {frame}");
        }
    };
    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the socket stayed open after the suspension");
    assert_error(
        &ann.api.get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(
        &node
            .client()
            .post(
                "/v1/auth/refresh",
                json!({ "session_id": ann.session_id, "refresh_token": ann.refresh_token }),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let login = json!({ "identity": "ann", "password": ann.password, "device_id": Uuid::new_v4() });
    let refusal = assert_error(
        &node.client().post("/v1/auth/login", login.clone()).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert!(refusal.contains("suspended"), "{refusal}");
    let stats = assert_ok(root.get("/v1/admin/stats").await, StatusCode::OK);
    assert_eq!(stats["suspended_users"], 1);

    assert_ok(root.post_empty("/v1/admin/users/ann/unsuspend").await, StatusCode::OK);
    assert_ok(node.client().post("/v1/auth/login", login).await, StatusCode::OK);
}

#[tokio::test]
async fn an_operator_deletes_an_account_with_its_keys_copies_and_files() {
    let node = TestNode::start().await;
    let root = operator(&node).await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    ann.publish_keys(3).await;
    let dm = conversation(&bob, "DM", &[&ann]).await;
    assert_ok(
        send_text(&bob, &dm, &[&ann, &bob], "hi", "m1").await,
        StatusCode::CREATED,
    );
    let upload = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::POST, "/v1/files?file_name=notes.bin")
                .header("content-type", "application/octet-stream")
                .body(vec![7u8; 4096]),
        )
        .await;
    let file = assert_ok(upload, StatusCode::CREATED);

    let before = assert_ok(root.get("/v1/admin/stats").await, StatusCode::OK);
    assert_eq!((before["users"].as_u64(), before["files"].as_u64()), (Some(3), Some(1)));
    assert_eq!(before["file_bytes"], 4096);
    let listed = assert_ok(root.get("/v1/admin/users?query=an").await, StatusCode::OK);
    assert_eq!(listed["users"][0]["username"], "ann");
    assert_eq!(listed["users"][0]["devices"].as_array().unwrap().len(), 1);
    assert!(listed["users"][0]["last_active"].is_string(), "{listed}");

    assert_ok(root.delete("/v1/admin/users/ann").await, StatusCode::OK);
    let after = assert_ok(root.get("/v1/admin/stats").await, StatusCode::OK);
    assert_eq!((after["users"].as_u64(), after["files"].as_u64()), (Some(2), Some(0)));
    assert_error(
        &root.get("/v1/admin/users/ann").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let bundle = bob
        .api
        .get(&format!(
            "/v1/encryption/bundles?user_id={}&device_id={}",
            ann.id, ann.device_id
        ))
        .await;
    assert_error(&bundle, StatusCode::NOT_FOUND, "NOT_FOUND");
    let file_id = file["id"].as_str().unwrap();
    assert_error(
        &bob.api.get(&format!("/v1/files/{file_id}")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    // Its name is free again.
    node.user("ann").await;
}

#[tokio::test]
async fn an_operator_resets_a_password_and_every_action_is_in_the_audit_log() {
    let node = TestNode::start().await;
    let root = operator(&node).await;
    let ann = node.user("ann").await;
    let reset = assert_ok(
        root.post_empty("/v1/admin/users/ann/password-reset").await,
        StatusCode::OK,
    );
    assert_error(
        &ann.api.get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_ok(
        node.client()
            .post(
                "/v1/auth/password/reset",
                json!({ "reset_token": reset["reset_token"], "new_password": "a brand new one" }),
            )
            .await,
        StatusCode::OK,
    );
    node.login("ann", "a brand new one").await;

    let first = assert_ok(root.get("/v1/admin/audit?limit=1").await, StatusCode::OK);
    assert_eq!(first["entries"][0]["action"], "reset-password");
    assert_eq!(first["entries"][0]["operator"], "user:root");
    assert_eq!(first["entries"][0]["target"], "user:ann");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = assert_ok(
        root.get(&format!("/v1/admin/audit?cursor={cursor}")).await,
        StatusCode::OK,
    );
    assert_eq!(second["entries"][0]["action"], "create-user");
    assert_eq!(second["entries"][0]["operator"], "local");
    assert!(second["next_cursor"].is_null(), "{second}");
    assert_error(
        &root.get("/v1/admin/audit?limit=1000").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn user_lists_page_in_username_order() {
    let node = TestNode::start().await;
    let root = operator(&node).await;
    for name in ["dan", "ann", "cyd", "bob"] {
        node.user(name).await;
    }
    let mut names = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = assert_ok(
            root.get(&format!("/v1/admin/users?limit=2{cursor}")).await,
            StatusCode::OK,
        );
        names.extend(
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(names, ["ann", "bob", "cyd", "dan", "root"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_denies_a_node_while_it_runs_and_allows_it_again() {
    let bootstrap = start_bootstrap().await;
    let a = start_node("node-a", &bootstrap.address).await;
    let c = start_node("node-c", &bootstrap.address).await;
    c.node.user("cara").await;
    let root = operator(&c.node).await;
    let ask = |from: &FederatedNode| {
        let client = from.node.services.federation().unwrap().clone();
        let peer = c.peer_id;
        async move {
            client
                .request(
                    peer,
                    protocol::federation::Request::ResolveUser {
                        username: "cara".into(),
                    },
                )
                .await
        }
    };
    resolve(&a, "node-c").await;
    eventually("node-a to reach node-c", || {
        let request = ask(&a);
        async move { request.await.ok() }
    })
    .await;

    let denied = assert_ok(
        root.put(&format!("/v1/admin/federation/denied/{}", a.peer_id), json!({}))
            .await,
        StatusCode::OK,
    );
    assert_eq!(denied["peer_ids"], json!([a.peer_id.to_base58()]));
    for _ in 0..3 {
        match ask(&a).await {
            Ok(protocol::federation::Response::Error { code, .. }) => assert_eq!(code, "denied"),
            Ok(other) => panic!("a denied node was answered: {other:?}"),
            Err(_) => {}
        }
    }
    assert_error(
        &root.put("/v1/admin/federation/denied/not-a-peer", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    let itself = assert_error(
        &root
            .put(&format!("/v1/admin/federation/denied/{}", c.peer_id), json!({}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(itself.contains("own PeerId"), "{itself}");

    assert_ok(
        root.delete(&format!("/v1/admin/federation/denied/{}", a.peer_id)).await,
        StatusCode::OK,
    );
    eventually("node-a to be answered again", || {
        let request = ask(&a);
        async move {
            match request.await {
                Ok(protocol::federation::Response::User(_)) => Some(()),
                _ => None,
            }
        }
    })
    .await;
}
