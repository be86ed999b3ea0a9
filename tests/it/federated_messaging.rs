//! Conversations across nodes, over real libp2p swarms on 127.0.0.1 QUIC: the creator's node hosts the
//! conversation, orders its messages and relays them, signed, to the home node of every participant,
//! which stores its devices' ciphertexts and pushes them over WebSocket. Clients are the real SDK
//! (X3DH + Double Ratchet) or raw HTTP/WebSocket.

use std::time::Duration;

use client::{Client, Event, Listener, Registration, StoredMessage};
use protocol::federation::{self as wire, Envelope, Event as Relayed, ReceiptNotice, Request, Response, Submission};
use protocol::{ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};

use crate::federation::{
    FederatedNode, Rogue, WAIT, eventually, hosted_conversation, p2p_address, start_bootstrap, start_node_with,
};
use crate::support::*;

const PASSWORD: &str = "correct horse battery";

async fn node(name: &str, bootstrap: &libp2p::Multiaddr) -> FederatedNode {
    start_node_with(name, bootstrap, |federation| {
        federation.outbox_max_backoff = Duration::from_secs(1);
    })
    .await
}

async fn register(node: &FederatedNode, profiles: &tempfile::TempDir, name: &str) -> Client {
    let registration = Registration::new(name, format!("{name}@example.org"), PASSWORD);
    Client::register(profiles.path().join(name), &node.node.base, registration)
        .await
        .unwrap()
}

/// Reads decrypted messages until `count` arrived.
async fn receive(listener: &mut Listener, count: usize) -> Vec<StoredMessage> {
    let mut received = Vec::new();
    while received.len() < count {
        let event = tokio::time::timeout(WAIT, listener.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages arrived", received.len()))
            .expect("the listener keeps running");
        match event {
            Event::Message(message) => received.push(message),
            Event::Rejected { error, .. } | Event::Stopped { error } => panic!("listener failed: {error}"),
            _ => {}
        }
    }
    received
}

fn texts(messages: &[StoredMessage]) -> Vec<String> {
    messages.iter().map(|m| m.text().unwrap().to_owned()).collect()
}

/// Waits until `client` sees the conversation (its home node has the host's snapshot).
async fn sees(client: &Client, conversation: ConversationId) {
    eventually("the conversation to reach the participant's node", || async {
        client
            .conversations()
            .await
            .ok()
            .and_then(|all| all.iter().any(|c| c.id == conversation).then_some(()))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dm_across_two_nodes_is_end_to_end_encrypted_both_ways() {
    let bootstrap = start_bootstrap().await;
    let a = node("node-a", &bootstrap.address).await;
    let b = node("node-b", &bootstrap.address).await;
    let profiles = tempfile::tempdir().unwrap();
    let ann = register(&a, &profiles, "ann").await;
    let bob = register(&b, &profiles, "bob").await;
    let mut ann_inbox = ann.listen();
    let mut bob_inbox = bob.listen();

    // Ann finds Bob by his exact handle, then names him by it; her node hosts the DM and Bob's node
    // learns of it.
    let found = ann.find_user("bob@node-b").await.unwrap();
    assert_eq!(found.id, bob.user_id());
    let dm = ann.open_dm("bob@node-b").await.unwrap();
    sees(&bob, dm.id).await;
    let participants = bob.participants(dm.id).await.unwrap();
    let names: Vec<String> = participants.iter().filter_map(|p| p.username.clone()).collect();
    assert!(names.contains(&"ann@node-a".to_owned()), "{names:?}");
    // Opening the DM from Bob's side finds the same conversation.
    assert_eq!(bob.open_dm(ann.user_id()).await.unwrap().id, dm.id);

    for text in ["hello bob", "from node a", "third"] {
        let sent = ann.send(dm.id, text).await.unwrap();
        assert_eq!(sent.recipients, vec![bob.device_id()]);
    }
    let got = receive(&mut bob_inbox, 3).await;
    assert_eq!(texts(&got), ["hello bob", "from node a", "third"]);
    assert_eq!(got.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(got.iter().all(|m| m.sender_id == ann.user_id()));

    // Bob answers from his node: the host orders it after Ann's messages and relays it back.
    let reply = bob.send(dm.id, "hi ann, from node b").await.unwrap();
    assert_eq!(reply.message.sequence_number, 4);
    let got = receive(&mut ann_inbox, 1).await;
    assert_eq!(texts(&got), ["hi ann, from node b"]);
    assert_eq!(got[0].sender_id, bob.user_id());

    // Each node's copy of the history agrees on order.
    let bob_history: Vec<u64> = bob.history(dm.id).unwrap().iter().map(|m| m.sequence_number).collect();
    assert_eq!(bob_history, [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_spans_three_nodes_with_end_to_end_encryption() {
    let bootstrap = start_bootstrap().await;
    let a = node("node-a", &bootstrap.address).await;
    let b = node("node-b", &bootstrap.address).await;
    let c = node("node-c", &bootstrap.address).await;
    let profiles = tempfile::tempdir().unwrap();
    let ann = register(&a, &profiles, "ann").await;
    let bob = register(&b, &profiles, "bob").await;
    let cat = register(&c, &profiles, "cat").await;
    let mut inboxes = [ann.listen(), bob.listen(), cat.listen()];

    let group = ann
        .create_group("three nodes", ["bob@node-b", "cat@node-c"])
        .await
        .unwrap();
    assert_eq!(group.participant_count, 3);
    sees(&bob, group.id).await;
    sees(&cat, group.id).await;

    // Everyone speaks in turn; the host (node-a) orders every message, including those submitted by
    // node-b and node-c, and each device decrypts the others' messages in that order.
    let senders = [&ann, &bob, &cat, &ann, &cat, &bob];
    let mut sent = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let text = format!("message {i} from {}", sender.user_id());
        let message = sender.send(group.id, &text).await.unwrap();
        assert_eq!(message.recipients.len(), 2, "encrypted for the two other devices");
        sent.push((message.message.sequence_number, text, sender.user_id()));
    }
    assert_eq!(
        sent.iter().map(|(seq, _, _)| *seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    for (index, (client, inbox)) in [&ann, &bob, &cat].into_iter().zip(&mut inboxes).enumerate() {
        let expected: Vec<(u64, String)> = sent
            .iter()
            .filter(|(_, _, from)| *from != client.user_id())
            .map(|(seq, text, _)| (*seq, text.clone()))
            .collect();
        let got = receive(inbox, expected.len()).await;
        let got: Vec<(u64, String)> = got
            .iter()
            .map(|m| (m.sequence_number, m.text().unwrap().to_owned()))
            .collect();
        assert_eq!(
            got, expected,
            "participant {index} decrypts the others' messages in host order"
        );
    }
}

/// Ann on node-a hosts a group with Bob on node-b and Cat on node-c, over raw HTTP and WebSocket.
struct RawGroup {
    a: FederatedNode,
    b: FederatedNode,
    c: FederatedNode,
    ann: User,
    bob: User,
    cat: User,
    group: String,
    _bootstrap: crate::federation::Bootstrap,
}

async fn raw_group() -> RawGroup {
    let bootstrap = start_bootstrap().await;
    let a = node("node-a", &bootstrap.address).await;
    raw_group_hosted_by(a, bootstrap).await
}

/// The group of `raw_group` with a host the caller started (and configured) on `bootstrap`.
async fn raw_group_hosted_by(a: FederatedNode, bootstrap: crate::federation::Bootstrap) -> RawGroup {
    let b = node("node-b", &bootstrap.address).await;
    let c = node("node-c", &bootstrap.address).await;
    let ann = a.node.user("ann").await;
    let bob = b.node.user("bob").await;
    let cat = c.node.user("cat").await;
    let group = hosted_conversation(&ann, "GROUP", &[(&bob, "bob@node-b"), (&cat, "cat@node-c")]).await;
    RawGroup {
        a,
        b,
        c,
        ann,
        bob,
        cat,
        group,
        _bootstrap: bootstrap,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_cross_back_to_the_sender_through_the_host() {
    let g = raw_group().await;
    let mut ann_ws = g.ann.ws(&g.a.node).await;
    let mut bob_ws = g.bob.ws(&g.b.node).await;
    let mut cat_ws = g.cat.ws(&g.c.node).await;
    for ws in [&mut ann_ws, &mut bob_ws, &mut cat_ws] {
        ws.sync().await;
    }

    // Ann (on the host) writes; Bob reads it on node-b; Ann hears of it on node-a.
    let sent = assert_ok(
        send_text(&g.ann, &g.group, &[&g.bob, &g.cat], "from ann", "r-1").await,
        StatusCode::CREATED,
    );
    let message_id = sent["id"].as_str().unwrap().to_owned();
    let sent_first = message_id.clone();
    let frame = bob_ws.expect("message:new").await;
    assert_eq!(frame["message_id"], message_id.as_str());
    assert!(content(&frame).starts_with("from ann"));
    assert_ok(
        g.bob.api.post_empty(&format!("/v1/messages/{message_id}/read")).await,
        StatusCode::OK,
    );
    let read = ann_ws.expect("message:read").await;
    assert_eq!(read["message_id"], message_id.as_str());
    assert_eq!(read["reader_id"], g.bob.id.as_str());

    // Cat (node-c) writes through the host; Bob (node-b) receives it; Bob's delivery receipt travels
    // node-b -> node-a (host) -> node-c.
    let sent = assert_ok(
        send_text(&g.cat, &g.group, &[&g.ann, &g.bob], "from cat", "r-2").await,
        StatusCode::CREATED,
    );
    assert_eq!(sent["sequence_number"], 2);
    let message_id = sent["id"].as_str().unwrap().to_owned();
    let frame = bob_ws.expect("message:new").await;
    assert_eq!(frame["message_id"], message_id.as_str());
    assert_eq!(frame["sender_id"], g.cat.id.as_str());
    bob_ws
        .send(json!({ "type": "message:delivered", "message_id": message_id }))
        .await;
    let delivered = cat_ws.expect("message:delivered").await;
    assert_eq!(delivered["message_id"], message_id.as_str());
    assert_eq!(delivered["recipient_id"], g.bob.id.as_str());
    let frame = ann_ws.expect("message:new").await;
    assert_eq!(frame["message_id"], message_id.as_str());

    // Ann (on the host) edits her message: Bob and Cat get the new copies on their nodes.
    let first = sent_first.clone();
    let edited =
        json!({ "ciphertexts": send_body(&g.group, &[&g.bob, &g.cat], "ann, edited", "unused")["ciphertexts"] });
    assert_ok(
        g.ann.api.put(&format!("/v1/messages/{first}"), edited).await,
        StatusCode::OK,
    );
    for ws in [&mut bob_ws, &mut cat_ws] {
        let frame = ws.expect("message:updated").await;
        assert_eq!(frame["message_id"], first.as_str());
        assert!(content(&frame).starts_with("ann, edited"));
    }

    // Bob reacts from node-b: the host records it and every node shows it.
    let reactions = assert_ok(
        g.bob
            .api
            .post(&format!("/v1/messages/{first}/reactions"), json!({ "emoji": "👍" }))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(reactions["reactions"][0]["emoji"], "👍");
    for ws in [&mut ann_ws, &mut cat_ws] {
        let frame = ws.expect("message:reaction").await;
        assert_eq!(frame["user_id"], g.bob.id.as_str());
        assert_eq!(frame["added"], true);
    }
    let seen_on_c = assert_ok(
        g.cat.api.get(&format!("/v1/messages/{first}/reactions")).await,
        StatusCode::OK,
    );
    assert_eq!(seen_on_c["reactions"][0]["user_ids"][0], g.bob.id.as_str());

    // Cat deletes her message from node-c: the host applies it and every node hears of it.
    let deleted = assert_ok(
        g.cat.api.delete(&format!("/v1/messages/{message_id}")).await,
        StatusCode::OK,
    );
    assert_eq!(deleted["is_deleted"], true);
    for ws in [&mut ann_ws, &mut bob_ws, &mut cat_ws] {
        let frame = ws.expect("message:deleted").await;
        assert_eq!(frame["message_id"], message_id.as_str());
    }
    let (_, listed) = g.bob.api.get(&format!("/v1/messages/{message_id}")).await;
    assert_eq!(listed["data"]["is_deleted"], true, "{listed}");
    // Only its sender may delete it, wherever the request comes from.
    let (status, body) = g.bob.api.delete(&format!("/v1/messages/{first}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Typing travels best effort to every node with a member; so does presence.
    bob_ws
        .send(json!({ "type": "typing:started", "conversation_id": g.group }))
        .await;
    for ws in [&mut ann_ws, &mut cat_ws] {
        let frame = ws.expect("typing:started").await;
        assert_eq!(frame["user_id"], g.bob.id.as_str());
        assert_eq!(frame["display_name"], "bob display");
    }
    bob_ws
        .send(json!({ "type": "presence:online", "status": "away" }))
        .await;
    for ws in [&mut ann_ws, &mut cat_ws] {
        let frame = ws.expect("presence:online").await;
        assert_eq!(frame["user_id"], g.bob.id.as_str());
        assert_eq!(frame["status"], "away");
    }

    // Contacts take handles too; another node's user is listed with its handle.
    let contact = assert_ok(
        g.ann
            .api
            .post("/v1/users/me/contacts", json!({ "contact_user_id": "bob@node-b" }))
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(contact["id"], g.bob.id.as_str());
    let contacts = assert_ok(g.ann.api.get("/v1/users/me/contacts").await, StatusCode::OK);
    assert_eq!(contacts["contacts"][0]["username"], "bob@node-b", "{contacts}");

    // A replica refuses membership changes: they are made at the host.
    let (status, body) = g
        .bob
        .api
        .post(
            &format!("/v1/conversations/{}/participants", g.group),
            json!({ "user_id": g.ann.id }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let _ = (&g.a, &g.c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_may_speak_only_for_its_own_users() {
    let g = raw_group().await;
    let mut rogue = Rogue::new();
    let conversation: ConversationId = g.group.parse().unwrap();
    let bob: UserId = g.bob.id.parse().unwrap();
    let ann_device: DeviceId = g.ann.device_id.parse().unwrap();

    // A submission claiming Bob (a user of node-b) from another node is refused by the host.
    let host = p2p_address(&g.a, &g.ann).await;
    let forged = Submission {
        conversation_id: conversation,
        sender_id: bob,
        sender_device_id: g.bob.device_id.parse().unwrap(),
        client_message_id: ClientMessageId::new("forged-1").unwrap(),
        message_type: MessageType::Text,
        copies: vec![wire::SubmittedCopy {
            device_id: ann_device,
            ciphertext: protocol::Base64Bytes(b"forged".to_vec()),
            header: None,
        }],
        body: None,
        reply_to: None,
        mentions: Vec::new(),
        forwarded_from: None,
        message_id: None,
    };
    let answer = rogue.ask(&g.a, host.clone(), Request::Submit(Box::new(forged))).await;
    let Response::Error { code, .. } = answer else {
        panic!("a forged sender was accepted: {answer:?}");
    };
    assert_eq!(code, "forbidden");

    // A message for the group relayed by a node that does not host it is refused by node-c, and so is
    // an envelope signed by another key than the sending node's.
    let relayed = Relayed::Message(wire::RelayedMessage {
        message_id: MessageId::random(),
        conversation_id: conversation,
        seq: 99,
        sender_id: bob,
        sender_device_id: g.bob.device_id.parse().unwrap(),
        client_message_id: ClientMessageId::new("forged-2").unwrap(),
        message_type: MessageType::Text,
        created_at: chrono::Utc::now(),
        reply_to: None,
        mentions: Vec::new(),
        forwarded_from: None,
        copies: vec![wire::RelayedCopy {
            user_id: g.cat.id.parse().unwrap(),
            device_id: g.cat.device_id.parse().unwrap(),
            ciphertext: protocol::Base64Bytes(b"forged".to_vec()),
            header: None,
        }],
        body: None,
    });
    let own_signature = Envelope::seal(&relayed, &rogue.signing_key()).unwrap();
    let other_signature = Envelope::seal(&relayed, &ed25519_dalek::SigningKey::from_bytes(&[5; 32])).unwrap();
    let receipt = Relayed::Receipt(ReceiptNotice {
        conversation_id: conversation,
        message_id: MessageId::random(),
        user_id: bob,
        read: true,
        at: chrono::Utc::now(),
    });
    let forged_receipt = Envelope::seal(&receipt, &rogue.signing_key()).unwrap();
    let member = p2p_address(&g.c, &g.cat).await;
    let envelopes = vec![own_signature.clone(), own_signature, other_signature, forged_receipt];
    let (applied, rejected) = deliver(&mut rogue, &g.c, member.clone(), envelopes).await;
    assert_eq!(applied, 0, "nothing forged is applied: {rejected:?}");
    assert_eq!(
        rejected.len(),
        4,
        "a message sent twice in one batch is refused twice: {rejected:?}"
    );
    assert!(
        rejected[2].contains("signature"),
        "refusals keep the batch's order: {rejected:?}"
    );

    // Nor may a node move the group to itself: Bob is neither its user nor an owner.
    let a_peer = p2p_address(&g.a, &g.ann).await;
    let Some(libp2p::multiaddr::Protocol::P2p(a_peer)) = a_peer.iter().last() else {
        panic!("node-a's address names its peer: {a_peer}");
    };
    let handover = Relayed::Rehomed(wire::Handover {
        conversation_id: conversation,
        by: bob,
        replaces: a_peer.to_bytes(),
        at: chrono::Utc::now(),
    });
    let forged_move = Envelope::seal(&handover, &rogue.signing_key()).unwrap();
    let (applied, rejected) = deliver(&mut rogue, &g.c, member, vec![forged_move]).await;
    assert_eq!(
        (applied, rejected.len()),
        (0, 1),
        "a forged move is refused: {rejected:?}"
    );
    let (_, held) = g.cat.api.get(&format!("/v1/conversations/{}", g.group)).await;
    assert_eq!(held["data"]["host"], "node-a", "{held}");

    // Nothing reached Cat.
    let (_, page) = g
        .cat
        .api
        .get(&format!("/v1/messages?conversation_id={}", g.group))
        .await;
    assert_eq!(page["data"]["messages"].as_array().map(Vec::len), Some(0), "{page}");
    let _ = &g.b;
}

/// Delivers `envelopes` from the rogue node to `node`: how many it applied, and why it refused the rest.
async fn deliver(
    rogue: &mut Rogue,
    node: &FederatedNode,
    address: libp2p::Multiaddr,
    envelopes: Vec<Envelope>,
) -> (u32, Vec<String>) {
    match rogue.ask(node, address, Request::Deliver { envelopes }).await {
        Response::Accepted { applied, rejected, .. } => (applied, rejected),
        answer => panic!("unexpected answer {answer:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_throttled_host_slows_down_instead_of_stopping() {
    let bootstrap = start_bootstrap().await;
    let a = node("node-a", &bootstrap.address).await;
    // Node-b lets each peer make 12 requests a minute: far fewer than one per message.
    let b = start_node_with("node-b", &bootstrap.address, |federation| {
        federation.outbox_max_backoff = Duration::from_secs(1);
        federation.peer_requests_per_minute = 12;
    })
    .await;
    let ann = a.node.user("ann").await;
    let bob = b.node.user("bob").await;
    let dm = hosted_conversation(&ann, "DM", &[(&bob, "bob@node-b")]).await;
    let mut bob_ws = bob.ws(&b.node).await;
    bob_ws.sync().await;
    for i in 0..40 {
        assert_ok(
            send_text(&ann, &dm, &[&bob], &format!("burst {i}"), &format!("b-{i}")).await,
            StatusCode::CREATED,
        );
    }
    // Once the budget is spent the host's outbox backs off and then sends what piled up in one batch.
    let mut sequence = Vec::new();
    while sequence.len() < 40 {
        let frame = bob_ws
            .next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("only {} of 40 arrived", sequence.len()));
        if frame["type"] == "message:new" {
            sequence.push(frame["sequence_number"].as_u64().unwrap());
        }
    }
    assert_eq!(sequence, (1..=40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_is_kept_by_the_blockers_node() {
    let bootstrap = start_bootstrap().await;
    let a = node("node-a", &bootstrap.address).await;
    let b = node("node-b", &bootstrap.address).await;
    let ann = a.node.user("ann").await;
    let bob = b.node.user("bob").await;
    let dm = hosted_conversation(&ann, "DM", &[(&bob, "bob@node-b")]).await;
    let mut bob_ws = bob.ws(&b.node).await;
    bob_ws.sync().await;

    // Bob blocks Ann on his node. Her host cannot know, so it takes the message; Bob's node drops it.
    assert_ok(
        bob.api
            .post_empty(&format!("/v1/users/me/contacts/{}/block", ann.id))
            .await,
        StatusCode::OK,
    );
    assert_ok(
        send_text(&ann, &dm, &[&bob], "while blocked", "k-1").await,
        StatusCode::CREATED,
    );
    eventually("node-a to deliver to node-b", || async {
        let peers = assert_ok(ann.api.get("/v1/federation/peers").await, StatusCode::OK);
        let to_b = peers["peers"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == "node-b")?
            .clone();
        (to_b["outbox_depth"] == 0).then_some(())
    })
    .await;
    assert_ok(
        bob.api
            .post_empty(&format!("/v1/users/me/contacts/{}/unblock", ann.id))
            .await,
        StatusCode::OK,
    );
    assert_ok(send_text(&ann, &dm, &[&bob], "after", "k-2").await, StatusCode::CREATED);
    let frame = bob_ws.expect("message:new").await;
    assert_eq!(
        frame["sequence_number"], 2,
        "the message sent while blocked never arrives"
    );
    assert!(content(&frame).starts_with("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_changes_at_the_host_reach_every_node() {
    let bootstrap = start_bootstrap().await;
    let a = node("node-a", &bootstrap.address).await;
    let b = node("node-b", &bootstrap.address).await;
    let c = node("node-c", &bootstrap.address).await;
    let ann = a.node.user("ann").await;
    let bob = b.node.user("bob").await;
    let cat = c.node.user("cat").await;
    let group = hosted_conversation(&ann, "GROUP", &[(&bob, "bob@node-b")]).await;
    let mut ann_ws = ann.ws(&a.node).await;
    ann_ws.sync().await;
    let mut bob_ws = bob.ws(&b.node).await;
    bob_ws.sync().await;

    // Ann adds Cat by handle: node-c learns of the group and Cat gets what is sent from then on.
    let added = assert_ok(
        ann.api
            .post(
                &format!("/v1/conversations/{group}/participants"),
                json!({ "user_id": "cat@node-c" }),
            )
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(added["user_id"], cat.id.as_str());
    eventually("the group to reach node-c", || async {
        let (status, _) = cat.api.get(&format!("/v1/conversations/{group}")).await;
        (status == StatusCode::OK).then_some(())
    })
    .await;
    // Node-b's snapshot travels through its own outbox queue, so it may land after node-c's.
    eventually("node-b to see the new member too", || async {
        let members = assert_ok(
            bob.api.get(&format!("/v1/conversations/{group}/participants")).await,
            StatusCode::OK,
        );
        (members["participants"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;
    // Both the host's members and the replica's hear of the new member.
    for ws in [&mut ann_ws, &mut bob_ws] {
        let joined = ws.expect("participant:added").await;
        assert_eq!(joined["conversation_id"], group.as_str());
        assert_eq!(joined["user_id"], cat.id.as_str());
        assert_eq!(joined["role"], "member");
    }
    let mut cat_ws = cat.ws(&c.node).await;
    cat_ws.sync().await;
    assert_ok(
        send_text(&bob, &group, &[&ann, &cat], "welcome cat", "m-1").await,
        StatusCode::CREATED,
    );
    let frame = cat_ws.expect("message:new").await;
    assert!(content(&frame).starts_with("welcome cat"));

    // Ann removes Bob: node-b drops him from the group, and a send for his device is refused.
    let (status, body) = ann
        .api
        .delete(&format!("/v1/conversations/{group}/participants/{}", bob.id))
        .await;
    assert!(status.is_success(), "{status} {body}");
    eventually("node-b to drop bob from the group", || async {
        let (status, _) = bob.api.get(&format!("/v1/conversations/{group}")).await;
        (status == StatusCode::FORBIDDEN).then_some(())
    })
    .await;
    let removed = bob_ws.expect("participant:removed").await;
    assert_eq!(removed["user_id"], bob.id.as_str());
    assert_eq!(cat_ws.expect("participant:removed").await["user_id"], bob.id.as_str());
    let (status, body) = send_text(&ann, &group, &[&bob, &cat], "bob is gone", "m-2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_ok(
        send_text(&ann, &group, &[&cat], "just us", "m-3").await,
        StatusCode::CREATED,
    );
    let frame = cat_ws.expect("message:new").await;
    assert!(content(&frame).starts_with("just us"));
    let _ = &a;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_never_fetched_from_a_home_that_is_down_are_unavailable_not_empty() {
    let RawGroup {
        a,
        b,
        c,
        bob,
        cat,
        group,
        ..
    } = raw_group().await;
    // Node-c learnt Bob's home from the host's membership, never his devices.
    eventually("cat sees the group", || async {
        let (status, _) = cat.api.get(&format!("/v1/conversations/{group}")).await;
        status.is_success().then_some(())
    })
    .await;
    drop(b);
    // An empty list would let Cat's client encrypt for the others only and leave Bob out unnoticed.
    let (status, body) = cat.api.get(&format!("/v1/users/{}/devices", bob.id)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let _ = (&a, &c);
}

/// A host cut off from a member's home cannot tell whether a device is that member's, so it must not
/// refuse a queued message addressed to it for good: the sender's node keeps it pending and retries.
/// (A 100-node simulation lost a message so, its host partitioned from a member's home.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_that_cannot_reach_a_members_home_does_not_refuse_a_message_for_good() {
    let bootstrap = start_bootstrap().await;
    // The host asks members' homes about every device it does not know, without a cached answer.
    let a = start_node_with("node-a", &bootstrap.address, |federation| {
        federation.lookups.max_age = Duration::ZERO;
        federation.outbox_max_backoff = Duration::from_secs(1);
    })
    .await;
    let RawGroup {
        a,
        b,
        c,
        ann,
        cat,
        group,
        _bootstrap,
        ..
    } = raw_group_hosted_by(a, bootstrap).await;
    drop(b);

    // A device the host has never seen, as a device Bob added just before his node went down would be.
    let mut body = send_body(&group, &[&ann], "to a device only node-b knows", "unknown-device");
    body["ciphertexts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "recipient_device_id": DeviceId::random(), "ciphertext": b64(b"for bob's new device") }));
    let sent = assert_ok(cat.api.post("/v1/messages", body).await, StatusCode::ACCEPTED);
    assert_eq!(sent["state"], "pending", "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();

    // Node-c's outbox offers it to the host again and again (every second here); each time the host
    // asks node-b, which does not answer. It stays pending instead of turning `refused`.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let now = assert_ok(cat.api.get(&format!("/v1/messages/{id}")).await, StatusCode::OK);
    assert_eq!(now["state"], "pending", "{now}");
    let _ = (&a, &c);
}
