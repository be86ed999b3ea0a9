use crate::support::*;

use std::collections::{HashMap, HashSet};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

fn identity_key() -> SigningKey {
    SigningKey::generate(&mut rand::rng())
}

/// `user_id=…&device_id=…` naming the user's device.
fn device_query(owner: &User) -> String {
    format!("user_id={}&device_id={}", owner.id, owner.device_id)
}

async fn upload_identity(user: &User, key: &SigningKey) -> (StatusCode, Value) {
    user.api
        .post(
            "/v1/encryption/identity",
            json!({ "public_key": b64(&key.verifying_key().to_bytes()) }),
        )
        .await
}

/// A signed-prekey upload body with a fresh prekey signed by `identity`.
fn signed_prekey(identity: &SigningKey, key_id: u32) -> Value {
    let prekey: [u8; 32] = rand::random();
    json!({
        "key_id": key_id,
        "public_key": b64(&prekey),
        "signature": b64(&identity.sign(&prekey).to_bytes()),
    })
}

fn one_time_keys(ids: impl IntoIterator<Item = u32>) -> Value {
    let keys: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({ "key_id": id, "public_key": b64(&rand::random::<[u8; 32]>()) }))
        .collect();
    json!({ "keys": keys })
}

/// How many one-time prekeys `owner`'s device has left, as `viewer` sees it.
async fn count(viewer: &User, owner: &User) -> u64 {
    let data = assert_ok(
        viewer
            .api
            .get(&format!("/v1/encryption/onetime-prekeys/count?{}", device_query(owner)))
            .await,
        StatusCode::OK,
    );
    data["count"].as_u64().unwrap()
}

async fn has_active_keys(viewer: &User, owner: &User) -> bool {
    let data = assert_ok(
        viewer
            .api
            .get(&format!("/v1/encryption/keys/active?{}", device_query(owner)))
            .await,
        StatusCode::OK,
    );
    data["has_active_keys"].as_bool().unwrap()
}

async fn bundle(viewer: &User, owner: &User) -> (StatusCode, Value) {
    viewer
        .api
        .get(&format!("/v1/encryption/bundles?{}", device_query(owner)))
        .await
}

#[tokio::test]
async fn identity_key_upload_and_read() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let key = identity_key();
    let public = b64(&key.verifying_key().to_bytes());
    let uploaded = assert_ok(upload_identity(&ann, &key).await, StatusCode::CREATED);
    assert!(uploaded["id"].as_str().unwrap().parse::<Uuid>().is_ok(), "{uploaded}");
    assert_eq!(uploaded["user_id"], ann.id);
    assert_eq!(uploaded["device_id"], ann.device_id);
    assert_eq!(uploaded["public_key"], public);
    assert_eq!(uploaded["is_active"], true);

    // Own key, by default and when naming the own user only.
    assert_eq!(
        assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK),
        uploaded
    );
    assert_eq!(
        assert_ok(
            ann.api
                .get(&format!("/v1/encryption/identity?user_id={}", ann.id))
                .await,
            StatusCode::OK
        ),
        uploaded
    );
    // Another user's key needs its device.
    assert_eq!(
        assert_ok(
            bob.api
                .get(&format!("/v1/encryption/identity?{}", device_query(&ann)))
                .await,
            StatusCode::OK
        ),
        uploaded
    );
    let message = assert_error(
        &bob.api
            .get(&format!("/v1/encryption/identity?user_id={}", ann.id))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("device_id:"), "{message}");
    // A device named with the wrong owner, or unknown, is not found.
    assert_error(
        &bob.api
            .get(&format!(
                "/v1/encryption/identity?user_id={}&device_id={}",
                bob.id, ann.device_id
            ))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api
            .get(&format!("/v1/encryption/identity?device_id={}", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let message = assert_error(
        &bob.api.get("/v1/encryption/identity?user_id=nope").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("user_id:"), "{message}");
    // Bob has none yet.
    assert_error(
        &bob.api.get("/v1/encryption/identity").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );

    // Uploading the same key again changes nothing.
    assert_eq!(
        assert_ok(upload_identity(&ann, &key).await, StatusCode::CREATED),
        uploaded
    );
}

#[tokio::test]
async fn identity_keys_must_be_valid_ed25519_keys() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let not_a_point = loop {
        let bytes: [u8; 32] = rand::random();
        if VerifyingKey::from_bytes(&bytes).is_err() {
            break bytes;
        }
    };
    for public_key in [json!(b64(&not_a_point)), json!(b64(&[1; 31])), json!("%%%"), json!(5)] {
        let message = assert_error(
            &ann.api
                .post("/v1/encryption/identity", json!({ "public_key": public_key }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(message.starts_with("public_key:"), "{public_key}: {message}");
    }
    let message = assert_error(
        &ann.api.post("/v1/encryption/identity", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert_eq!(message, "missing field `public_key`");
    assert_error(
        &ann.api.get("/v1/encryption/identity").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn a_new_identity_key_replaces_the_old_and_drops_its_prekeys() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let old = ann.publish_keys(3).await;
    let old_record = assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK);
    let new = identity_key();
    let new_record = assert_ok(upload_identity(&ann, &new).await, StatusCode::CREATED);
    assert_ne!(new_record["id"], old_record["id"]);
    assert_eq!(new_record["public_key"], b64(&new.verifying_key().to_bytes()));
    assert_ne!(new_record["public_key"], b64(&old.verifying_key().to_bytes()));
    assert_eq!(
        assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK),
        new_record
    );
    // The prekeys the old key signed are gone, so the device is not reachable until it signs new ones.
    assert_error(
        &ann.api.get("/v1/encryption/signed-prekeys/active").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_eq!(count(&ann, &ann).await, 0);
    assert!(!has_active_keys(&ann, &ann).await);
    // The old record can no longer be addressed.
    let old_id = old_record["id"].as_str().unwrap();
    assert_error(
        &ann.api.delete(&format!("/v1/encryption/identity/{old_id}")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    // A prekey signed by the old key no longer verifies; one signed by the new key does.
    let message = assert_error(
        &ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&old, 2))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("signature:"), "{message}");
    assert_ok(
        ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&new, 2))
            .await,
        StatusCode::CREATED,
    );
    assert!(has_active_keys(&ann, &ann).await);
}

#[tokio::test]
async fn identity_key_deactivate_and_delete() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let identity = ann.publish_keys(2).await;
    let record = assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK);
    let id = record["id"].as_str().unwrap().to_owned();
    assert!(has_active_keys(&bob, &ann).await);

    let deactivated = assert_ok(
        ann.api
            .put(&format!("/v1/encryption/identity/{id}/deactivate"), json!({}))
            .await,
        StatusCode::OK,
    );
    assert_eq!(deactivated["id"], id);
    assert_eq!(deactivated["is_active"], false);
    let read = assert_ok(
        bob.api
            .get(&format!("/v1/encryption/identity?{}", device_query(&ann)))
            .await,
        StatusCode::OK,
    );
    assert_eq!(read["is_active"], false);
    assert!(!has_active_keys(&bob, &ann).await);
    // No bundle is served, no one-time prekey is spent, and no new prekey can be signed by it.
    assert_error(&bundle(&bob, &ann).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(count(&bob, &ann).await, 2);
    assert_error(
        &ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity, 2))
            .await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );

    assert_ok(
        ann.api.delete(&format!("/v1/encryption/identity/{id}")).await,
        StatusCode::OK,
    );
    assert_error(
        &ann.api.get("/v1/encryption/identity").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &ann.api.get("/v1/encryption/signed-prekeys/active").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_eq!(count(&ann, &ann).await, 0);
    assert_error(
        &ann.api.delete(&format!("/v1/encryption/identity/{id}")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &ann.api
            .put(&format!("/v1/encryption/identity/{id}/deactivate"), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &ann.api.delete("/v1/encryption/identity/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
}

#[tokio::test]
async fn signed_prekeys_need_an_identity_key_and_a_valid_signature() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let identity = identity_key();
    let message = assert_error(
        &ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity, 1))
            .await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("identity key"), "{message}");
    assert_ok(upload_identity(&ann, &identity).await, StatusCode::CREATED);

    // Signed by another key.
    let message = assert_error(
        &ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity_key(), 1))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("signature:"), "{message}");
    // Signed by the right key, but over other bytes.
    let mut body = signed_prekey(&identity, 1);
    body["public_key"] = json!(b64(&rand::random::<[u8; 32]>()));
    let message = assert_error(
        &ann.api.post("/v1/encryption/signed-prekeys", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("signature:"), "{message}");
    // Not a signature at all.
    let mut body = signed_prekey(&identity, 1);
    body["signature"] = json!(b64(&[0; 63]));
    let message = assert_error(
        &ann.api.post("/v1/encryption/signed-prekeys", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("signature:"), "{message}");
    let mut body = signed_prekey(&identity, 1);
    body.as_object_mut().unwrap().remove("signature");
    let message = assert_error(
        &ann.api.post("/v1/encryption/signed-prekeys", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert_eq!(message, "missing field `signature`");
    assert_error(
        &ann.api.get("/v1/encryption/signed-prekeys/active").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );

    let body = signed_prekey(&identity, 1);
    let stored = assert_ok(
        ann.api.post("/v1/encryption/signed-prekeys", body.clone()).await,
        StatusCode::CREATED,
    );
    assert_eq!(stored["key_id"], 1);
    assert_eq!(stored["public_key"], body["public_key"]);
    assert_eq!(stored["signature"], body["signature"]);
    assert_eq!(stored["user_id"], ann.id);
    assert_eq!(stored["device_id"], ann.device_id);
    assert_eq!(stored["is_active"], true);
    // A key id is used once per device.
    let message = assert_error(
        &ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity, 1))
            .await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert!(message.contains("key_id"), "{message}");
    let active = assert_ok(
        ann.api.get("/v1/encryption/signed-prekeys/active").await,
        StatusCode::OK,
    );
    assert_eq!(active, stored);
}

#[tokio::test]
async fn signed_prekeys_by_id_active_and_rotation() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let identity = identity_key();
    assert_ok(upload_identity(&ann, &identity).await, StatusCode::CREATED);
    let first = assert_ok(
        ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity, 1))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(
        assert_ok(
            ann.api.get("/v1/encryption/signed-prekeys?key_id=1").await,
            StatusCode::OK
        ),
        first
    );
    // Without a key id the active one is returned.
    assert_eq!(
        assert_ok(ann.api.get("/v1/encryption/signed-prekeys").await, StatusCode::OK),
        first
    );

    let body = signed_prekey(&identity, 2);
    let rotated = assert_ok(
        ann.api
            .post("/v1/encryption/signed-prekeys/rotate", json!({ "key": body }))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(rotated["key_id"], 2);
    assert_eq!(rotated["public_key"], body["public_key"]);
    assert_eq!(rotated["is_active"], true);
    let active = assert_ok(
        bob.api
            .get(&format!("/v1/encryption/signed-prekeys/active?{}", device_query(&ann)))
            .await,
        StatusCode::OK,
    );
    assert_eq!(active, rotated);
    let old = assert_ok(
        bob.api
            .get(&format!(
                "/v1/encryption/signed-prekeys?{}&key_id=1",
                device_query(&ann)
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(old["is_active"], false);
    assert_eq!(old["public_key"], first["public_key"]);
    let new = assert_ok(
        ann.api.get("/v1/encryption/signed-prekeys?key_id=2").await,
        StatusCode::OK,
    );
    assert_eq!(new["is_active"], true);
    assert_error(
        &ann.api.get("/v1/encryption/signed-prekeys?key_id=99").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    // The bundle carries the rotated key.
    let data = assert_ok(bundle(&bob, &ann).await, StatusCode::OK);
    assert_eq!(data["signed_prekey"]["key_id"], 2);

    // A rotation with a bad signature changes nothing.
    let mut bad = signed_prekey(&identity, 3);
    bad["signature"] = signed_prekey(&identity, 3)["signature"].clone();
    let message = assert_error(
        &ann.api
            .post("/v1/encryption/signed-prekeys/rotate", json!({ "key": bad }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("signature:"), "{message}");
    assert_eq!(
        assert_ok(
            ann.api.get("/v1/encryption/signed-prekeys/active").await,
            StatusCode::OK
        ),
        rotated
    );

    // Only the few newest signed prekeys are kept.
    for key_id in 3..=7 {
        assert_ok(
            ann.api
                .post(
                    "/v1/encryption/signed-prekeys/rotate",
                    json!({ "key": signed_prekey(&identity, key_id) }),
                )
                .await,
            StatusCode::CREATED,
        );
    }
    assert_error(
        &ann.api.get("/v1/encryption/signed-prekeys?key_id=1").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let active = assert_ok(
        ann.api.get("/v1/encryption/signed-prekeys/active").await,
        StatusCode::OK,
    );
    assert_eq!(active["key_id"], 7);
    for key_id in 3..=6 {
        let old = assert_ok(
            ann.api
                .get(&format!("/v1/encryption/signed-prekeys?key_id={key_id}"))
                .await,
            StatusCode::OK,
        );
        assert_eq!(old["is_active"], false, "{old}");
    }
}

#[tokio::test]
async fn one_time_prekeys_upload_count_and_consume() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    assert_eq!(count(&ann, &ann).await, 0);
    let data = assert_ok(
        ann.api
            .post("/v1/encryption/onetime-prekeys", one_time_keys(1..=5))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(data["uploaded"], 5);
    // Ids already held (or repeated within the batch) are skipped.
    let data = assert_ok(
        ann.api
            .post("/v1/encryption/onetime-prekeys", one_time_keys([4, 5, 6, 7, 7]))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(data["uploaded"], 2);
    let own = assert_ok(
        ann.api.get("/v1/encryption/onetime-prekeys/count").await,
        StatusCode::OK,
    );
    assert_eq!(own["count"], 7);
    assert_eq!(count(&bob, &ann).await, 7);

    let mut seen = HashSet::new();
    let key = assert_ok(
        bob.api
            .post_empty(&format!(
                "/v1/encryption/onetime-prekeys/consume?{}",
                device_query(&ann)
            ))
            .await,
        StatusCode::OK,
    );
    assert_eq!(unb64(key["public_key"].as_str().unwrap()).len(), 32);
    assert!(seen.insert(key["key_id"].as_u64().unwrap()));
    assert_eq!(count(&ann, &ann).await, 6);
    for left in (0..6).rev() {
        let key = assert_ok(
            ann.api.post_empty("/v1/encryption/onetime-prekeys/consume").await,
            StatusCode::OK,
        );
        assert!(seen.insert(key["key_id"].as_u64().unwrap()), "{key}");
        assert_eq!(count(&bob, &ann).await, left);
    }
    assert_eq!(seen, (1..=7).collect::<HashSet<_>>());
    assert_error(
        &bob.api
            .post_empty(&format!(
                "/v1/encryption/onetime-prekeys/consume?{}",
                device_query(&ann)
            ))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    // A consumed id may be uploaded again.
    let data = assert_ok(
        ann.api.post("/v1/encryption/onetime-prekeys", one_time_keys([1])).await,
        StatusCode::CREATED,
    );
    assert_eq!(data["uploaded"], 1);
    assert_eq!(count(&bob, &ann).await, 1);
}

#[tokio::test]
async fn one_time_prekey_batches_are_limited() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    for keys in [one_time_keys(1..=201), one_time_keys([])] {
        let message = assert_error(
            &ann.api.post("/v1/encryption/onetime-prekeys", keys).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        );
        assert!(message.starts_with("keys:"), "{message}");
    }
    let mut bad = one_time_keys(1..=3);
    bad["keys"][2]["public_key"] = json!(b64(&[0; 16]));
    let message = assert_error(
        &ann.api.post("/v1/encryption/onetime-prekeys", bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("keys[2].public_key:"), "{message}");
    assert_eq!(count(&ann, &ann).await, 0);

    // 200 at a time is fine, up to 1000 held.
    for batch in 0..5 {
        let data = assert_ok(
            ann.api
                .post(
                    "/v1/encryption/onetime-prekeys",
                    one_time_keys(batch * 200 + 1..=batch * 200 + 200),
                )
                .await,
            StatusCode::CREATED,
        );
        assert_eq!(data["uploaded"], 200);
    }
    assert_eq!(count(&ann, &ann).await, 1000);
    let message = assert_error(
        &ann.api
            .post("/v1/encryption/onetime-prekeys", one_time_keys([5000]))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("keys:"), "{message}");
    assert_eq!(count(&ann, &ann).await, 1000);
}

#[tokio::test]
async fn keys_cannot_be_written_for_another_user_or_device() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let ann_tablet = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    let ann_identity = ann.publish_keys(3).await;
    let identity_before = assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK);
    let signed_before = assert_ok(
        ann.api.get("/v1/encryption/signed-prekeys/active").await,
        StatusCode::OK,
    );

    let bob_identity = identity_key();
    let bob_public = b64(&bob_identity.verifying_key().to_bytes());
    let mut attempts: Vec<(&User, &str, Value)> = Vec::new();
    for (who, field, value) in [
        (&bob, "user_id", ann.id.as_str()),
        (&bob, "device_id", ann.device_id.as_str()),
        // Ann's other device may not write for this one either.
        (&ann_tablet, "device_id", ann.device_id.as_str()),
    ] {
        let mut identity = json!({ "public_key": bob_public });
        identity[field] = json!(value);
        attempts.push((who, "/v1/encryption/identity", identity));
        let mut signed = signed_prekey(&bob_identity, 9);
        signed[field] = json!(value);
        attempts.push((who, "/v1/encryption/signed-prekeys", signed.clone()));
        attempts.push((who, "/v1/encryption/signed-prekeys/rotate", json!({ "key": signed })));
        let mut rotate = json!({ "key": signed_prekey(&bob_identity, 9) });
        rotate[field] = json!(value);
        attempts.push((who, "/v1/encryption/signed-prekeys/rotate", rotate));
        let mut one_time = one_time_keys(100..=102);
        one_time["keys"][1][field] = json!(value);
        attempts.push((who, "/v1/encryption/onetime-prekeys", one_time));
    }
    for (who, path, body) in attempts {
        assert_error(
            &who.api.post(path, body.clone()).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        );
    }

    // Ann's keys are exactly as before, and nothing was stored for Bob or the tablet either.
    assert_eq!(
        assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK),
        identity_before
    );
    assert_eq!(
        assert_ok(
            ann.api.get("/v1/encryption/signed-prekeys/active").await,
            StatusCode::OK
        ),
        signed_before
    );
    assert_eq!(count(&bob, &ann).await, 3);
    assert_eq!(
        identity_before["public_key"],
        b64(&ann_identity.verifying_key().to_bytes())
    );
    for who in [&bob, &ann_tablet] {
        assert_error(
            &who.api.get("/v1/encryption/identity").await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        assert_eq!(count(who, who).await, 0);
    }

    // Naming one's own user and device explicitly is fine.
    let mut own = json!({ "public_key": bob_public });
    own["user_id"] = json!(bob.id);
    own["device_id"] = json!(bob.device_id);
    assert_ok(bob.api.post("/v1/encryption/identity", own).await, StatusCode::CREATED);
}

#[tokio::test]
async fn another_users_identity_key_cannot_be_deactivated_or_deleted() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let ann_tablet = node.second_device(&ann).await;
    let bob = node.user("bob").await;
    ann.publish_keys(2).await;
    let before = assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK);
    let id = before["id"].as_str().unwrap();
    for who in [&bob, &ann_tablet] {
        assert_error(
            &who.api
                .put(&format!("/v1/encryption/identity/{id}/deactivate"), json!({}))
                .await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        );
        assert_error(
            &who.api.delete(&format!("/v1/encryption/identity/{id}")).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        );
    }
    assert_eq!(
        assert_ok(ann.api.get("/v1/encryption/identity").await, StatusCode::OK),
        before
    );
    assert!(has_active_keys(&bob, &ann).await);
    assert_eq!(count(&bob, &ann).await, 2);
    let data = assert_ok(bundle(&bob, &ann).await, StatusCode::OK);
    assert_eq!(data["identity_key"], before["public_key"]);
}

#[tokio::test]
async fn bundle_claims_one_one_time_prekey_each_time() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let identity = identity_key();
    assert_ok(upload_identity(&ann, &identity).await, StatusCode::CREATED);
    let signed_body = signed_prekey(&identity, 7);
    assert_ok(
        ann.api.post("/v1/encryption/signed-prekeys", signed_body.clone()).await,
        StatusCode::CREATED,
    );
    let uploads = one_time_keys(1..=2);
    assert_ok(
        ann.api.post("/v1/encryption/onetime-prekeys", uploads.clone()).await,
        StatusCode::CREATED,
    );
    let published: HashMap<u64, Value> = uploads["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key_id"].as_u64().unwrap(), k["public_key"].clone()))
        .collect();

    let mut claimed = HashSet::new();
    for left in [1, 0] {
        let data = assert_ok(bundle(&bob, &ann).await, StatusCode::OK);
        assert_eq!(data["user_id"], ann.id);
        assert_eq!(data["device_id"], ann.device_id);
        assert_eq!(data["identity_key"], b64(&identity.verifying_key().to_bytes()));
        let signed = &data["signed_prekey"];
        assert_eq!(signed["key_id"], 7);
        assert_eq!(signed["public_key"], signed_body["public_key"]);
        assert_eq!(signed["signature"], signed_body["signature"]);
        // The bundle is usable: the signature verifies under the identity key.
        let identity_key: [u8; 32] = unb64(data["identity_key"].as_str().unwrap()).try_into().unwrap();
        let signature: [u8; 64] = unb64(signed["signature"].as_str().unwrap()).try_into().unwrap();
        VerifyingKey::from_bytes(&identity_key)
            .unwrap()
            .verify_strict(
                &unb64(signed["public_key"].as_str().unwrap()),
                &Signature::from_bytes(&signature),
            )
            .expect("signed prekey verifies");

        let one_time = &data["one_time_prekey"];
        let key_id = one_time["key_id"].as_u64().expect("a one-time prekey");
        assert_eq!(one_time["public_key"], published[&key_id]);
        assert!(claimed.insert(key_id), "{key_id} handed out twice");
        assert_eq!(count(&ann, &ann).await, left);
    }

    // Without one-time prekeys the bundle still comes, without one.
    let data = assert_ok(bundle(&bob, &ann).await, StatusCode::OK);
    assert_eq!(data["one_time_prekey"], Value::Null);
    assert_eq!(data["signed_prekey"]["key_id"], 7);
    assert_eq!(count(&ann, &ann).await, 0);
}

#[tokio::test]
async fn bundle_requires_published_keys_and_a_matching_device() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    // Nothing published yet.
    assert_error(&bundle(&bob, &ann).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    // An identity key alone is not enough.
    let identity = identity_key();
    assert_ok(upload_identity(&ann, &identity).await, StatusCode::CREATED);
    assert_ok(
        ann.api
            .post("/v1/encryption/onetime-prekeys", one_time_keys(1..=2))
            .await,
        StatusCode::CREATED,
    );
    assert_error(&bundle(&bob, &ann).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(count(&bob, &ann).await, 2, "a refused bundle spends no one-time prekey");
    assert_ok(
        ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity, 1))
            .await,
        StatusCode::CREATED,
    );
    // A device under the wrong owner or an unknown device is not found, and spends nothing.
    assert_error(
        &bob.api
            .get(&format!(
                "/v1/encryption/bundles?user_id={}&device_id={}",
                bob.id, ann.device_id
            ))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &bob.api
            .get(&format!("/v1/encryption/bundles?device_id={}", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let message = assert_error(
        &bob.api.get(&format!("/v1/encryption/bundles?user_id={}", ann.id)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("device_id:"), "{message}");
    assert_eq!(count(&bob, &ann).await, 2);
    // By device id alone.
    let data = assert_ok(
        bob.api
            .get(&format!("/v1/encryption/bundles?device_id={}", ann.device_id))
            .await,
        StatusCode::OK,
    );
    assert_eq!(data["user_id"], ann.id);
    assert_eq!(count(&bob, &ann).await, 1);
    assert_error(
        &node
            .client()
            .get(&format!("/v1/encryption/bundles?{}", device_query(&ann)))
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bundle_claims_hand_out_each_key_once() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let claimers = [
        node.user("bob").await,
        node.user("carol").await,
        node.user("dave").await,
    ];
    ann.publish_keys(20).await;
    let path = format!("/v1/encryption/bundles?{}", device_query(&ann));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let api = claimers[i % claimers.len()].api.clone();
            let path = path.clone();
            tokio::spawn(async move { api.get(&path).await })
        })
        .collect();
    let mut handed_out = Vec::new();
    let mut without = 0;
    for task in tasks {
        let data = assert_ok(task.await.unwrap(), StatusCode::OK);
        match data["one_time_prekey"]["key_id"].as_u64() {
            Some(key_id) => handed_out.push(key_id),
            None => {
                assert_eq!(data["one_time_prekey"], Value::Null, "{data}");
                without += 1;
            }
        }
    }
    let distinct: HashSet<u64> = handed_out.iter().copied().collect();
    assert_eq!(handed_out.len(), 20, "{handed_out:?}");
    assert_eq!(distinct.len(), 20, "duplicates in {handed_out:?}");
    assert_eq!(distinct, (1..=20).collect::<HashSet<_>>());
    assert_eq!(without, 20);
    assert_eq!(count(&ann, &ann).await, 0);
}

#[tokio::test]
async fn active_keys_reports_readiness() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    let own = assert_ok(ann.api.get("/v1/encryption/keys/active").await, StatusCode::OK);
    assert_eq!(own["has_active_keys"], false);
    assert!(!has_active_keys(&bob, &ann).await);
    let identity = identity_key();
    let record = assert_ok(upload_identity(&ann, &identity).await, StatusCode::CREATED);
    assert!(
        !has_active_keys(&bob, &ann).await,
        "an identity key alone is not enough"
    );
    assert_ok(
        ann.api
            .post("/v1/encryption/signed-prekeys", signed_prekey(&identity, 1))
            .await,
        StatusCode::CREATED,
    );
    assert!(has_active_keys(&bob, &ann).await);
    let own = assert_ok(ann.api.get("/v1/encryption/keys/active").await, StatusCode::OK);
    assert_eq!(own["has_active_keys"], true);
    // Bob's own state is separate.
    let bobs = assert_ok(bob.api.get("/v1/encryption/keys/active").await, StatusCode::OK);
    assert_eq!(bobs["has_active_keys"], false);
    let id = record["id"].as_str().unwrap();
    assert_ok(
        ann.api
            .put(&format!("/v1/encryption/identity/{id}/deactivate"), json!({}))
            .await,
        StatusCode::OK,
    );
    assert!(!has_active_keys(&bob, &ann).await);
}

#[tokio::test]
async fn small_order_identity_keys_are_refused() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let weak = ann
        .api
        .post("/v1/encryption/identity", json!({ "public_key": b64(&[0u8; 32]) }))
        .await;
    let message = assert_error(&weak, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert!(message.starts_with("public_key"), "{message}");
}
