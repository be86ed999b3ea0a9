//! Calls across nodes, over real libp2p swarms on 127.0.0.1 QUIC: the node hosting a conversation holds
//! its calls; a member on another node changes them through its own node (forwarded to the host), hears
//! of every change on its own node's WebSocket, and exchanges WebRTC signals with the other participants
//! through the two users' home nodes.

use std::time::Duration;

use protocol::api::{CallEndReason, CallParticipantStatus, CallParticipantStatusRequest, EndCallRequest};
use protocol::federation::{
    CallAction, CallActionRequest, CallEvent, CallUpdate, Envelope, Event, RelayedSignal, Request, Response,
};
use protocol::ws::SignalKind;
use protocol::{CallId, DeviceId, UserId};
use tokio::time::timeout;

use crate::federation::{
    Bootstrap, FederatedNode, Rogue, eventually, hosted_conversation, p2p_address, start_bootstrap, start_node_with,
};
use crate::support::*;
use crate::webrtc::{LIMIT, MESSAGE, connect_and_send};

/// Ann on node-a hosts a DM with Bob on node-b; both are connected to their own node's WebSocket.
struct Pair {
    a: FederatedNode,
    b: FederatedNode,
    ann: User,
    bob: User,
    dm: String,
    ann_ws: Ws,
    bob_ws: Ws,
    _bootstrap: Bootstrap,
}

async fn pair() -> Pair {
    let bootstrap = start_bootstrap().await;
    let tune = |federation: &mut node::FederationConfig| federation.outbox_max_backoff = Duration::from_secs(1);
    let a = start_node_with("node-a", &bootstrap.address, tune).await;
    let b = start_node_with("node-b", &bootstrap.address, tune).await;
    let ann = a.node.user("ann").await;
    let bob = b.node.user("bob").await;
    let dm = hosted_conversation(&ann, "DM", &[(&bob, "bob@node-b")]).await;
    let mut ann_ws = ann.ws(&a.node).await;
    ann_ws.sync().await;
    let mut bob_ws = bob.ws(&b.node).await;
    bob_ws.sync().await;
    Pair {
        a,
        b,
        ann,
        bob,
        dm,
        ann_ws,
        bob_ws,
        _bootstrap: bootstrap,
    }
}

impl Pair {
    /// Ann calls Bob; returns the call id once Bob's socket rang.
    async fn ann_calls_bob(&mut self) -> String {
        let call = assert_ok(
            self.ann
                .api
                .post("/v1/calls", json!({ "conversation_id": self.dm, "type": "AUDIO" }))
                .await,
            StatusCode::CREATED,
        );
        assert_eq!(call["status"], "RINGING");
        let id = call["id"].as_str().unwrap().to_owned();
        let ring = self.bob_ws.expect("call:incoming").await;
        assert_eq!(ring["call"]["id"], id.as_str());
        assert_eq!(ring["user_id"], self.ann.id.as_str());
        id
    }
}

fn signal(kind: &str, call: &str, to: &User, to_device: Option<&str>, data: &str) -> Value {
    json!({ "type": kind, "call_id": call, "to_id": to.id, "to_device_id": to_device, "data": data })
}

fn status_of(call: &Value, user: &User) -> String {
    call["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user_id"] == user.id.as_str())
        .map(|p| p["status"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_rings_is_answered_signaled_and_ended_across_two_nodes() {
    let mut p = pair().await;
    let id = p.ann_calls_bob().await;

    // Node-b keeps the host's state: Bob reads the call from his own node.
    let seen = assert_ok(p.bob.api.get(&format!("/v1/calls/{id}")).await, StatusCode::OK);
    assert_eq!(status_of(&seen, &p.bob), "INVITED");
    let active = assert_ok(p.bob.api.get("/v1/calls/active").await, StatusCode::OK);
    assert_eq!(active["calls"][0]["id"], id.as_str());
    // A second call in the DM is refused by the host, even when asked from node-b.
    let second = p
        .bob
        .api
        .post("/v1/calls", json!({ "conversation_id": p.dm, "type": "VIDEO" }))
        .await;
    assert_error(&second, StatusCode::CONFLICT, "CONFLICT");
    // The host's rules hold for requests forwarded from node-b.
    let for_ann = p
        .bob
        .api
        .put(
            &format!("/v1/calls/{id}/participants/{}/status", p.ann.id),
            json!({ "status": "LEFT" }),
        )
        .await;
    assert_error(&for_ann, StatusCode::FORBIDDEN, "FORBIDDEN");

    // Bob answers on node-b; the host changes the call and Ann hears of it on node-a.
    let answered = assert_ok(
        p.bob
            .api
            .put(
                &format!("/v1/calls/{id}/participants/{}/status", p.bob.id),
                json!({ "status": "JOINED" }),
            )
            .await,
        StatusCode::OK,
    );
    assert_eq!(status_of(&answered, &p.bob), "JOINED");
    let updated = p.ann_ws.expect("call:updated").await;
    assert_eq!(updated["user_id"], p.bob.id.as_str());
    assert_eq!(status_of(&updated["call"], &p.bob), "JOINED");
    let updated = p.bob_ws.expect("call:updated").await;
    assert_eq!(status_of(&updated["call"], &p.bob), "JOINED");

    // Signals go through each user's own node to the other's.
    p.ann_ws
        .send(signal("call:offer", &id, &p.bob, None, "sdp offer"))
        .await;
    let offer = p.bob_ws.expect("call:offer").await;
    assert_eq!(
        (&offer["from_id"], &offer["from_device_id"], &offer["data"]),
        (&json!(p.ann.id), &json!(p.ann.device_id), &json!("sdp offer"))
    );
    let ann_device = offer["from_device_id"].as_str().unwrap().to_owned();
    p.bob_ws
        .send(signal("call:answer", &id, &p.ann, Some(&ann_device), "sdp answer"))
        .await;
    let answer = p.ann_ws.expect("call:answer").await;
    assert_eq!(
        (&answer["from_id"], &answer["data"]),
        (&json!(p.bob.id), &json!("sdp answer"))
    );
    p.ann_ws
        .send(signal("call:ice", &id, &p.bob, None, "candidate a"))
        .await;
    assert_eq!(p.bob_ws.expect("call:ice").await["data"], "candidate a");
    p.bob_ws
        .send(signal("call:ice", &id, &p.ann, None, "candidate b"))
        .await;
    assert_eq!(p.ann_ws.expect("call:ice").await["data"], "candidate b");

    // A refusal by the recipient's node comes back to the sender: Bob's device is not Ann's.
    p.ann_ws
        .send(signal("call:ice", &id, &p.bob, Some(&ann_device), "misaddressed"))
        .await;
    let refused = p.ann_ws.expect("error").await;
    assert_eq!(refused["code"], "VALIDATION_ERROR", "{refused}");
    // Oversized signals are refused before they leave.
    let huge = "x".repeat(64 * 1024 + 1);
    p.bob_ws.send(signal("call:ice", &id, &p.ann, None, &huge)).await;
    assert_eq!(p.bob_ws.expect("error").await["code"], "VALIDATION_ERROR");

    // Bob mutes and reports the call connected from node-b.
    let muted = assert_ok(
        p.bob
            .api
            .put(
                &format!("/v1/calls/{id}/participants/{}/mute", p.bob.id),
                json!({ "audio_muted": true }),
            )
            .await,
        StatusCode::OK,
    );
    assert!(muted["participants"][1]["audio_muted"].as_bool().unwrap());
    let connected = assert_ok(
        p.bob.api.post_empty(&format!("/v1/calls/{id}/connected")).await,
        StatusCode::OK,
    );
    assert_eq!(connected["status"], "CONNECTED");
    let quality = assert_ok(
        p.bob
            .api
            .post("/v1/calls/quality", json!({ "call_id": id, "latency": 12.5 }))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(quality["user_id"], p.bob.id.as_str());

    // Bob ends it from node-b: the host ends it, and both sockets hear of it.
    let ended = assert_ok(
        p.bob
            .api
            .post(&format!("/v1/calls/{id}/end"), json!({ "reason": "COMPLETED" }))
            .await,
        StatusCode::OK,
    );
    assert_eq!(
        (&ended["status"], &ended["ended_by"]),
        (&json!("ENDED"), &json!(p.bob.id))
    );
    for ws in [&mut p.ann_ws, &mut p.bob_ws] {
        let notice = ws.expect("call:ended").await;
        assert_eq!(notice["call_id"], id.as_str());
        assert_eq!(notice["ended_by"], p.bob.id.as_str());
        assert_eq!(notice["reason"], "COMPLETED");
    }
    let at_host = assert_ok(p.ann.api.get(&format!("/v1/calls/{id}")).await, StatusCode::OK);
    assert_eq!(at_host["status"], "ENDED");
    eventually("node-b to keep the ended call", || async {
        let (_, body) = p.bob.api.get(&format!("/v1/calls/{id}")).await;
        (body["data"]["status"] == "ENDED").then_some(())
    })
    .await;
    // Nothing more is relayed for an ended call.
    p.bob_ws.send(signal("call:ice", &id, &p.ann, None, "late")).await;
    assert_eq!(p.bob_ws.expect("error").await["code"], "CONFLICT");
    let _ = (&p.a, &p.b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_may_not_act_or_signal_for_another_nodes_user_in_a_call() {
    let mut p = pair().await;
    let id = p.ann_calls_bob().await;
    let call: CallId = id.parse().unwrap();
    let bob: UserId = p.bob.id.parse().unwrap();
    let bob_device: DeviceId = p.bob.device_id.parse().unwrap();
    let ann: UserId = p.ann.id.parse().unwrap();
    let mut rogue = Rogue::new();

    // The host refuses a call change claiming Bob from a node that is not his home.
    let host = p2p_address(&p.a, &p.ann).await;
    let forged_end = CallActionRequest {
        user_id: bob,
        device_id: bob_device,
        action: CallAction::End {
            call_id: call,
            request: EndCallRequest {
                reason: Some(CallEndReason::Declined),
            },
        },
    };
    let answer = rogue
        .ask(&p.a, host.clone(), Request::CallAction(Box::new(forged_end)))
        .await;
    let Response::Error { code, .. } = answer else {
        panic!("a forged call change was accepted: {answer:?}");
    };
    assert_eq!(code, "forbidden");
    let forged_join = CallActionRequest {
        user_id: bob,
        device_id: bob_device,
        action: CallAction::SetStatus {
            call_id: call,
            user_id: bob,
            request: CallParticipantStatusRequest {
                status: CallParticipantStatus::Joined,
            },
        },
    };
    let answer = rogue
        .ask(&p.a, host.clone(), Request::CallAction(Box::new(forged_join)))
        .await;
    assert!(
        matches!(answer, Response::Error { ref code, .. } if code == "forbidden"),
        "{answer:?}"
    );

    // Ann's node refuses a signal claiming to come from Bob.
    let forged_signal = RelayedSignal {
        call_id: call,
        from_id: bob,
        from_device_id: bob_device,
        to_id: ann,
        to_device_id: None,
        kind: SignalKind::Offer,
        data: "forged offer".into(),
    };
    let answer = rogue
        .ask(&p.a, host.clone(), Request::CallSignal(Box::new(forged_signal)))
        .await;
    assert!(
        matches!(answer, Response::Error { ref code, .. } if code == "forbidden"),
        "{answer:?}"
    );

    // Bob's node refuses a call update from a node that does not host the DM.
    let member = p2p_address(&p.b, &p.bob).await;
    let (_, current) = p.bob.api.get(&format!("/v1/calls/{id}")).await;
    let mut forged_call: protocol::api::Call = serde_json::from_value(current["data"].clone()).unwrap();
    forged_call.status = protocol::api::CallStatus::Ended;
    let forged_update = CallUpdate {
        call: forged_call,
        event: CallEvent::Ended {
            by: ann,
            reason: CallEndReason::Failed,
        },
    };
    let sealed = Envelope::seal(&Event::Call(forged_update), &rogue.signing_key()).unwrap();
    let answer = rogue.ask(&p.b, member, Request::CallUpdate(sealed)).await;
    assert!(
        matches!(answer, Response::Error { ref code, .. } if code == "forbidden"),
        "{answer:?}"
    );

    // Nothing forged took effect: the call still rings at the host and on node-b, and nobody was told.
    for user in [&p.ann, &p.bob] {
        let call = assert_ok(user.api.get(&format!("/v1/calls/{id}")).await, StatusCode::OK);
        assert_eq!(call["status"], "RINGING", "{call}");
        assert_eq!(status_of(&call, &p.bob), "INVITED");
    }
    for ws in [&mut p.ann_ws, &mut p.bob_ws] {
        while let Some(frame) = ws.next_within(Duration::from_millis(500)).await {
            assert!(
                !frame["type"].as_str().unwrap_or_default().starts_with("call:"),
                "{frame}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_webrtc_peers_on_two_nodes_connect_through_their_nodes_signaling() {
    let mut p = pair().await;
    let id = p.ann_calls_bob().await;
    assert_ok(
        p.bob
            .api
            .put(
                &format!("/v1/calls/{id}/participants/{}/status", p.bob.id),
                json!({ "status": "JOINED" }),
            )
            .await,
        StatusCode::OK,
    );

    // Ann is a client of node-a and Bob of node-b: SDP and ICE travel only through the two nodes.
    let received = connect_and_send(&id, (&p.ann, &mut p.ann_ws), (&p.bob, &mut p.bob_ws)).await;
    assert_eq!(received, MESSAGE);

    assert_ok(
        p.ann
            .api
            .post(&format!("/v1/calls/{id}/end"), json!({ "reason": "COMPLETED" }))
            .await,
        StatusCode::OK,
    );
    let ended = timeout(LIMIT, p.bob_ws.expect("call:ended")).await.expect("call:ended");
    assert_eq!(ended["call_id"], id.as_str());
    let _ = (&p.a, &p.b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_on_two_replica_nodes_signal_each_other_without_the_host() {
    let bootstrap = start_bootstrap().await;
    let tune = |federation: &mut node::FederationConfig| federation.outbox_max_backoff = Duration::from_secs(1);
    let a = start_node_with("node-a", &bootstrap.address, tune).await;
    let b = start_node_with("node-b", &bootstrap.address, tune).await;
    let c = start_node_with("node-c", &bootstrap.address, tune).await;
    let (ann, bob, cat) = (
        a.node.user("ann").await,
        b.node.user("bob").await,
        c.node.user("cat").await,
    );
    let group = assert_ok(
        ann.api
            .post(
                "/v1/conversations",
                json!({ "type": "GROUP", "subject": "call", "participants": ["bob@node-b", "cat@node-c"] }),
            )
            .await,
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for user in [&bob, &cat] {
        eventually("the group to reach the member's node", || async {
            let (_, body) = user.api.get(&format!("/v1/conversations/{group}")).await;
            (body["data"]["participant_count"] == 3).then_some(())
        })
        .await;
    }
    let mut bob_ws = bob.ws(&b.node).await;
    bob_ws.sync().await;
    let mut cat_ws = cat.ws(&c.node).await;
    cat_ws.sync().await;

    // Bob starts the call from node-b: the host (node-a) creates it and rings Cat on node-c.
    let call = assert_ok(
        bob.api
            .post("/v1/calls", json!({ "conversation_id": group, "type": "VIDEO" }))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(call["initiator_id"], bob.id.as_str());
    let id = call["id"].as_str().unwrap().to_owned();
    let ring = cat_ws.expect("call:incoming").await;
    assert_eq!((&ring["call"]["id"], &ring["user_id"]), (&json!(id), &json!(bob.id)));
    assert_ok(
        cat.api
            .put(
                &format!("/v1/calls/{id}/participants/{}/status", cat.id),
                json!({ "status": "JOINED" }),
            )
            .await,
        StatusCode::OK,
    );
    let updated = bob_ws.expect("call:updated").await;
    assert_eq!(status_of(&updated["call"], &cat), "JOINED");

    // With the host gone, node-b and node-c still carry Bob's and Cat's signals to each other.
    drop(a);
    bob_ws.send(signal("call:offer", &id, &cat, None, "offer from b")).await;
    let offer = cat_ws.expect("call:offer").await;
    assert_eq!(
        (&offer["from_id"], &offer["data"]),
        (&json!(bob.id), &json!("offer from b"))
    );
    cat_ws
        .send(signal("call:answer", &id, &bob, None, "answer from c"))
        .await;
    let answer = bob_ws.expect("call:answer").await;
    assert_eq!(
        (&answer["from_id"], &answer["data"]),
        (&json!(cat.id), &json!("answer from c"))
    );
    let _ = (&ann, &b, &c);
}
