use crate::support::*;

async fn start_call(caller: &User, conversation: &str) -> Value {
    let body = json!({ "conversation_id": conversation, "type": "VIDEO" });
    assert_ok(caller.api.post("/v1/calls", body).await, StatusCode::CREATED)
}

#[tokio::test]
async fn a_call_rings_connects_and_ends_through_its_states() {
    let node = TestNode::start().await;
    let (ann, bob, eve) = (node.user("ann").await, node.user("bob").await, node.user("eve").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    let call = start_call(&ann, &dm).await;
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(call["status"], "RINGING");
    assert_eq!(call["initiator_id"], ann.id);
    assert_eq!(call["participants"][1]["status"], "INVITED");
    let ring = bob_ws.expect("call:incoming").await;
    assert_eq!(ring["call"]["id"], id.as_str());

    let second = ann
        .api
        .post("/v1/calls", json!({ "conversation_id": dm, "type": "AUDIO" }))
        .await;
    assert_error(&second, StatusCode::CONFLICT, "CONFLICT");
    assert_error(
        &eve.api.get(&format!("/v1/calls/{id}")).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    let forged = ann
        .api
        .post(
            "/v1/calls",
            json!({ "conversation_id": dm, "type": "AUDIO", "initiator_id": bob.id }),
        )
        .await;
    assert_error(&forged, StatusCode::FORBIDDEN, "FORBIDDEN");

    let early = ann.api.post_empty(&format!("/v1/calls/{id}/connected")).await;
    assert_error(&early, StatusCode::CONFLICT, "CONFLICT");
    let for_other = ann
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/status", bob.id),
            json!({ "status": "JOINED" }),
        )
        .await;
    assert_error(&for_other, StatusCode::FORBIDDEN, "FORBIDDEN");
    let mute_before_join = bob
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/mute", bob.id),
            json!({ "audio_muted": true }),
        )
        .await;
    assert_error(&mute_before_join, StatusCode::CONFLICT, "CONFLICT");
    let joined = bob
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/status", bob.id),
            json!({ "status": "JOINED" }),
        )
        .await;
    assert_eq!(assert_ok(joined, StatusCode::OK)["participants"][1]["status"], "JOINED");
    let again = bob
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/status", bob.id),
            json!({ "status": "JOINED" }),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "CONFLICT");
    let muted = bob
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/mute", bob.id),
            json!({ "video_muted": true }),
        )
        .await;
    let muted = assert_ok(muted, StatusCode::OK);
    assert_eq!(
        (
            muted["participants"][1]["video_muted"].clone(),
            muted["participants"][1]["audio_muted"].clone()
        ),
        (json!(true), json!(false))
    );

    let connected = assert_ok(
        ann.api.post_empty(&format!("/v1/calls/{id}/connected")).await,
        StatusCode::OK,
    );
    assert_eq!(connected["status"], "CONNECTED");
    assert!(connected["started_at"].is_string());
    assert_error(
        &bob.api.post_empty(&format!("/v1/calls/{id}/connected")).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    let active = assert_ok(bob.api.get("/v1/calls/active").await, StatusCode::OK);
    assert_eq!(active["calls"][0]["id"], id.as_str());

    let ended = assert_ok(
        bob.api
            .post(&format!("/v1/calls/{id}/end"), json!({ "reason": "COMPLETED" }))
            .await,
        StatusCode::OK,
    );
    assert_eq!(
        (ended["status"].clone(), ended["ended_by"].clone()),
        (json!("ENDED"), json!(bob.id))
    );
    let notice = bob_ws.expect("call:ended").await;
    assert_eq!(
        (notice["call_id"].as_str(), notice["reason"].as_str()),
        (Some(id.as_str()), Some("COMPLETED"))
    );
    assert_error(
        &ann.api.post_empty(&format!("/v1/calls/{id}/end")).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    let rejoin = bob
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/status", bob.id),
            json!({ "status": "JOINED" }),
        )
        .await;
    assert_error(&rejoin, StatusCode::CONFLICT, "CONFLICT");
    let duration = assert_ok(ann.api.get(&format!("/v1/calls/{id}/duration")).await, StatusCode::OK);
    assert_eq!(duration["duration"], ended["duration"]);
    assert!(
        assert_ok(bob.api.get("/v1/calls/active").await, StatusCode::OK)["calls"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let listed = assert_ok(
        bob.api.get(&format!("/v1/calls?conversation_id={dm}")).await,
        StatusCode::OK,
    );
    assert_eq!(listed["calls"].as_array().unwrap().len(), 1);
    let mine = assert_ok(
        ann.api.get(&format!("/v1/calls/user?user_id={}", ann.id)).await,
        StatusCode::OK,
    );
    assert_eq!(mine["calls"].as_array().unwrap().len(), 1);
    let others = ann.api.get(&format!("/v1/calls/user?user_id={}", bob.id)).await;
    assert_error(&others, StatusCode::FORBIDDEN, "FORBIDDEN");
    let next = start_call(&ann, &dm).await;
    assert_eq!(
        next["status"], "RINGING",
        "a new call may start once the last one ended"
    );
}

#[tokio::test]
async fn an_unanswered_call_is_missed() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let call = start_call(&ann, &dm).await;
    let id = call["id"].as_str().unwrap();
    assert_ok(
        ann.api
            .post(&format!("/v1/calls/{id}/end"), json!({ "reason": "MISSED" }))
            .await,
        StatusCode::OK,
    );
    let missed = assert_ok(bob.api.get("/v1/calls/missed").await, StatusCode::OK);
    assert_eq!(missed["calls"][0]["id"], id);
    assert_eq!(missed["calls"][0]["end_reason"], "MISSED");
    assert!(
        assert_ok(ann.api.get("/v1/calls/missed").await, StatusCode::OK)["calls"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let participants = assert_ok(
        bob.api.get(&format!("/v1/calls/{id}/participants")).await,
        StatusCode::OK,
    );
    assert_eq!(participants["participants"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn signaling_is_relayed_only_between_participants() {
    let node = TestNode::start().await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    let call = start_call(&ann, &group).await;
    let id = call["id"].as_str().unwrap().to_owned();
    bob_ws.expect("call:incoming").await;

    ann_ws
        .send(json!({ "type": "call:offer", "call_id": id, "to_id": bob.id, "data": "v=0 offer" }))
        .await;
    let offer = bob_ws.expect("call:offer").await;
    assert_eq!(
        (offer["from_id"].as_str(), offer["signal_type"].as_str()),
        (Some(ann.id.as_str()), Some("offer"))
    );
    assert_eq!(offer["from_device_id"], ann.device_id);
    assert_eq!(offer["data"], "v=0 offer");
    bob_ws
        .send(json!({ "type": "call:answer", "call_id": id, "to_id": ann.id, "to_device_id": ann.device_id, "data": "v=0 answer" }))
        .await;
    assert_eq!(ann_ws.expect("call:answer").await["data"], "v=0 answer");
    bob_ws
        .send(json!({ "type": "call:ice", "call_id": id, "to_id": ann.id, "data": "candidate:1" }))
        .await;
    assert_eq!(ann_ws.expect("call:ice").await["signal_type"], "ice");

    let mut carl_ws = carl.ws(&node).await;
    carl_ws.sync().await;
    carl_ws
        .send(json!({ "type": "call:offer", "call_id": id, "to_id": bob.id, "data": "intrusion" }))
        .await;
    assert_eq!(carl_ws.expect("error").await["code"], "FORBIDDEN");
    ann_ws
        .send(json!({ "type": "call:offer", "call_id": id, "to_id": carl.id, "data": "x" }))
        .await;
    assert_eq!(ann_ws.expect("error").await["code"], "VALIDATION_ERROR");

    let invite_outsider = ann
        .api
        .post(&format!("/v1/calls/{id}/participants"), json!({ "user_id": carl.id }))
        .await;
    assert_error(&invite_outsider, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_ok(
        ann.api
            .post(
                &format!("/v1/conversations/{group}/participants"),
                json!({ "user_id": carl.id }),
            )
            .await,
        StatusCode::CREATED,
    );
    let invited = ann
        .api
        .post(&format!("/v1/calls/{id}/participants"), json!({ "user_id": carl.id }))
        .await;
    assert_eq!(
        assert_ok(invited, StatusCode::CREATED)["participants"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(carl_ws.expect("call:incoming").await["call"]["id"], id.as_str());
    let by_bob = bob
        .api
        .delete(&format!("/v1/calls/{id}/participants/{}", carl.id))
        .await;
    assert_error(&by_bob, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_ok(
        ann.api
            .delete(&format!("/v1/calls/{id}/participants/{}", carl.id))
            .await,
        StatusCode::OK,
    );

    assert_ok(ann.api.post_empty(&format!("/v1/calls/{id}/end")).await, StatusCode::OK);
    ann_ws
        .send(json!({ "type": "call:ice", "call_id": id, "to_id": bob.id, "data": "late" }))
        .await;
    assert_eq!(ann_ws.expect("error").await["code"], "CONFLICT");
}

#[tokio::test]
async fn quality_samples_and_ice_servers() {
    let node = TestNode::start_with(|config| {
        config.ice_servers = vec![protocol::api::IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            username: None,
            credential: None,
        }]
    })
    .await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let servers = assert_ok(ann.api.get("/v1/calls/ice-servers").await, StatusCode::OK);
    assert_eq!(servers["ice_servers"][0]["urls"][0], "stun:127.0.0.1:3478");
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let call = start_call(&ann, &dm).await;
    let sample = json!({ "call_id": call["id"], "packet_loss": 0.01, "jitter": 15.5, "latency": 45.2,
                         "bitrate": 2500000, "frame_rate": 30, "resolution": "1920x1080", "audio_level": -20.5 });
    let stored = assert_ok(
        ann.api.post("/v1/calls/quality", sample.clone()).await,
        StatusCode::CREATED,
    );
    assert_eq!(stored["user_id"], ann.id);
    let mut bad = sample.clone();
    bad["packet_loss"] = json!(3.0);
    let message = assert_error(
        &ann.api.post("/v1/calls/quality", bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    );
    assert!(message.starts_with("packet_loss"), "{message}");
    let mut forged = sample;
    forged["user_id"] = json!(bob.id);
    assert_error(
        &ann.api.post("/v1/calls/quality", forged).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
}
