//! Federation request floods, from one peer and from several: the flooded node answers each flooder
//! within that peer's budget and `rate_limited` beyond it, and meanwhile keeps serving an honest peer
//! and its own clients.

use std::time::Duration;

use futures_util::future::join_all;
use protocol::federation::{Request, Response};

use crate::federation::{FederatedNode, resolve, start_bootstrap, start_node, start_node_with};
use crate::support::*;

/// Requests each flooder sends, and how many are in flight at once.
const FLOOD: usize = 400;
const IN_FLIGHT: usize = 50;
/// The flooded node's budget per peer and minute.
const BUDGET: u32 = 60;

#[derive(Debug, Default)]
struct Answers {
    served: usize,
    rate_limited: usize,
    failed: usize,
}

fn lookup() -> Request {
    Request::ResolveUser {
        username: "tara".into(),
    }
}

async fn flood(from: &FederatedNode, target: &FederatedNode) -> Answers {
    let client = from.node.services.federation().unwrap().clone();
    let mut answers = Answers::default();
    for _ in 0..FLOOD / IN_FLIGHT {
        let batch = (0..IN_FLIGHT).map(|_| client.request(target.peer_id, lookup()));
        for answer in join_all(batch).await {
            match answer {
                Ok(Response::User(_)) => answers.served += 1,
                Ok(Response::Error { code, .. }) if code == "rate_limited" => answers.rate_limited += 1,
                _ => answers.failed += 1,
            }
        }
    }
    answers
}

/// While `flooders` flood `target`, the honest peer's lookups and the target's own clients are served.
async fn floods_leave_everyone_else_served(flooders: usize) {
    let bootstrap = start_bootstrap().await;
    let target = start_node_with("target", &bootstrap.address, |federation| {
        federation.peer_requests_per_minute = BUDGET;
    })
    .await;
    target.node.user("tara").await;
    let honest = start_node("honest", &bootstrap.address).await;
    let mut attackers = Vec::new();
    for i in 0..flooders {
        attackers.push(start_node(&format!("flooder-{i}"), &bootstrap.address).await);
    }
    for node in attackers.iter().chain([&honest]) {
        resolve(node, "target").await;
    }

    let floods = join_all(attackers.iter().map(|attacker| flood(attacker, &target)));
    let others = async {
        let client = honest.node.services.federation().unwrap().clone();
        for _ in 0..5 {
            let answer = tokio::time::timeout(Duration::from_secs(10), client.request(target.peer_id, lookup())).await;
            assert!(
                matches!(answer, Ok(Ok(Response::User(_)))),
                "the honest peer was not served: {answer:?}"
            );
            let ping = tokio::time::timeout(Duration::from_secs(5), target.node.client().get("/ping")).await;
            assert_eq!(ping.expect("/ping answers within 5 s").0, StatusCode::OK);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let (answers, ()) = tokio::join!(floods, others);
    for answers in answers {
        assert!(
            answers.served <= BUDGET as usize,
            "a flooder was served past its budget: {answers:?}"
        );
        assert!(
            answers.rate_limited > 0,
            "a flooder was never told it is limited: {answers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_one_peer_leaves_everyone_else_served() {
    floods_leave_everyone_else_served(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn floods_from_several_peers_leave_everyone_else_served() {
    floods_leave_everyone_else_served(3).await;
}
