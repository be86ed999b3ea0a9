//! Renaming an account whose handle other nodes know: the old name stays held until every node that
//! looked the user up has learnt the new one, and their copies follow.

use crate::federation::{eventually, start_bootstrap};
use crate::federation_faults::{NodeSpec, PASSWORD, register};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_renamed_users_old_name_is_held_until_the_nodes_that_knew_it_learnt_the_new_one() {
    let bootstrap = start_bootstrap().await;
    let a = NodeSpec::new("node-a", &bootstrap.address).start();
    let spec_b = NodeSpec::new("node-b", &bootstrap.address);
    let b = spec_b.start();
    let ann = register(&a.base, "ann").await;
    let bob = register(&b.base, "bob").await;
    // node-b looks ann up, and keeps a copy of her.
    eventually("ann@node-a to be found from node-b", || async {
        let found = assert_ok(bob.api.get("/v1/users/search?query=ann@node-a").await, StatusCode::OK);
        (found["users"][0]["id"] == ann.id.as_str()).then_some(())
    })
    .await;

    b.kill();
    let (status, renamed) = ann
        .api
        .send(
            ann.api
                .request(reqwest::Method::PATCH, "/users/username")
                .json(&json!({ "username": "Annette" })),
        )
        .await;
    // chats-axum's answers carry no envelope.
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["username"], "annette");
    let newcomer = json!({ "email": "carol@example.org", "username": "ann", "password": PASSWORD,
                           "device_id": Uuid::new_v4() });
    let refused = Api::new(&a.base).post("/v1/auth/register", newcomer.clone()).await;
    let why = assert_error(&refused, StatusCode::CONFLICT, "CONFLICT");
    assert!(why.contains("held until node node-b has learnt of it"), "{why}");
    let (status, _) = Api::new(&a.base)
        .post(
            "/v1/auth/register",
            json!({
                "email": "dave@example.org", "username": "annette", "password": PASSWORD, "device_id": Uuid::new_v4()
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the new name is ann's");

    // node-b comes back, takes the news, and the old name is free.
    let b = spec_b.start();
    let bob = b.as_user(&bob);
    let carol = eventually("the name ann to be free again", || async {
        let (status, body) = Api::new(&a.base).post("/v1/auth/register", newcomer.clone()).await;
        (status == StatusCode::CREATED).then(|| body["data"]["user_id"].as_str().unwrap().to_owned())
    })
    .await;
    // node-b's copy of ann follows (answered from the copy, which is recent enough not to be asked
    // again), and ann@node-a is carol now.
    let profile = assert_ok(bob.api.get(&format!("/v1/users/{}", ann.id)).await, StatusCode::OK);
    assert_eq!(profile["username"], "annette@node-a");
    let found = assert_ok(bob.api.get("/v1/users/search?query=ann@node-a").await, StatusCode::OK);
    assert_eq!(found["users"][0]["id"], carol.as_str());
    drop((a, b));
}
