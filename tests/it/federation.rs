//! Federation over real libp2p swarms on 127.0.0.1 QUIC: a bootstrap node and three nodes that name it
//! find each other through the DHT and talk `/parley/federation/1`.

use std::future::Future;
use std::io;
use std::time::Duration;

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use node::federation::{Handle, ResolvedNode};
use protocol::federation::{self as wire, NodeName, Request, Response};
use tokio::sync::oneshot;

use crate::support::*;

pub(crate) const WAIT: Duration = Duration::from_secs(30);
pub(crate) const LOCAL_QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

/// Polls `attempt` every 200 ms until it yields a value, failing the test after [`WAIT`].
pub(crate) async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut attempt: impl FnMut() -> F) -> T {
    let poll = async {
        loop {
            if let Some(value) = attempt().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(WAIT, poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub(crate) struct Bootstrap {
    pub(crate) address: Multiaddr,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) async fn start_bootstrap() -> Bootstrap {
    let dir = tempfile::tempdir().unwrap();
    let config = bootstrap::Config::new(dir.path().join("bootstrap.key"), [LOCAL_QUIC.parse().unwrap()]);
    let node = bootstrap::Bootstrap::start(&config).await.unwrap();
    let address = node.addresses().remove(0);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(node.run(async {
        let _ = stopped.await;
    }));
    Bootstrap {
        address,
        stop: Some(stop),
        _dir: dir,
    }
}

pub(crate) struct FederatedNode {
    pub(crate) node: TestNode,
    pub(crate) peer_id: PeerId,
    _federation: Handle,
}

pub(crate) async fn start_node(name: &str, bootstrap: &Multiaddr) -> FederatedNode {
    start_node_with(name, bootstrap, |_| {}).await
}

pub(crate) async fn start_node_with(
    name: &str,
    bootstrap: &Multiaddr,
    tune: impl FnOnce(&mut node::FederationConfig),
) -> FederatedNode {
    let node = TestNode::start_with(|config| {
        tune(&mut config.federation);
        config.federation.name = Some(name.to_owned());
        config.federation.p2p_listen = vec![LOCAL_QUIC.parse().unwrap()];
        config.federation.bootstrap = vec![bootstrap.clone()];
        config.federation.record_refresh_interval = Duration::from_secs(2);
    })
    .await;
    let federation = node.services.start_federation().unwrap();
    let peer_id = node.services.identity.libp2p_keypair().public().to_peer_id();
    FederatedNode {
        node,
        peer_id,
        _federation: federation,
    }
}

pub(crate) async fn resolve(from: &FederatedNode, name: &str) -> ResolvedNode {
    let client = from.node.services.federation().unwrap().clone();
    let name = NodeName::new(name).unwrap();
    eventually(&format!("{name} to resolve"), || {
        let (client, name) = (client.clone(), name.clone());
        async move { client.resolve(name).await.ok() }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_find_each_other_through_the_bootstrap_node_and_resolve_users() {
    let bootstrap = start_bootstrap().await;
    let a = start_node("node-a", &bootstrap.address).await;
    let b = start_node("node-b", &bootstrap.address).await;
    let c = start_node("node-c", &bootstrap.address).await;

    // Each node reports its own PeerId and name (and, once listening, an address) to its operator.
    for (node, name) in [(&a, "node-a"), (&b, "node-b"), (&c, "node-c")] {
        let operator = node.node.user(&format!("op{}", &name[5..])).await;
        let me = eventually("a listen address", || {
            let api = operator.api.clone();
            async move {
                let data = assert_ok(api.get("/v1/federation/node").await, StatusCode::OK);
                (!data["listen_addresses"].as_array().unwrap().is_empty()).then_some(data)
            }
        })
        .await;
        assert_eq!(me["peer_id"], node.peer_id.to_string());
        assert_eq!(me["name"], name);
    }
    // Operator endpoints need a login like every other route.
    let (status, _) = a.node.client().get("/v1/federation/node").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let cara = c.node.user("cara").await;
    let resolved = resolve(&a, "node-c").await;
    assert_eq!(resolved.peer_id, c.peer_id);
    assert!(!resolved.addresses.is_empty());

    let client = a.node.services.federation().unwrap();
    let answer = client
        .request(
            resolved.peer_id,
            Request::ResolveUser {
                username: "cara".into(),
            },
        )
        .await
        .unwrap();
    let Response::User(user) = answer else {
        panic!("expected a user, got {answer:?}");
    };
    assert_eq!(user.user_id.to_string(), cara.id);
    assert_eq!(user.username, "cara");
    let devices: Vec<String> = user.devices.iter().map(|d| d.device_id.to_string()).collect();
    assert_eq!(devices, vec![cara.device_id.clone()]);

    let missing = client
        .request(
            c.peer_id,
            Request::ResolveUser {
                username: "nobody".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(missing, Response::NotFound);
    let invalid = client
        .request(
            c.peer_id,
            Request::ResolveUser {
                username: "x".repeat(5000),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(invalid, Response::Error { ref code, .. } if code == "bad_request"),
        "{invalid:?}"
    );

    // B resolves A too, and A lists C (by name, connected) and the bootstrap node among its peers.
    assert_eq!(resolve(&b, "node-a").await.peer_id, a.peer_id);
    let operator = a.node.user("opx").await;
    eventually("node-c among A's connected peers", || {
        let api = operator.api.clone();
        let c_id = c.peer_id.to_string();
        async move {
            let data = assert_ok(api.get("/v1/federation/peers").await, StatusCode::OK);
            let peers = data["peers"].as_array().unwrap().clone();
            let has_c = peers.iter().any(|p| {
                p["peer_id"] == c_id.as_str()
                    && p["name"] == "node-c"
                    && p["connected"] == true
                    && p["outbox_depth"] == 0
            });
            (has_c && peers.len() >= 2).then_some(())
        }
    })
    .await;

    // Once connected to C, A looks C up from its pin: the connection authenticated C already, so
    // asking the DHT again could only confirm it.
    let lookups = || async {
        let data = assert_ok(operator.api.get("/v1/federation/node").await, StatusCode::OK);
        data["name_lookups"].as_u64().unwrap()
    };
    let before = lookups().await;
    assert!(before >= 1, "the first lookup of node-c asked the DHT");
    for _ in 0..3 {
        assert_eq!(resolve(&a, "node-c").await.peer_id, c.peer_id);
    }
    assert_eq!(lookups().await, before);

    // An unknown name is reported as such, not hung on.
    let unknown = tokio::time::timeout(WAIT, client.resolve(NodeName::new("node-zz").unwrap()))
        .await
        .unwrap();
    assert!(unknown.is_err());
}

/// Sends raw bytes on `/parley/federation/1`, as a misbehaving node would.
#[derive(Clone, Default)]
pub(crate) struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        io.read_to_end(&mut bytes).await?;
        Ok(bytes)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        io.take(2 * 1024 * 1024).read_to_end(&mut bytes).await?;
        Ok(bytes)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&request).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&response).await
    }
}

/// A libp2p swarm with its own key speaking `/parley/federation/1`, as a rogue node would.
pub(crate) struct Rogue {
    swarm: libp2p::Swarm<request_response::Behaviour<RawCodec>>,
    key: libp2p::identity::Keypair,
}

impl Rogue {
    pub(crate) fn new() -> Self {
        let key = libp2p::identity::Keypair::generate_ed25519();
        let swarm = libp2p::SwarmBuilder::with_existing_identity(key.clone())
            .with_tokio()
            .with_quic()
            .with_behaviour(|_| {
                request_response::Behaviour::with_codec(
                    RawCodec,
                    [(StreamProtocol::new(wire::PROTOCOL), ProtocolSupport::Outbound)],
                    request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
                )
            })
            .unwrap()
            .build();
        Self { swarm, key }
    }

    pub(crate) fn signing_key(&self) -> ed25519_dalek::SigningKey {
        let secret = self.key.clone().try_into_ed25519().unwrap().secret();
        ed25519_dalek::SigningKey::from_bytes(secret.as_ref().try_into().unwrap())
    }

    pub(crate) async fn ask(&mut self, target: &FederatedNode, address: Multiaddr, request: Request) -> Response {
        self.swarm.add_peer_address(target.peer_id, address);
        self.swarm
            .behaviour_mut()
            .send_request(&target.peer_id, wire::encode_request(&request).unwrap());
        let bytes: Vec<u8> = tokio::time::timeout(WAIT, async {
            loop {
                match self.swarm.select_next_some().await {
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. },
                        ..
                    }) => break response,
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                        panic!("the request failed: {error}")
                    }
                    _ => {}
                }
            }
        })
        .await
        .expect("an answer");
        wire::decode_response(&bytes).unwrap()
    }
}

/// A node's QUIC address with its PeerId, as its operator endpoint reports it.
pub(crate) async fn p2p_address(node: &FederatedNode, user: &User) -> Multiaddr {
    eventually("a listen address", || async {
        let data = assert_ok(user.api.get("/v1/federation/node").await, StatusCode::OK);
        data["listen_addresses"][0]
            .as_str()
            .map(|a| a.parse::<Multiaddr>().unwrap())
    })
    .await
    .with(libp2p::multiaddr::Protocol::P2p(node.peer_id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_from_a_raw_swarm_are_refused_without_harm() {
    let bootstrap = start_bootstrap().await;
    let target = start_node("target", &bootstrap.address).await;
    let operator = target.node.user("operator").await;
    let address: Multiaddr = eventually("a listen address", || {
        let api = operator.api.clone();
        async move {
            let data = assert_ok(api.get("/v1/federation/node").await, StatusCode::OK);
            data["listen_addresses"][0].as_str().map(|a| a.parse().unwrap())
        }
    })
    .await;

    let mut raw = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_quic()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(StreamProtocol::new(wire::PROTOCOL), ProtocolSupport::Outbound)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            )
        })
        .unwrap()
        .build();
    raw.add_peer_address(target.peer_id, address);

    let valid = wire::encode_request(&Request::ResolveUser {
        username: "operator".into(),
    })
    .unwrap();
    let payloads: Vec<(Vec<u8>, bool)> = vec![
        (b"\xc1\xc1 not messagepack".to_vec(), false),
        (b"\x81\xa5Hello\xc0".to_vec(), false),
        (vec![0x92; wire::MAX_REQUEST_BYTES + 100], false),
        (valid, true),
    ];
    for (payload, well_formed) in payloads {
        raw.behaviour_mut().send_request(&target.peer_id, payload);
        let outcome = tokio::time::timeout(WAIT, async {
            loop {
                match raw.select_next_some().await {
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. },
                        ..
                    }) => break Some(response),
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => break None,
                    _ => {}
                }
            }
        })
        .await
        .expect("the node answers or drops the stream");
        let decoded = outcome.as_deref().map(wire::decode_response);
        if well_formed {
            // The node is still serving after the garbage: the valid request gets its answer.
            let Some(Ok(Response::User(user))) = decoded else {
                panic!("expected a user, got {decoded:?}");
            };
            assert_eq!(user.username, "operator");
        } else {
            // Refused: the stream is dropped without an answer.
            assert!(!matches!(decoded, Some(Ok(_))), "garbage got an answer: {decoded:?}");
        }
    }
    let (status, _) = operator.api.get("/v1/federation/node").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handles_resolve_across_nodes_and_remote_bundles_are_claimed_once() {
    let bootstrap = start_bootstrap().await;
    let a = start_node("node-a", &bootstrap.address).await;
    let c = start_node("node-c", &bootstrap.address).await;
    let ann = a.node.user("ann").await;
    let cara = c.node.user("cara").await;
    cara.publish_keys(5).await;
    resolve(&a, "node-c").await;

    let found = eventually("cara@node-c to resolve", || {
        let api = ann.api.clone();
        async move {
            let (status, body) = api.get("/v1/federation/users/cara@node-c").await;
            (status == StatusCode::OK).then(|| body["data"].clone())
        }
    })
    .await;
    assert_eq!(
        (found["node"].as_str(), found["local"].as_bool()),
        (Some("node-c"), Some(false))
    );
    assert_eq!(found["user_id"], cara.id.as_str());
    assert_eq!(found["devices"][0]["device_id"], cara.device_id.as_str());
    assert_eq!(found["devices"][0]["has_active_keys"], true);
    let local = assert_ok(ann.api.get("/v1/federation/users/ann@node-a").await, StatusCode::OK);
    assert_eq!(
        (local["local"].as_bool(), local["user_id"].as_str()),
        (Some(true), Some(ann.id.as_str()))
    );
    let missing = ann.api.get("/v1/federation/users/nobody@node-c").await;
    assert_error(&missing, StatusCode::NOT_FOUND, "NOT_FOUND");

    // Ten claims from node A and five on node C race for cara's five one-time prekeys.
    let bundle_path = format!(
        "/v1/encryption/bundles?user_id={}&device_id={}",
        cara.id, cara.device_id
    );
    let dora = c.node.user("dora").await;
    let mut claims = Vec::new();
    for n in 0..15 {
        let api = if n % 3 == 0 { dora.api.clone() } else { ann.api.clone() };
        let path = bundle_path.clone();
        claims.push(tokio::spawn(async move { api.get(&path).await }));
    }
    let mut handed_out = Vec::new();
    for claim in claims {
        let bundle = assert_ok(claim.await.unwrap(), StatusCode::OK);
        assert_eq!(bundle["device_id"], cara.device_id.as_str());
        if let Some(key_id) = bundle["one_time_prekey"]["key_id"].as_u64() {
            handed_out.push(key_id);
        }
    }
    handed_out.sort_unstable();
    assert_eq!(
        handed_out,
        [1, 2, 3, 4, 5],
        "each one-time prekey is handed out exactly once across nodes"
    );
    let count = assert_ok(
        cara.api.get("/v1/encryption/onetime-prekeys/count").await,
        StatusCode::OK,
    );
    assert_eq!(count["count"], 0);
    let unknown_device = format!(
        "/v1/encryption/bundles?user_id={}&device_id={}",
        cara.id,
        Uuid::new_v4()
    );
    assert_error(&ann.api.get(&unknown_device).await, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_denied_node_is_refused_and_each_peer_is_rate_limited() {
    let bootstrap = start_bootstrap().await;
    let a = start_node("node-a", &bootstrap.address).await;
    let b = start_node("node-b", &bootstrap.address).await;
    let denied = a.peer_id;
    let c = start_node_with("node-c", &bootstrap.address, |federation| {
        federation.denied_peers = vec![denied];
        federation.peer_requests_per_minute = 3;
    })
    .await;
    c.node.user("cara").await;
    let ask = |from: &FederatedNode| {
        let client = from.node.services.federation().unwrap().clone();
        let peer = c.peer_id;
        async move {
            client
                .request(
                    peer,
                    Request::ResolveUser {
                        username: "cara".into(),
                    },
                )
                .await
        }
    };

    let from_b = resolve(&b, "node-c").await;
    assert_eq!(from_b.peer_id, c.peer_id);
    let answer = eventually("node-b to reach node-c", || {
        let request = ask(&b);
        async move { request.await.ok() }
    })
    .await;
    assert!(matches!(answer, Response::User(_)), "{answer:?}");

    resolve(&a, "node-c").await;
    for _ in 0..3 {
        match ask(&a).await {
            Ok(Response::Error { code, .. }) => assert_eq!(code, "denied"),
            Ok(other) => panic!("a denied node was answered: {other:?}"),
            Err(_) => {}
        }
    }

    let mut limited = false;
    for _ in 0..5 {
        if let Ok(Response::Error { code, .. }) = ask(&b).await {
            assert_eq!(code, "rate_limited");
            limited = true;
        }
    }
    assert!(limited, "node-b went past its budget of 3 requests a minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_stays_with_the_node_that_holds_it() {
    let bootstrap = start_bootstrap().await;
    let genuine = start_node("node-n", &bootstrap.address).await;
    let early = start_node("early", &bootstrap.address).await;
    assert_eq!(resolve(&early, "node-n").await.peer_id, genuine.peer_id);

    // Another key publishes the same name. DHT servers keep the holder's live record, the node that
    // resolved the name before keeps its pin, and a node that never resolved it goes with the copies.
    let impostor = start_node("node-n", &bootstrap.address).await;
    let late = start_node("late", &bootstrap.address).await;
    // Let several record refreshes (every 2 s here) pass, impostor included.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for _ in 0..3 {
        assert_eq!(resolve(&early, "node-n").await.peer_id, genuine.peer_id);
        assert_eq!(resolve(&late, "node-n").await.peer_id, genuine.peer_id);
    }
    assert_ne!(impostor.peer_id, genuine.peer_id);
}

/// Creates a conversation hosted by `owner`'s node with the members named by handle, and waits until it
/// has reached every member's node.
pub(crate) async fn hosted_conversation(owner: &User, kind: &str, members: &[(&User, &str)]) -> String {
    let handles: Vec<&str> = members.iter().map(|(_, handle)| *handle).collect();
    let id = assert_ok(
        owner
            .api
            .post(
                "/v1/conversations",
                json!({ "type": kind, "subject": "across nodes", "participants": handles }),
            )
            .await,
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (member, _) in members {
        eventually("the conversation to reach the member's node", || async {
            let (status, _) = member.api.get(&format!("/v1/conversations/{id}")).await;
            (status == StatusCode::OK).then_some(())
        })
        .await;
    }
    id
}
