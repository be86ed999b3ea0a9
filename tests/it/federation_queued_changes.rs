//! Edits, deletions and reactions in a conversation whose host is down: the member's home node checks
//! them against its copy (refusing at once what the host would refuse), accepts the rest (`202`,
//! `pending`) and queues them behind the member's sends; once the host is back it applies them in
//! order and every node, the member's included, shows the result.

use crate::federation::{eventually, start_bootstrap};
use crate::federation_faults::{NodeSpec, open_dm, register};
use crate::support::*;

/// Bob's edit of `message`, for Ann's device and his own.
fn edit_body(dm: &str, ann: &User, bob: &User, text: &str) -> Value {
    json!({ "ciphertexts": send_body(dm, &[ann, bob], text, "unused")["ciphertexts"] })
}

/// A change's answer while the host is down: 202, `pending`, with the message or reactions as they
/// stand.
fn queued((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(
        (status, &body["data"]["state"]),
        (StatusCode::ACCEPTED, &json!("pending")),
        "{body}"
    );
    body["data"].clone()
}

/// The message as `reader`'s node holds it.
async fn message(reader: &User, id: &str) -> Value {
    assert_ok(reader.api.get(&format!("/v1/messages/{id}")).await, StatusCode::OK)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_made_while_the_host_is_down_are_applied_when_it_returns() {
    let bootstrap = start_bootstrap().await;
    let spec_a = NodeSpec::new("node-a", &bootstrap.address);
    let a = spec_a.start();
    let b = NodeSpec::new("node-b", &bootstrap.address).start();
    let ann = register(&a.base, "ann").await;
    let bob = register(&b.base, "bob").await;
    let dm = open_dm(&ann, &bob).await;
    let mut ids = Vec::new();
    for n in 1..=4 {
        let sent = send_text(&bob, &dm, &[&ann, &bob], &format!("m{n}"), &format!("m{n}")).await;
        ids.push(assert_ok(sent, StatusCode::CREATED)["id"].as_str().unwrap().to_owned());
    }
    let from_ann = send_text(&ann, &dm, &[&ann, &bob], "from ann", "a1").await;
    let anns = assert_ok(from_ann, StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // With the host up, a change is answered once applied, as before.
    let edited = assert_ok(
        bob.api
            .put(
                &format!("/v1/messages/{}", ids[0]),
                edit_body(&dm, &ann, &bob, "m1, edited"),
            )
            .await,
        StatusCode::OK,
    );
    assert_eq!(edited["is_edited"], true, "{edited}");
    let reacted = bob
        .api
        .post(&format!("/v1/messages/{}/reactions", ids[1]), json!({ "emoji": "👍" }))
        .await;
    assert_eq!(assert_ok(reacted, StatusCode::CREATED)["reactions"][0]["emoji"], "👍");
    eventually("bob's reaction to reach ann's node", || async {
        let reactions = assert_ok(
            ann.api.get(&format!("/v1/messages/{}/reactions", ids[1])).await,
            StatusCode::OK,
        );
        (reactions["reactions"].as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    let mut bobs_socket = Ws::connect(&b.ws_url(&bob.token)).await;
    bobs_socket.expect("sync:complete").await;

    a.kill();
    queued(
        bob.api
            .put(
                &format!("/v1/messages/{}", ids[0]),
                edit_body(&dm, &ann, &bob, "m1, edited again"),
            )
            .await,
    );
    queued(
        bob.api
            .post(&format!("/v1/messages/{}/reactions", ids[1]), json!({ "emoji": "🎉" }))
            .await,
    );
    let (status, body) = bob
        .api
        .delete(&format!("/v1/messages/{}/reactions/%F0%9F%91%8D", ids[1]))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let deleted = queued(bob.api.delete(&format!("/v1/messages/{}", ids[2])).await);
    assert_eq!(
        deleted["is_deleted"], false,
        "shown as it stands until the host applies it"
    );
    let (status, body) = bob.api.delete(&format!("/v1/messages/{}/hard", ids[3])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // What the host would refuse is refused here at once, host or no host.
    let (status, body) = bob
        .api
        .put(&format!("/v1/messages/{anns}"), edit_body(&dm, &ann, &bob, "not bob's"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = bob
        .api
        .delete(&format!("/v1/messages/{}/reactions/%E2%9D%A4", ids[1]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such reaction of bob's: {body}");

    let a = spec_a.start();
    let ann = a.as_user(&ann);
    // Bob's devices hear each change as the host applies it, in the order he made them.
    let mut heard = Vec::new();
    while heard.len() < 5 {
        let frame = bobs_socket.next().await;
        match frame["type"].as_str() {
            Some("message:updated") => heard.push(format!("updated {}", content(&frame))),
            Some("message:reaction") => heard.push(format!("reaction {} {}", frame["emoji"], frame["added"])),
            Some("message:deleted") => heard.push(format!("deleted {}", frame["message_id"])),
            _ => {}
        }
    }
    assert_eq!(
        heard,
        [
            format!("updated m1, edited again for {}", bob.device_id),
            "reaction \"🎉\" true".to_owned(),
            "reaction \"👍\" false".to_owned(),
            format!("deleted \"{}\"", ids[2]),
            format!("deleted \"{}\"", ids[3]),
        ]
    );
    for reader in [&ann, &bob] {
        eventually(&format!("{}'s node to show every change", reader.name), || async {
            let first = message(reader, &ids[0]).await;
            let reactions = assert_ok(
                reader.api.get(&format!("/v1/messages/{}/reactions", ids[1])).await,
                StatusCode::OK,
            );
            let third = message(reader, &ids[2]).await;
            let (erased, _) = reader.api.get(&format!("/v1/messages/{}", ids[3])).await;
            let done = content(&json!({ "content": first["ciphertext"] })).starts_with("m1, edited again")
                && reactions["reactions"].as_array().unwrap().len() == 1
                && reactions["reactions"][0]["emoji"] == "🎉"
                && third["is_deleted"] == true
                && erased == StatusCode::NOT_FOUND;
            done.then_some(())
        })
        .await;
    }
}
