use crate::support::*;

/// The usernames of a search result, in order.
fn usernames(data: &Value) -> Vec<String> {
    data["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(user: &User, query: &str) -> (StatusCode, Value) {
    user.api.get(&format!("/v1/users/search?{query}")).await
}

/// The caller's devices, by id.
async fn my_devices(user: &User) -> Vec<Value> {
    let data = assert_ok(user.api.get("/v1/users/me/devices").await, StatusCode::OK);
    data["devices"].as_array().unwrap().clone()
}

fn find<'a>(devices: &'a [Value], id: &str) -> &'a Value {
    devices
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("device {id} in {devices:?}"))
}

#[tokio::test]
async fn me_shows_the_private_profile() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let me = assert_ok(ann.api.get("/v1/users/me").await, StatusCode::OK);
    assert_eq!(me["id"], ann.id);
    assert_eq!(me["email"], "ann@example.org");
    assert_eq!(me["username"], "ann");
    assert_eq!(me["display_name"], "ann display");
    assert_eq!(me["phone_number"], Value::Null);
    assert_eq!(me["avatar_url"], Value::Null);
    assert_eq!(me["status"], Value::Null);
    assert_eq!(me["bio"], Value::Null);
    assert!(me["created_at"].is_string() && me["updated_at"].is_string(), "{me}");
}

#[tokio::test]
async fn profile_updates_change_only_the_given_fields() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let updated = assert_ok(
        ann.api
            .put(
                "/v1/users/me",
                json!({
                    "display_name": "  Ann Example  ",
                    "bio": "Writes tests.",
                    "status": "busy",
                    "avatar_url": "https://example.org/ann.png",
                }),
            )
            .await,
        StatusCode::OK,
    );
    assert_eq!(updated["display_name"], "Ann Example");
    assert_eq!(updated["bio"], "Writes tests.");
    assert_eq!(updated["status"], "busy");
    assert_eq!(updated["avatar_url"], "https://example.org/ann.png");
    assert_eq!(updated["email"], "ann@example.org");
    let me = assert_ok(ann.api.get("/v1/users/me").await, StatusCode::OK);
    assert_eq!(me, updated);

    // Only the fields present change; an empty string clears an optional one.
    let updated = assert_ok(
        ann.api
            .put("/v1/users/me", json!({ "bio": "Reads tests.", "status": "" }))
            .await,
        StatusCode::OK,
    );
    assert_eq!(updated["bio"], "Reads tests.");
    assert_eq!(updated["status"], Value::Null);
    assert_eq!(updated["display_name"], "Ann Example");
    assert_eq!(updated["avatar_url"], "https://example.org/ann.png");

    let invalid = [
        ("avatar_url", json!("ftp://example.org/ann.png")),
        ("avatar_url", json!("not a url")),
        ("display_name", json!("   ")),
        ("display_name", json!("x".repeat(65))),
        ("bio", json!("x".repeat(501))),
        ("status", json!("x".repeat(141))),
        ("status", json!(7)),
    ];
    for (field, value) in invalid {
        let message = assert_error(
            &ann.api.put("/v1/users/me", json!({ field: value })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(message.starts_with(&format!("{field}:")), "{field}: {message}");
    }
    // A field this route does not change is refused, not ignored with a 200.
    let message = assert_error(
        &ann.api.put("/v1/users/me", json!({ "username": "anna" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.contains("unknown field `username`"), "{message}");
    // A refused update changed nothing.
    let me = assert_ok(ann.api.get("/v1/users/me").await, StatusCode::OK);
    assert_eq!(me["username"], "ann");
    assert_eq!(me["avatar_url"], "https://example.org/ann.png");
    assert_eq!(me["display_name"], "Ann Example");
    assert_eq!(me["bio"], "Reads tests.");
}

#[tokio::test]
async fn deleting_the_account_ends_its_sessions_and_frees_its_names() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    other.publish_keys(2).await;
    let mut socket = other.ws(&node).await;
    socket.sync().await;
    assert_ok(ann.api.delete("/v1/users/me").await, StatusCode::OK);
    assert!(socket.closed_within(std::time::Duration::from_secs(5)).await);

    for user in [&ann, &other] {
        assert_error(
            &user.api.get("/v1/users/me").await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        );
    }
    assert_error(
        &bob.api.get(&format!("/v1/users/{}", ann.id)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api.get(&format!("/v1/users/{}/devices", ann.id)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api
            .get(&format!(
                "/v1/encryption/bundles?user_id={}&device_id={}",
                ann.id, other.device_id
            ))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert!(usernames(&assert_ok(search(&bob, "query=ann").await, StatusCode::OK)).is_empty());

    // The username and email are free again; the new account is a different one.
    let again = node.user("ann").await;
    assert_ne!(again.id, ann.id);
    let me = assert_ok(again.api.get("/v1/users/me").await, StatusCode::OK);
    assert_eq!(me["email"], "ann@example.org");
    assert_eq!(
        usernames(&assert_ok(search(&bob, "query=ann").await, StatusCode::OK)),
        ["ann"]
    );
}

#[tokio::test]
async fn settings_start_with_defaults_and_update_partially() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let defaults = json!({ "notifications_enabled": true, "theme": "system", "language": "en" });
    assert_eq!(
        assert_ok(ann.api.get("/v1/users/me/settings").await, StatusCode::OK),
        defaults
    );

    let data = assert_ok(
        ann.api.put("/v1/users/me/settings", json!({ "theme": "Dark" })).await,
        StatusCode::OK,
    );
    assert_eq!(
        data,
        json!({ "notifications_enabled": true, "theme": "dark", "language": "en" })
    );
    let data = assert_ok(
        ann.api
            .put(
                "/v1/users/me/settings",
                json!({ "notifications_enabled": false, "language": "pt-BR" }),
            )
            .await,
        StatusCode::OK,
    );
    let expected = json!({ "notifications_enabled": false, "theme": "dark", "language": "pt-BR" });
    assert_eq!(data, expected);
    assert_eq!(
        assert_ok(ann.api.get("/v1/users/me/settings").await, StatusCode::OK),
        expected
    );

    for (field, value) in [
        ("theme", json!("neon")),
        ("language", json!("x")),
        ("language", json!("en_US")),
        ("notifications_enabled", json!("yes")),
    ] {
        let message = assert_error(
            &ann.api.put("/v1/users/me/settings", json!({ field: value })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(message.starts_with(&format!("{field}:")), "{field}: {message}");
    }
    assert_eq!(
        assert_ok(ann.api.get("/v1/users/me/settings").await, StatusCode::OK),
        expected
    );
    // Settings are per account.
    assert_eq!(
        assert_ok(bob.api.get("/v1/users/me/settings").await, StatusCode::OK),
        defaults
    );
}

#[tokio::test]
async fn public_profile_hides_private_fields() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    assert_ok(
        ann.api
            .put(
                "/v1/users/me",
                json!({ "bio": "hello", "avatar_url": "http://example.org/a.png" }),
            )
            .await,
        StatusCode::OK,
    );
    let profile = assert_ok(bob.api.get(&format!("/v1/users/{}", ann.id)).await, StatusCode::OK);
    assert_eq!(profile["id"], ann.id);
    assert_eq!(profile["username"], "ann");
    assert_eq!(profile["display_name"], "ann display");
    assert_eq!(profile["bio"], "hello");
    assert_eq!(profile["avatar_url"], "http://example.org/a.png");
    assert!(profile["created_at"].is_string());
    assert!(profile.get("email").is_none(), "{profile}");
    assert!(profile.get("phone_number").is_none(), "{profile}");
    assert!(!profile.to_string().contains("ann@example.org"), "{profile}");

    assert_error(
        &bob.api.get(&format!("/v1/users/{}", Uuid::new_v4())).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api.get("/v1/users/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    assert_error(
        &node.client().get(&format!("/v1/users/{}", ann.id)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

#[tokio::test]
async fn search_finds_username_and_display_name_prefixes() {
    let node = TestNode::start().await;
    let alice = node.user("alice").await;
    node.user("alfred").await;
    let bob = node.user("bob").await;
    assert_ok(
        bob.api
            .put("/v1/users/me", json!({ "display_name": "Alpha Bob" }))
            .await,
        StatusCode::OK,
    );

    // Username matches come first, then display-name matches, each user once.
    let data = assert_ok(search(&alice, "query=al").await, StatusCode::OK);
    let mut names = usernames(&data);
    assert_eq!(names.len(), 3, "{data}");
    assert_eq!(names.pop().unwrap(), "bob");
    names.sort();
    assert_eq!(names, ["alfred", "alice"]);
    for user in data["users"].as_array().unwrap() {
        assert!(user.get("email").is_none(), "{user}");
    }

    // Case-insensitive on both indexes.
    let data = assert_ok(search(&alice, "query=AL").await, StatusCode::OK);
    assert_eq!(usernames(&data).len(), 3, "{data}");
    let data = assert_ok(search(&alice, "query=ALPHA%20b").await, StatusCode::OK);
    assert_eq!(usernames(&data), ["bob"]);
    assert_eq!(data["users"][0]["display_name"], "Alpha Bob");
    let data = assert_ok(search(&alice, "query=alic").await, StatusCode::OK);
    assert_eq!(usernames(&data), ["alice"]);
    // The old display name no longer matches.
    let data = assert_ok(search(&alice, "query=bob%20disp").await, StatusCode::OK);
    assert!(usernames(&data).is_empty(), "{data}");
    let data = assert_ok(search(&alice, "query=zzz").await, StatusCode::OK);
    assert!(usernames(&data).is_empty(), "{data}");

    // The limit caps the whole answer.
    let data = assert_ok(search(&alice, "query=al&limit=2").await, StatusCode::OK);
    assert_eq!(usernames(&data).len(), 2, "{data}");
    let data = assert_ok(search(&alice, "query=al&limit=1").await, StatusCode::OK);
    assert_eq!(usernames(&data).len(), 1, "{data}");
    let data = assert_ok(search(&alice, "query=al&limit=50").await, StatusCode::OK);
    assert_eq!(usernames(&data).len(), 3, "{data}");

    for (query, field) in [
        ("query=al&limit=0", "limit"),
        ("query=al&limit=51", "limit"),
        ("query=al&limit=many", "limit"),
        ("query=", "query"),
        ("limit=5", "query"),
    ] {
        let message = assert_error(
            &search(&alice, query).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(message.contains(field), "{query}: {message}");
    }
    assert_error(
        &node.client().get("/v1/users/search?query=al").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

#[tokio::test]
async fn devices_are_listed_for_their_owner() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    let devices = my_devices(&ann).await;
    assert_eq!(devices.len(), 2);
    // Oldest first.
    assert_eq!(devices[0]["id"], ann.device_id);
    assert_eq!(devices[1]["id"], other.device_id);
    assert_eq!(devices[0]["device_name"], "ann's phone");
    assert_eq!(devices[0]["device_type"], "mobile");
    assert_eq!(devices[1]["device_name"], "unnamed device");
    assert_eq!(devices[1]["device_type"], "other");
    for device in &devices {
        assert_eq!(device["is_active"], true);
        assert!(device["created_at"].is_string() && device["last_active"].is_string());
    }
    // The other device sees the same list; Bob sees only his own.
    assert_eq!(my_devices(&other).await, devices);
    let bobs = my_devices(&bob).await;
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0]["id"], bob.device_id);
}

#[tokio::test]
async fn deactivating_a_device_ends_its_session_and_drops_its_keys() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    other.publish_keys(3).await;
    let bundle_path = format!(
        "/v1/encryption/bundles?user_id={}&device_id={}",
        ann.id, other.device_id
    );
    assert_ok(bob.api.get(&bundle_path).await, StatusCode::OK);
    let mut socket = other.ws(&node).await;
    socket.sync().await;

    assert_ok(
        ann.api
            .delete(&format!("/v1/users/me/devices/{}", other.device_id))
            .await,
        StatusCode::OK,
    );
    assert!(socket.closed_within(std::time::Duration::from_secs(5)).await);
    assert_error(
        &other.api.get("/v1/users/me").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(&bob.api.get(&bundle_path).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_error(
        &bob.api
            .get(&format!(
                "/v1/encryption/identity?user_id={}&device_id={}",
                ann.id, other.device_id
            ))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert!(token_ok(&ann).await);

    let devices = my_devices(&ann).await;
    assert_eq!(devices.len(), 2);
    assert_eq!(find(&devices, &other.device_id)["is_active"], false);
    assert_eq!(find(&devices, &ann.device_id)["is_active"], true);
    let public = assert_ok(
        bob.api.get(&format!("/v1/users/{}/devices", ann.id)).await,
        StatusCode::OK,
    );
    let public = public["devices"].as_array().unwrap();
    assert_eq!(public.len(), 1);
    assert_eq!(public[0]["id"], ann.device_id);
    let sessions = assert_ok(ann.api.get("/v1/auth/sessions").await, StatusCode::OK);
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);

    // Logging in on it again reactivates it, without its old keys.
    let again = node
        .client()
        .post(
            "/v1/auth/login",
            json!({ "identity": "ann", "password": ann.password, "device_id": other.device_id }),
        )
        .await;
    let again = assert_ok(again, StatusCode::OK);
    assert_eq!(again["device_id"], other.device_id);
    assert_eq!(find(&my_devices(&ann).await, &other.device_id)["is_active"], true);
    let public = assert_ok(
        bob.api.get(&format!("/v1/users/{}/devices", ann.id)).await,
        StatusCode::OK,
    );
    let public = public["devices"].as_array().unwrap();
    assert_eq!(public.len(), 2);
    assert_eq!(find(public, &other.device_id)["has_active_keys"], false);
    let count = assert_ok(
        bob.api
            .get(&format!(
                "/v1/encryption/onetime-prekeys/count?user_id={}&device_id={}",
                ann.id, other.device_id
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(count["count"], 0);
}

async fn token_ok(user: &User) -> bool {
    user.api.get("/v1/users/me").await.0 == StatusCode::OK
}

#[tokio::test]
async fn another_users_device_cannot_be_deactivated() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    ann.publish_keys(1).await;
    assert_error(
        &bob.api.delete(&format!("/v1/users/me/devices/{}", ann.device_id)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api
            .delete(&format!("/v1/users/me/devices/{}", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api.delete("/v1/users/me/devices/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    // Ann's device, session and keys are untouched.
    assert!(token_ok(&ann).await);
    assert_eq!(find(&my_devices(&ann).await, &ann.device_id)["is_active"], true);
    let active = assert_ok(
        bob.api
            .get(&format!(
                "/v1/encryption/keys/active?user_id={}&device_id={}",
                ann.id, ann.device_id
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(active["has_active_keys"], true);
}

#[tokio::test]
async fn public_device_list_shows_key_status() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let other = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    ann.publish_keys(0).await;
    let data = assert_ok(
        bob.api.get(&format!("/v1/users/{}/devices", ann.id)).await,
        StatusCode::OK,
    );
    assert_eq!(data["user_id"], ann.id);
    let devices = data["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(find(devices, &ann.device_id)["has_active_keys"], true);
    assert_eq!(find(devices, &other.device_id)["has_active_keys"], false);
    // Private device details are not shown to others.
    assert!(devices[0].get("device_name").is_none(), "{data}");

    // Publishing on the second device flips it.
    other.publish_keys(0).await;
    let data = assert_ok(
        bob.api.get(&format!("/v1/users/{}/devices", ann.id)).await,
        StatusCode::OK,
    );
    let devices = data["devices"].as_array().unwrap();
    assert!(devices.iter().all(|d| d["has_active_keys"] == true), "{data}");

    assert_error(
        &bob.api.get(&format!("/v1/users/{}/devices", Uuid::new_v4())).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn profiles_show_location_presence_and_last_seen() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let me = assert_ok(
        ann.api.put("/v1/users/me", json!({ "location": "Lisbon" })).await,
        StatusCode::OK,
    );
    assert_eq!(me["location"], "Lisbon");
    let long = ann
        .api
        .put("/v1/users/me", json!({ "location": "x".repeat(101) }))
        .await;
    assert_error(&long, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let path = format!("/v1/users/{}", ann.id);
    let offline = assert_ok(bob.api.get(&path).await, StatusCode::OK);
    assert_eq!(
        (offline["is_online"].as_bool(), offline["location"].as_str()),
        (Some(false), Some("Lisbon"))
    );
    assert!(offline["last_seen"].is_null(), "never connected");
    let mut socket = ann.ws(&node).await;
    socket.sync().await;
    assert_eq!(assert_ok(bob.api.get(&path).await, StatusCode::OK)["is_online"], true);
    socket.close().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let profile = assert_ok(bob.api.get(&path).await, StatusCode::OK);
        if profile["is_online"] == false && profile["last_seen"].is_string() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "last_seen is recorded when the last connection closes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
