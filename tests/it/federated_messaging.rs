//! Conversations across nodes, over real libp2p swarms on 127.0.0.1 QUIC: the creator's node hosts the
//! conversation, orders its messages and relays them, signed, to the home node of every participant,
//! which stores its devices' ciphertexts and pushes them over WebSocket. Clients are the real SDK
//! (X3DH + Double Ratchet) or raw HTTP/WebSocket.

use std::time::Duration;

use client::{Client, Event, Listener, Registration, StoredMessage};
use libp2p::StreamProtocol;
use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use protocol::federation::{self as wire, Request, Response};
use protocol::{ConversationId, UserId};

use crate::federation::{FederatedNode, WAIT, eventually, start_bootstrap, start_node_with};
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

    // Ann names Bob by handle; her node hosts the DM and Bob's node learns of it.
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
