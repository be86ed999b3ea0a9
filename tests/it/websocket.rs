use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

#[tokio::test]
async fn every_device_gets_its_own_copy_live() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let bob_laptop = node.second_device(&bob).await;
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let mut phone = bob.ws(&node).await;
    let mut laptop = bob_laptop.ws(&node).await;
    assert!(phone.sync().await.is_empty());
    assert!(laptop.sync().await.is_empty());
    let sent = assert_ok(
        send_text(&ann, &group, &[&bob, &bob_laptop], "live", "c1").await,
        StatusCode::CREATED,
    );
    for (socket, device) in [(&mut phone, &bob), (&mut laptop, &bob_laptop)] {
        let frame = socket.expect("message:new").await;
        assert_eq!(frame["message_id"], sent["id"]);
        assert_eq!(frame["sender_id"], ann.id);
        assert_eq!(frame["conversation_id"], group);
        assert_eq!(frame["sequence_number"], 1);
        assert_eq!(content(&frame), format!("live for {}", device.device_id));
    }
}

#[tokio::test]
async fn a_socket_authenticates_by_query_header_or_first_frame_only() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let refused = Ws::try_connect(&node.ws_url("?token=not-a-jwt")).await;
    let status = match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status(),
        _ => panic!("a bad token must be refused before the upgrade"),
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The Authorization header on the upgrade, as other dialects' clients send it.
    let mut request = node.ws_url("").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", ann.token).parse().unwrap());
    let (mut by_header, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let ready = loop {
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = by_header.next().await {
            break serde_json::from_str::<Value>(&text).unwrap();
        }
    };
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["user_id"], ann.id);

    let mut by_frame = Ws::connect(&node.ws_url("")).await;
    by_frame
        .send(json!({ "type": "auth", "token": format!("Bearer {}", ann.token) }))
        .await;
    assert_eq!(by_frame.next().await["user_id"], ann.id);

    let mut silent = Ws::connect(&node.ws_url("")).await;
    silent.send(json!({ "type": "ping" })).await;
    assert!(
        silent.closed_within(Duration::from_secs(5)).await,
        "a socket that does not authenticate is closed"
    );

    let mut wrong = Ws::connect(&node.ws_url("")).await;
    wrong.send(json!({ "type": "auth", "token": "garbage" })).await;
    assert_eq!(wrong.next().await["code"], "UNAUTHORIZED");
    assert!(wrong.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn messages_can_be_sent_over_the_socket() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut sender = ann.ws(&node).await;
    let mut receiver = bob.ws(&node).await;
    sender.sync().await;
    receiver.sync().await;
    let mut frame = send_body(&dm, &[&bob], "over ws", "ws-1");
    frame["type"] = json!("message:send");
    sender.send(frame.clone()).await;
    let ack = sender.expect("message:ack").await;
    assert_eq!(ack["client_message_id"], "ws-1");
    assert_eq!(ack["sequence_number"], 1);
    let delivered = receiver.expect("message:new").await;
    assert_eq!(delivered["message_id"], ack["message_id"]);
    assert_eq!(content(&delivered), format!("over ws for {}", bob.device_id));

    sender.send(frame).await;
    let repeat = sender.expect("message:ack").await;
    assert_eq!(
        repeat["message_id"], ack["message_id"],
        "a resend over the socket is idempotent too"
    );

    let mut bad = send_body(&dm, &[&bob], "odd", "ws-2");
    bad["type"] = json!("message:send");
    bad["message_type"] = json!("hologram");
    sender.send(bad).await;
    let error = sender.expect("error").await;
    assert_eq!(error["code"], "VALIDATION_ERROR");
    assert_eq!(error["client_message_id"], "ws-2");
    let reason = error["error"].as_str().unwrap();
    assert!(reason.starts_with("message_type: must be one of"), "{reason}");
    sender.send(json!({ "type": "nonsense" })).await;
    assert_eq!(sender.expect("error").await["code"], "VALIDATION_ERROR");
    sender.send(json!({ "type": "ping" })).await;
    sender.expect("pong").await;
}

#[tokio::test]
async fn a_reconnecting_device_gets_its_undelivered_queue_in_order() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let group = conversation(&ann, "GROUP", &[&bob]).await;
    let mut expected = Vec::new();
    for n in 0..6 {
        let target = if n % 2 == 0 { &dm } else { &group };
        let sent = assert_ok(
            send_text(&ann, target, &[&bob], &format!("m{n}"), &format!("c{n}")).await,
            StatusCode::CREATED,
        );
        expected.push(sent["id"].as_str().unwrap().to_owned());
    }
    let mut socket = bob.ws(&node).await;
    let replayed = socket.sync().await;
    let ids: Vec<&str> = replayed.iter().map(|f| f["message_id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected, "the queue replays in arrival order");
    for frame in &replayed[..4] {
        socket
            .send(json!({ "type": "message:delivered", "message_id": frame["message_id"] }))
            .await;
    }
    socket.send(json!({ "type": "ping" })).await;
    socket.expect("pong").await;
    socket.close().await;

    let mut again = bob.ws(&node).await;
    let rest: Vec<String> = again
        .sync()
        .await
        .iter()
        .map(|f| f["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest, expected[4..], "acknowledged messages are not replayed");
}

#[tokio::test]
async fn resuming_from_sequence_numbers_fills_exactly_the_gap() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut socket = bob.ws(&node).await;
    socket.sync().await;
    for n in 1..=3 {
        assert_ok(
            send_text(&ann, &dm, &[&bob], "seen", &format!("a{n}")).await,
            StatusCode::CREATED,
        );
        assert_eq!(socket.expect("message:new").await["sequence_number"], n);
    }
    socket.close().await;
    for n in 4..=8 {
        assert_ok(
            send_text(&ann, &dm, &[&bob], "missed", &format!("a{n}")).await,
            StatusCode::CREATED,
        );
    }
    let mut resumed = Ws::connect(&node.ws_url(&format!("?token={}&since={dm}:3", bob.token))).await;
    let seqs: Vec<u64> = resumed
        .sync()
        .await
        .iter()
        .map(|f| f["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 5, 6, 7, 8]);
    assert_ok(send_text(&ann, &dm, &[&bob], "live", "a9").await, StatusCode::CREATED);
    assert_eq!(resumed.expect("message:new").await["sequence_number"], 9);

    let mut by_frame = Ws::connect(&node.ws_url("")).await;
    by_frame
        .send(json!({ "type": "auth", "token": bob.token, "since": { dm.clone(): 7 } }))
        .await;
    let seqs: Vec<u64> = by_frame
        .sync()
        .await
        .iter()
        .map(|f| f["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [8, 9]);
}

#[tokio::test]
async fn typing_presence_and_receipts_reach_the_other_side() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;
    let online = ann_ws.expect("presence:online").await;
    assert_eq!(
        (online["user_id"].as_str(), online["is_online"].as_bool()),
        (Some(bob.id.as_str()), Some(true))
    );

    bob_ws
        .send(json!({ "type": "typing:started", "conversation_id": dm }))
        .await;
    let typing = ann_ws.expect("typing:started").await;
    assert_eq!(typing["user_id"], bob.id);
    assert_eq!(typing["display_name"], "bob display");
    bob_ws
        .send(json!({ "type": "typing:stopped", "conversation_id": dm }))
        .await;
    assert_eq!(ann_ws.expect("typing:stopped").await["is_typing"], false);

    let sent = assert_ok(send_text(&ann, &dm, &[&bob], "hi", "c1").await, StatusCode::CREATED);
    let frame = bob_ws.expect("message:new").await;
    bob_ws
        .send(json!({ "type": "message:delivered", "message_id": frame["message_id"] }))
        .await;
    let delivered = ann_ws.expect("message:delivered").await;
    assert_eq!(
        (delivered["message_id"].clone(), delivered["recipient_id"].clone()),
        (sent["id"].clone(), json!(bob.id))
    );
    bob_ws
        .send(json!({ "type": "message:read", "message_id": frame["message_id"] }))
        .await;
    assert_eq!(ann_ws.expect("message:read").await["reader_id"], bob.id);

    bob_ws
        .send(json!({ "type": "presence:online", "status": "away" }))
        .await;
    assert_eq!(ann_ws.expect("presence:online").await["status"], "away");
    bob_ws.close().await;
    let offline = ann_ws.expect("presence:offline").await;
    assert_eq!(
        (offline["user_id"].as_str(), offline["is_online"].as_bool()),
        (Some(bob.id.as_str()), Some(false))
    );
}

#[tokio::test]
async fn connections_per_user_are_capped_and_logout_closes_them() {
    let node = TestNode::start().await;
    let ann = node.user("ann").await;
    let mut sockets = Vec::new();
    for _ in 0..10 {
        let mut socket = ann.ws(&node).await;
        socket.sync().await;
        sockets.push(socket);
    }
    let refused = Ws::try_connect(&node.ws_url(&format!("?token={}", ann.token))).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        _ => panic!("the eleventh connection must be refused"),
    }
    assert_ok(ann.api.post_empty("/v1/auth/logout").await, StatusCode::OK);
    for socket in &mut sockets {
        assert!(
            socket.closed_within(Duration::from_secs(5)).await,
            "logout closes the session's sockets"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_stall_others() {
    let node = TestNode::start_with(|config| config.connection_buffer = 8).await;
    let (ann, bob, carl) = (node.user("ann").await, node.user("bob").await, node.user("carl").await);
    let group = conversation(&ann, "GROUP", &[&bob, &carl]).await;
    let mut stalled = bob.ws(&node).await;
    stalled.sync().await;
    let mut reader = carl.ws(&node).await;
    reader.sync().await;
    let big = "x".repeat(60_000);
    let total = 120;
    let sender = tokio::spawn({
        let (ann, bob, carl, group) = (ann.clone(), bob.clone(), carl.clone(), group.clone());
        async move {
            for n in 0..total {
                assert_ok(
                    send_text(&ann, &group, &[&bob, &carl], &big, &format!("c{n}")).await,
                    StatusCode::CREATED,
                );
            }
        }
    });
    for n in 1..=total {
        let frame = reader.expect("message:new").await;
        assert_eq!(frame["sequence_number"], n);
    }
    sender.await.unwrap();
    assert!(
        stalled.closed_within(Duration::from_secs(10)).await,
        "the stalled socket was cut off"
    );
    let mut resumed = bob.ws(&node).await;
    let replayed = resumed.sync().await;
    assert_eq!(replayed.len(), total as usize, "nothing was lost for the slow client");
}
