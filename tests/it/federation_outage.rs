//! A user's home node down, seen from another node: lookups answer from the copy the asking node keeps,
//! marked stale, without waiting on the dead node, and a CLI send into a DM hosted by the sender's own
//! node is acknowledged and reaches the recipient once its node is back.

use std::time::{Duration, Instant};

use crate::e2ee::{parley, register_cli};
use crate::federation::start_bootstrap;
use crate::federation_faults::{NodeSpec, open_dm, register};
use crate::support::*;

/// The bound for a lookup while the user's node is down (the node's default timeout is 300 ms).
const ANSWER_BOUND: Duration = Duration::from_millis(500);

/// The median time of `rounds` runs of one GET, each answered 200 and marked stale.
async fn median_stale_answer(user: &User, path: &str, stale_at: &str, rounds: usize) -> (Duration, Value) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = Value::Null;
    for _ in 0..rounds {
        let started = Instant::now();
        last = assert_ok(user.api.get(path).await, StatusCode::OK);
        times.push(started.elapsed());
        let flag = last.pointer(stale_at);
        assert_eq!(flag, Some(&json!(true)), "{path} says its answer may be stale: {last}");
    }
    times.sort();
    (times[rounds / 2], last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lookups_of_a_user_whose_node_is_down_answer_from_the_copy_marked_stale() {
    let bootstrap = start_bootstrap().await;
    // Every lookup asks the home node (the copy is otherwise used unasked for 30 s), with the default
    // timeout.
    let a = NodeSpec::new("node-a", &bootstrap.address)
        .with_args(&["--lookup-max-age", "0"])
        .start();
    let spec_b = NodeSpec::new("node-b", &bootstrap.address);
    let b = spec_b.start();
    let ann = register(&a.base, "ann").await;
    let bob = register(&b.base, "bob").await;
    bob.publish_keys(5).await;
    open_dm(&ann, &bob).await;

    // While node-b answers, nothing is stale, and a claimed bundle carries a one-time prekey.
    let found = assert_ok(ann.api.get("/v1/users/search?query=bob@node-b").await, StatusCode::OK);
    assert_eq!(found["users"][0]["id"], bob.id.as_str());
    assert!(found["users"][0].get("stale").is_none(), "fresh: {found}");
    let devices = format!("/v1/users/{}/devices", bob.id);
    assert!(
        assert_ok(ann.api.get(&devices).await, StatusCode::OK)
            .get("stale")
            .is_none()
    );
    let bundle = format!("/v1/encryption/bundles?user_id={}&device_id={}", bob.id, bob.device_id);
    let claimed = assert_ok(ann.api.get(&bundle).await, StatusCode::OK);
    assert!(claimed["one_time_prekey"].is_object(), "a fresh claim: {claimed}");
    assert!(claimed.get("stale").is_none());

    b.kill();
    let rounds = 5;
    let lookups = [
        ("/v1/users/search?query=bob@node-b".to_owned(), "/users/0/stale"),
        ("/v1/federation/users/bob@node-b".to_owned(), "/stale"),
        (format!("/v1/users/{}", bob.id), "/stale"),
        (devices.clone(), "/stale"),
        (bundle.clone(), "/stale"),
    ];
    for (path, stale_at) in &lookups {
        let (median, answer) = median_stale_answer(&ann, path, stale_at, rounds).await;
        assert!(
            median < ANSWER_BOUND,
            "{path} answered from the copy in {median:?} (median of {rounds}), not under {ANSWER_BOUND:?}"
        );
        eprintln!("{path}: median {median:?} while node-b is down");
        if path == &bundle {
            assert_eq!(
                answer["signed_prekey"], claimed["signed_prekey"],
                "the bundle last claimed"
            );
            assert!(
                answer["one_time_prekey"].is_null(),
                "a spent one-time prekey is never handed out again"
            );
        }
        if path == &devices {
            assert_eq!(answer["devices"][0]["id"], bob.device_id.as_str());
        }
    }
    // A user this node never saw has no copy to fall back on: that is still an error, not a guess.
    let (status, _) = ann.api.get("/v1/federation/users/nobody@node-b").await;
    assert!(status.is_server_error() || status == StatusCode::NOT_FOUND, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cli_send_to_a_user_whose_node_is_down_is_acknowledged_and_arrives_later() {
    let bootstrap = start_bootstrap().await;
    let a = NodeSpec::new("node-a", &bootstrap.address).start();
    let spec_b = NodeSpec::new("node-b", &bootstrap.address);
    let b = spec_b.start();
    let profiles = tempfile::tempdir().unwrap();
    let dana = profiles.path().join("dana");
    let eli = profiles.path().join("eli");
    let (dana, eli) = (dana.to_str().unwrap(), eli.to_str().unwrap());
    for (name, profile, server) in [("dana", dana, &a.base), ("eli", eli, &b.base)] {
        register_cli(profile, server, name).await;
    }
    // The first send finds eli through the DHT; node-a may not have joined it yet, so retry until then.
    crate::federation::eventually("dana's first send to eli@node-b", || async {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["send", "--json", "--profile", dana, "eli@node-b", "before the outage"])
            .env_remove("PARLEY_PROFILE")
            .env_remove("PARLEY_SERVER")
            .output()
            .await
            .unwrap();
        output.status.success().then_some(())
    })
    .await;

    b.kill();
    let started = Instant::now();
    let sent = parley(&[
        "send",
        "--json",
        "--profile",
        dana,
        "eli@node-b",
        "while node-b is down",
    ])
    .await;
    let took = started.elapsed();
    assert_eq!(sent[0]["event"], "sent", "acknowledged: {sent:?}");
    assert_eq!(sent[0]["sequence_number"], 2);
    eprintln!("the CLI send while node-b was down took {took:?}");

    let b = spec_b.start();
    let heard = parley(&["listen", "--json", "--profile", eli, "--count", "2"]).await;
    let texts: Vec<&str> = heard
        .iter()
        .filter(|line| line["event"] == "message")
        .map(|line| line["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before the outage", "while node-b is down"]);
    drop((a, b));
}
