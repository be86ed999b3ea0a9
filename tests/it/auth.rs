use crate::support::*;

use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

fn register_body(name: &str, device_id: Uuid) -> Value {
    json!({
        "email": format!("{name}@example.org"),
        "username": name,
        "password": PASSWORD,
        "device_id": device_id,
    })
}

async fn login(node: &TestNode, identity: &str, password: &str, device_id: Uuid) -> (StatusCode, Value) {
    node.client()
        .post(
            "/v1/auth/login",
            json!({ "identity": identity, "password": password, "device_id": device_id }),
        )
        .await
}

async fn refresh(node: &TestNode, session_id: &str, refresh_token: &str) -> (StatusCode, Value) {
    node.client()
        .post(
            "/v1/auth/refresh",
            json!({ "session_id": session_id, "refresh_token": refresh_token }),
        )
        .await
}

/// Whether `token` still authenticates.
async fn token_works(node: &TestNode, token: &str) -> bool {
    let (status, body) = node.client().with_token(token).get("/v1/users/me").await;
    match status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => {
            assert_eq!(body["success"], false, "{body}");
            assert_eq!(body["code"], "UNAUTHORIZED", "{body}");
            false
        }
        other => panic!("unexpected {other}: {body}"),
    }
}

async fn forgot(node: &TestNode, identity: &str) -> Value {
    assert_ok(
        node.client()
            .post("/v1/auth/password/forgot", json!({ "identity": identity }))
            .await,
        StatusCode::OK,
    )
}

#[tokio::test]
async fn register_returns_a_session_for_the_new_device() {
    let node = TestNode::start().await;
    let device_id = Uuid::new_v4();
    let data = assert_ok(
        node.client()
            .post(
                "/v1/auth/register",
                json!({
                    "email": "  Ann@Example.ORG ",
                    "username": "Ann_1",
                    "password": PASSWORD,
                    "device_id": device_id,
                    "phone_number": "+1 555 123-4567",
                    "display_name": "Ann Example",
                    "device_name": "Ann's laptop",
                    "device_type": "desktop",
                }),
            )
            .await,
        StatusCode::CREATED,
    );
    let user_id: Uuid = data["user_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(data["device_id"], device_id.to_string());
    let session_id: Uuid = data["session_id"].as_str().unwrap().parse().unwrap();
    assert_ne!(user_id, session_id);
    let access = data["access_token"].as_str().unwrap();
    let refresh_token = data["refresh_token"].as_str().unwrap();
    assert!(!access.is_empty() && !refresh_token.is_empty());
    assert_ne!(access, refresh_token);
    assert!(data["expires_at"].is_string(), "{data}");
    assert!(data["refresh_expires_at"].is_string(), "{data}");

    let me = assert_ok(
        node.client().with_token(access).get("/v1/users/me").await,
        StatusCode::OK,
    );
    assert_eq!(me["id"], user_id.to_string());
    assert_eq!(me["email"], "ann@example.org");
    assert_eq!(me["username"], "ann_1");
    assert_eq!(me["phone_number"], "+15551234567");
    assert_eq!(me["display_name"], "Ann Example");

    let devices = assert_ok(
        node.client().with_token(access).get("/v1/users/me/devices").await,
        StatusCode::OK,
    );
    let devices = devices["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["id"], device_id.to_string());
    assert_eq!(devices[0]["device_name"], "Ann's laptop");
    assert_eq!(devices[0]["device_type"], "desktop");
    assert_eq!(devices[0]["is_active"], true);
}

#[tokio::test]
async fn register_without_a_display_name_uses_the_username() {
    let node = TestNode::start().await;
    let data = assert_ok(
        node.client()
            .post("/v1/auth/register", register_body("plain", Uuid::new_v4()))
            .await,
        StatusCode::CREATED,
    );
    let token = data["access_token"].as_str().unwrap();
    let me = assert_ok(
        node.client().with_token(token).get("/v1/users/me").await,
        StatusCode::OK,
    );
    assert_eq!(me["display_name"], "plain");
    assert_eq!(me["phone_number"], Value::Null);
}

#[tokio::test]
async fn register_refuses_duplicate_email_username_phone_and_device() {
    let node = TestNode::start().await;
    let api = node.client();
    let device_id = Uuid::new_v4();
    let mut first = register_body("ann", device_id);
    first["phone_number"] = json!("+15551234567");
    assert_ok(api.post("/v1/auth/register", first).await, StatusCode::CREATED);

    let mut same_email = register_body("other1", Uuid::new_v4());
    same_email["email"] = json!("ANN@example.org");
    let message = assert_error(
        &api.post("/v1/auth/register", same_email).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("email"), "{message}");

    let mut same_username = register_body("other2", Uuid::new_v4());
    same_username["username"] = json!("ANN");
    let message = assert_error(
        &api.post("/v1/auth/register", same_username).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("username"), "{message}");

    let mut same_phone = register_body("other3", Uuid::new_v4());
    same_phone["phone_number"] = json!("+1 (555) 123-4567");
    let message = assert_error(
        &api.post("/v1/auth/register", same_phone).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("phone_number"), "{message}");

    let same_device = register_body("other4", device_id);
    let message = assert_error(
        &api.post("/v1/auth/register", same_device).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("device_id"), "{message}");

    // None of the refused registrations created an account.
    for name in ["other1", "other2", "other3", "other4"] {
        assert_error(
            &login(&node, name, PASSWORD, Uuid::new_v4()).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        );
    }
}

#[tokio::test]
async fn register_names_missing_and_invalid_fields() {
    let node = TestNode::start().await;
    let api = node.client();
    for field in ["email", "username", "password", "device_id"] {
        let mut body = register_body("ann", Uuid::new_v4());
        body.as_object_mut().unwrap().remove(field);
        let message = assert_error(
            &api.post("/v1/auth/register", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert_eq!(message, format!("missing field `{field}`"));
    }

    let cases = [
        ("email", json!("not-an-email")),
        ("email", json!("ann@example")),
        ("email", json!("")),
        ("password", json!("short")),
        ("username", json!("an")),
        ("username", json!("ann smith")),
        ("username", json!("_ann")),
        ("username", json!("x".repeat(33))),
        ("phone_number", json!("5551234567")),
        ("device_type", json!("toaster")),
        ("display_name", json!("x".repeat(65))),
        ("device_id", json!("not-a-uuid")),
        ("email", json!(42)),
    ];
    for (field, value) in cases {
        let mut body = register_body("ann", Uuid::new_v4());
        body[field] = value.clone();
        let message = assert_error(
            &api.post("/v1/auth/register", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(
            message.starts_with(&format!("{field}:")),
            "{field} = {value}: {message}"
        );
    }

    let malformed = api
        .request(reqwest::Method::POST, "/v1/auth/register")
        .header("content-type", "application/json")
        .body("{\"email\": ");
    assert_error(&api.send(malformed).await, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    // Nothing was registered by any of the refused requests.
    assert_ok(
        api.post("/v1/auth/register", register_body("ann", Uuid::new_v4()))
            .await,
        StatusCode::CREATED,
    );
}

#[tokio::test]
async fn login_by_email_username_and_phone() {
    let node = TestNode::start().await;
    let mut body = register_body("ann", Uuid::new_v4());
    body["phone_number"] = json!("+15551234567");
    let registered = assert_ok(node.client().post("/v1/auth/register", body).await, StatusCode::CREATED);
    let user_id = registered["user_id"].clone();
    let identities = [
        "ann@example.org",
        " ANN@Example.org ",
        "ann",
        "Ann",
        "+15551234567",
        // The phone number as the user typed it at registration.
        "+1 555 123-4567",
    ];
    for identity in identities {
        let device_id = Uuid::new_v4();
        let data = assert_ok(login(&node, identity, PASSWORD, device_id).await, StatusCode::OK);
        assert_eq!(data["user_id"], user_id, "{identity}");
        assert_eq!(data["device_id"], device_id.to_string(), "{identity}");
        assert_ne!(data["session_id"], registered["session_id"], "{identity}");
        let me = assert_ok(
            node.client()
                .with_token(data["access_token"].as_str().unwrap())
                .get("/v1/users/me")
                .await,
            StatusCode::OK,
        );
        assert_eq!(me["id"], user_id, "{identity}");
    }
}

#[tokio::test]
async fn login_with_a_wrong_password_or_unknown_identity_is_unauthorized() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    for (identity, password) in [
        ("ann", "wrong password"),
        ("ann@example.org", "correct horse battery!"),
        ("nobody", PASSWORD),
        ("nobody@example.org", PASSWORD),
    ] {
        let message = assert_error(
            &login(&node, identity, password, Uuid::new_v4()).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        );
        assert_eq!(message, "invalid identity or password");
    }
    let missing = node
        .client()
        .post(
            "/v1/auth/login",
            json!({ "identity": "ann", "device_id": Uuid::new_v4() }),
        )
        .await;
    let message = assert_error(&missing, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(message, "missing field `password`");
    // The failed attempts added no device.
    let devices = assert_ok(ann.api.get("/v1/users/me/devices").await, StatusCode::OK);
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn login_on_a_device_owned_by_another_user_conflicts() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let ann_device: Uuid = ann.device_id.parse().unwrap();
    let message = assert_error(
        &login(&node, &bob.name, &bob.password, ann_device).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("device_id"), "{message}");
    // Ann's session on that device is untouched, and Bob did not gain the device.
    assert!(token_works(&node, &ann.token).await);
    let devices = assert_ok(bob.api.get("/v1/users/me/devices").await, StatusCode::OK);
    let devices = devices["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["id"], bob.device_id);
}

#[tokio::test]
async fn logging_in_again_on_a_device_replaces_its_session() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let device: Uuid = ann.device_id.parse().unwrap();
    let data = assert_ok(login(&node, "ann", PASSWORD, device).await, StatusCode::OK);
    assert_eq!(data["device_id"], ann.device_id);
    assert_ne!(data["session_id"], ann.session_id);
    assert!(!token_works(&node, &ann.token).await);
    assert!(token_works(&node, data["access_token"].as_str().unwrap()).await);
    let sessions = assert_ok(
        node.client()
            .with_token(data["access_token"].as_str().unwrap())
            .get("/v1/auth/sessions")
            .await,
        StatusCode::OK,
    );
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refresh_rotates_the_token_pair() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let first = assert_ok(
        refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::OK,
    );
    let access = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_ne!(refresh_token, ann.refresh_token);
    assert!(first["expires_at"].is_string() && first["refresh_expires_at"].is_string());
    assert!(token_works(&node, access).await);
    // The new refresh token works in turn, and so does every access token of the live session.
    let second = assert_ok(refresh(&node, &ann.session_id, refresh_token).await, StatusCode::OK);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert!(token_works(&node, second["access_token"].as_str().unwrap()).await);
    assert!(token_works(&node, &ann.token).await);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_session() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let rotated = assert_ok(
        refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::OK,
    );
    let newest_refresh = rotated["refresh_token"].as_str().unwrap();
    let newest_access = rotated["access_token"].as_str().unwrap();

    let message = assert_error(
        &refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert!(message.contains("reuse"), "{message}");

    assert_error(
        &refresh(&node, &ann.session_id, newest_refresh).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert!(!token_works(&node, newest_access).await);
    assert!(!token_works(&node, &ann.token).await);
    // Only the session whose token was replayed ends.
    assert!(token_works(&node, &other.token).await);
}

#[tokio::test]
async fn refresh_with_a_wrong_token_or_session_is_unauthorized() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    assert_error(
        &refresh(&node, &ann.session_id, "not-the-token").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(
        &refresh(&node, &Uuid::new_v4().to_string(), &ann.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // Another session's refresh token does not fit this session.
    assert_error(
        &refresh(&node, &ann.session_id, &bob.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let missing = node
        .client()
        .post("/v1/auth/refresh", json!({ "session_id": ann.session_id }))
        .await;
    let message = assert_error(&missing, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(message, "missing field `refresh_token`");
    // A wrong guess is not a replay: both sessions live on and their tokens still refresh.
    assert!(token_works(&node, &ann.token).await);
    assert!(token_works(&node, &bob.token).await);
    assert_ok(
        refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::OK,
    );
    assert_ok(
        refresh(&node, &bob.session_id, &bob.refresh_token).await,
        StatusCode::OK,
    );
}

#[tokio::test]
async fn refresh_after_the_refresh_token_expired_is_unauthorized() {
    let node = TestNode::start_with(|c| c.refresh_token_ttl = std::time::Duration::ZERO).await;
    let ann = node.user("ann").await;
    let message = assert_error(
        &refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn logout_ends_the_current_session_at_once() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let mut socket = ann.ws(&node).await;
    socket.sync().await;
    let mut other_socket = other.ws(&node).await;
    other_socket.sync().await;
    assert_ok(ann.api.post_empty("/v1/auth/logout").await, StatusCode::OK);
    assert!(
        socket.closed_within(Duration::from_secs(5)).await,
        "the session's socket closes"
    );
    assert!(!other_socket.closed_within(Duration::from_millis(200)).await);
    assert_error(
        &ann.api.get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(
        &refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // Logging out twice with the dead token is refused, and the other device is unaffected.
    assert_error(
        &ann.api.post_empty("/v1/auth/logout").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert!(token_works(&node, &other.token).await);
    let sessions = assert_ok(other.api.get("/v1/auth/sessions").await, StatusCode::OK);
    let sessions = sessions["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], other.session_id);
}

#[tokio::test]
async fn logout_with_a_session_id_ends_that_session() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    assert_ok(
        ann.api
            .post("/v1/auth/logout", json!({ "session_id": other.session_id }))
            .await,
        StatusCode::OK,
    );
    assert!(!token_works(&node, &other.token).await);
    assert!(token_works(&node, &ann.token).await);
    assert_error(
        &ann.api
            .post("/v1/auth/logout", json!({ "session_id": bob.session_id }))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert!(token_works(&node, &bob.token).await);
    assert!(token_works(&node, &ann.token).await);
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    let data = assert_ok(ann.api.post_empty("/v1/auth/logout-all").await, StatusCode::OK);
    assert_eq!(data["message"], "2 sessions ended");
    assert!(!token_works(&node, &ann.token).await);
    assert!(!token_works(&node, &other.token).await);
    assert_error(
        &refresh(&node, &other.session_id, &other.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert!(token_works(&node, &bob.token).await);
    // The account itself is fine: logging in again opens a new session.
    assert_ok(login(&node, "ann", PASSWORD, Uuid::new_v4()).await, StatusCode::OK);
}

#[tokio::test]
async fn sessions_are_listed_with_exactly_one_current() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    for (me, device_name) in [(&ann, "ann's phone"), (&other, "unnamed device")] {
        let data = assert_ok(me.api.get("/v1/auth/sessions").await, StatusCode::OK);
        let sessions = data["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2, "{data}");
        let current: Vec<&Value> = sessions.iter().filter(|s| s["is_current"] == true).collect();
        assert_eq!(current.len(), 1, "{data}");
        assert_eq!(current[0]["id"], me.session_id);
        assert_eq!(current[0]["device_id"], me.device_id);
        assert_eq!(current[0]["device_name"], device_name);
        let mut ids: Vec<&str> = sessions.iter().map(|s| s["id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        let mut expected = [ann.session_id.as_str(), other.session_id.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        for session in sessions {
            assert!(session["created_at"].is_string() && session["last_active"].is_string());
            assert_eq!(session["ip_address"], "127.0.0.1");
        }
        // Newest first.
        assert_eq!(sessions[0]["id"], other.session_id);
    }
    let data = assert_ok(bob.api.get("/v1/auth/sessions").await, StatusCode::OK);
    let sessions = data["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], bob.session_id);
    assert_eq!(sessions[0]["is_current"], true);
}

#[tokio::test]
async fn a_single_session_can_be_revoked() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    let mut socket = other.ws(&node).await;
    socket.sync().await;
    assert_ok(
        ann.api
            .delete(&format!("/v1/users/me/sessions/{}", other.session_id))
            .await,
        StatusCode::OK,
    );
    assert!(
        socket.closed_within(Duration::from_secs(5)).await,
        "the revoked session's socket closes"
    );
    assert!(!token_works(&node, &other.token).await);
    assert_error(
        &refresh(&node, &other.session_id, &other.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert!(token_works(&node, &ann.token).await);
    // Gone now, so a second revocation finds nothing.
    assert_error(
        &ann.api
            .delete(&format!("/v1/users/me/sessions/{}", other.session_id))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    // Another user's session is hidden from Ann and stays alive.
    assert_error(
        &ann.api
            .delete(&format!("/v1/users/me/sessions/{}", bob.session_id))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert!(token_works(&node, &bob.token).await);
    assert_error(
        &ann.api.delete("/v1/users/me/sessions/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    let data = assert_ok(ann.api.get("/v1/auth/sessions").await, StatusCode::OK);
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn revoking_other_sessions_keeps_the_current_one() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let second = node.second_device(&ann).await;
    let third = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    let data = assert_ok(second.api.delete("/v1/users/me/sessions").await, StatusCode::OK);
    assert_eq!(data["message"], "2 sessions ended");
    assert!(token_works(&node, &second.token).await);
    assert!(!token_works(&node, &ann.token).await);
    assert!(!token_works(&node, &third.token).await);
    assert!(token_works(&node, &bob.token).await);
    let data = assert_ok(second.api.get("/v1/auth/sessions").await, StatusCode::OK);
    let sessions = data["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], second.session_id);
    assert_eq!(sessions[0]["is_current"], true);
    // The current session can still refresh.
    assert_ok(
        refresh(&node, &second.session_id, &second.refresh_token).await,
        StatusCode::OK,
    );
}

#[tokio::test]
async fn password_reset_with_a_dev_mode_token() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let data = forgot(&node, "ann@example.org").await;
    assert!(data["message"].is_string(), "{data}");
    let token = data["reset_token"]
        .as_str()
        .expect("dev mode returns the token")
        .to_owned();

    // A too-short new password is refused without spending the token.
    let message = assert_error(
        &node
            .client()
            .post(
                "/v1/auth/password/reset",
                json!({ "reset_token": token, "new_password": "short" }),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("new_password:"), "{message}");

    let mut socket = other.ws(&node).await;
    socket.sync().await;
    let new_password = "a brand new passphrase";
    assert_ok(
        node.client()
            .post(
                "/v1/auth/password/reset",
                json!({ "reset_token": token, "new_password": new_password }),
            )
            .await,
        StatusCode::OK,
    );
    // Every session of the account ended, live sockets included.
    assert!(socket.closed_within(Duration::from_secs(5)).await);
    assert!(!token_works(&node, &ann.token).await);
    assert!(!token_works(&node, &other.token).await);
    assert_error(
        &refresh(&node, &ann.session_id, &ann.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // Only the new password works now.
    assert_error(
        &login(&node, "ann", PASSWORD, Uuid::new_v4()).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let data = assert_ok(login(&node, "ann", new_password, Uuid::new_v4()).await, StatusCode::OK);
    assert!(token_works(&node, data["access_token"].as_str().unwrap()).await);
    // The token is single use.
    assert_error(
        &node
            .client()
            .post(
                "/v1/auth/password/reset",
                json!({ "reset_token": token, "new_password": "yet another passphrase" }),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_ok(login(&node, "ann", new_password, Uuid::new_v4()).await, StatusCode::OK);
}

#[tokio::test]
async fn forgot_password_reveals_no_account() {
    let node = TestNode::start().await;
    node.user("ann").await;
    let known = forgot(&node, "ann").await;
    assert!(known["reset_token"].is_string(), "{known}");
    let by_email = forgot(&node, "ANN@example.org").await;
    assert!(by_email["reset_token"].is_string(), "{by_email}");
    assert_ne!(by_email["reset_token"], known["reset_token"]);
    let unknown = forgot(&node, "nobody@example.org").await;
    assert_eq!(unknown["message"], known["message"]);
    assert!(unknown.get("reset_token").is_none(), "{unknown}");
    assert_error(
        &node
            .client()
            .post("/v1/auth/password/forgot", json!({ "identity": "  " }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert_error(
        &node
            .client()
            .post(
                "/v1/auth/password/reset",
                json!({ "reset_token": "made-up", "new_password": "a brand new passphrase" }),
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // A made-up token changed nothing.
    assert_ok(login(&node, "ann", PASSWORD, Uuid::new_v4()).await, StatusCode::OK);
}

#[tokio::test]
async fn forgot_password_outside_dev_mode_returns_no_token() {
    let node = TestNode::start_with(|c| c.dev_mode = false).await;
    let ann = node.user("ann").await;
    let data = forgot(&node, "ann@example.org").await;
    assert!(data["message"].is_string(), "{data}");
    assert!(data.get("reset_token").is_none(), "{data}");
    assert!(token_works(&node, &ann.token).await);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_unauthorized() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let anonymous = node.client();
    for path in [
        "/v1/users/me",
        "/v1/auth/sessions",
        "/v1/users/me/devices",
        "/v1/encryption/identity",
    ] {
        let result = anonymous.get(path).await;
        let message = assert_error(&result, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        assert!(!message.is_empty(), "{path}");
        assert!(result.1.get("data").is_none(), "{}", result.1);
    }
    assert_error(
        &anonymous.post_empty("/v1/auth/logout").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(
        &anonymous.delete("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );

    // Flip the first character of the signature (it carries six full bits, unlike the last one).
    let at = ann.token.rfind('.').unwrap() + 1;
    let flipped = if ann.token[at..].starts_with('A') { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &ann.token[..at], &ann.token[at + 1..]);
    for token in ["garbage", "a.b.c", tampered.as_str(), ann.refresh_token.as_str()] {
        assert_error(
            &node.client().with_token(token).get("/v1/users/me").await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        );
    }
    for header in ["Basic abc def", "Bearer ", "Bearer a b"] {
        let request = anonymous
            .request(reqwest::Method::GET, "/v1/users/me")
            .header("authorization", header);
        assert_error(&anonymous.send(request).await, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    // The raw token without the Bearer prefix is accepted.
    let request = anonymous
        .request(reqwest::Method::GET, "/v1/users/me")
        .header("authorization", ann.token.as_str());
    assert_ok(anonymous.send(request).await, StatusCode::OK);
}

#[tokio::test]
async fn a_token_from_another_node_is_refused() {
    let node = TestNode::start().await;
    let elsewhere = TestNode::start().await;
    let ann = elsewhere.user("ann").await;
    assert_error(
        &node.client().with_token(&ann.token).get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

#[tokio::test]
async fn a_new_reset_token_revokes_the_previous_one() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let api = node.client();
    let forgot = || api.post("/v1/auth/password/forgot", json!({ "identity": "ann" }));
    let first = assert_ok(forgot().await, StatusCode::OK)["reset_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = assert_ok(forgot().await, StatusCode::OK)["reset_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stale = api
        .post(
            "/v1/auth/password/reset",
            json!({ "reset_token": first, "new_password": "another long one" }),
        )
        .await;
    assert_error(&stale, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let fresh = api
        .post(
            "/v1/auth/password/reset",
            json!({ "reset_token": second, "new_password": "another long one" }),
        )
        .await;
    assert_ok(fresh, StatusCode::OK);
    assert_error(
        &ann.api.get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}
