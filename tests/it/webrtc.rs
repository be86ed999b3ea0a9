//! Two real webrtc-rs peers negotiate a call through the node's WebSocket signaling relay
//! (`call:offer`, `call:answer`, `call:ice`) and exchange a data-channel message over loopback.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::timeout;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidate,
    RTCIceCandidateType, RTCPeerConnectionIceEvent, RTCSessionDescription,
};

use crate::support::*;

/// Every wait in this test is bounded by this.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);
pub(crate) const MESSAGE: &str = "hello over webrtc";

/// What a peer connection's handler reports to the test.
enum PeerEvent {
    Candidate(RTCIceCandidate),
    DataChannel(Arc<dyn DataChannel>),
}

type Hook<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Forwards local ICE candidates and remote data channels to the test.
///
/// The trait is declared with `#[async_trait]`; these are its methods written out by hand, so
/// the test needs no dependency beyond `webrtc`.
struct Events(UnboundedSender<PeerEvent>);

impl PeerConnectionEventHandler for Events {
    fn on_ice_candidate<'life0, 'async_trait>(&'life0 self, event: RTCPeerConnectionIceEvent) -> Hook<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let _ = self.0.send(PeerEvent::Candidate(event.candidate));
        Box::pin(async {})
    }

    fn on_data_channel<'life0, 'async_trait>(&'life0 self, data_channel: Arc<dyn DataChannel>) -> Hook<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let _ = self.0.send(PeerEvent::DataChannel(data_channel));
        Box::pin(async {})
    }
}

/// A peer with no STUN/TURN servers whose only socket is bound to 127.0.0.1 (a concrete address
/// binds exactly that one socket; only a wildcard expands to the machine's interfaces), so its
/// only candidate is a loopback host candidate.
async fn peer(events: UnboundedSender<PeerEvent>) -> impl PeerConnection {
    PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::default().with_ice_servers(vec![]).build())
        .with_handler(Arc::new(Events(events)))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .expect("peer connection builds")
}

fn signal(kind: &str, call: &str, to: &User, to_device: Option<&str>, data: String) -> Value {
    json!({ "type": kind, "call_id": call, "to_id": to.id, "to_device_id": to_device, "data": data })
}

fn encoded(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

/// Checks that a local candidate is a host candidate on 127.0.0.1 and encodes it for signaling.
fn loopback_host(candidate: &RTCIceCandidate) -> String {
    assert_eq!(
        (candidate.typ, candidate.address.as_str()),
        (RTCIceCandidateType::Host, "127.0.0.1"),
        "{candidate:?}"
    );
    encoded(&candidate.to_json().expect("candidate encodes"))
}

fn decoded<T: serde::de::DeserializeOwned>(frame: &Value) -> T {
    serde_json::from_str(frame["data"].as_str().expect("signal data")).expect("signal decodes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_webrtc_peers_connect_through_the_nodes_signaling() {
    let node = TestNode::start().await;
    let (ann, bob) = (node.user("ann").await, node.user("bob").await);
    let dm = conversation(&ann, "DM", &[&bob]).await;
    let mut ann_ws = ann.ws(&node).await;
    ann_ws.sync().await;
    let mut bob_ws = bob.ws(&node).await;
    bob_ws.sync().await;

    let call = assert_ok(
        ann.api
            .post("/v1/calls", json!({ "conversation_id": dm, "type": "AUDIO" }))
            .await,
        StatusCode::CREATED,
    );
    let id = call["id"].as_str().unwrap().to_owned();
    let ring = timeout(LIMIT, bob_ws.expect("call:incoming")).await.expect("ring");
    assert_eq!(ring["call"]["id"], id.as_str());
    assert_ok(
        bob.api
            .put(
                &format!("/v1/calls/{id}/participants/{}/status", bob.id),
                json!({ "status": "JOINED" }),
            )
            .await,
        StatusCode::OK,
    );

    let received = connect_and_send(&id, (&ann, &mut ann_ws), (&bob, &mut bob_ws)).await;
    assert_eq!(received, MESSAGE);

    assert_ok(
        ann.api
            .post(&format!("/v1/calls/{id}/end"), json!({ "reason": "COMPLETED" }))
            .await,
        StatusCode::OK,
    );
    let ended = timeout(LIMIT, bob_ws.expect("call:ended")).await.expect("call:ended");
    assert_eq!(ended["call_id"], id.as_str());
}

/// Two webrtc-rs peers, `caller` and `callee`, negotiate through their own sockets only (SDP offer and
/// answer, trickled ICE candidates); once the caller's data channel opens it sends [`MESSAGE`], and the
/// text the callee received is returned (both peers are closed first).
pub(crate) async fn connect_and_send(
    id: &str,
    (caller, caller_ws): (&User, &mut Ws),
    (callee, callee_ws): (&User, &mut Ws),
) -> String {
    let (caller_tx, mut caller_events) = unbounded_channel();
    let (callee_tx, mut callee_events) = unbounded_channel();
    let caller_pc = peer(caller_tx).await;
    let callee_pc = peer(callee_tx).await;

    // The caller's channel: report when it opens.
    let caller_dc = caller_pc.create_data_channel("chat", None).await.unwrap();
    let (open_tx, mut caller_open) = unbounded_channel();
    let dc = caller_dc.clone();
    tokio::spawn(async move {
        while let Some(event) = dc.poll().await {
            match event {
                DataChannelEvent::OnOpen => {
                    let _ = open_tx.send(());
                }
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
    });
    let (message_tx, mut callee_messages) = unbounded_channel::<String>();

    let offer = caller_pc.create_offer(None).await.unwrap();
    caller_pc.set_local_description(offer.clone()).await.unwrap();
    caller_ws
        .send(signal("call:offer", id, callee, None, encoded(&offer)))
        .await;

    let received = timeout(LIMIT, async {
        loop {
            tokio::select! {
                frame = caller_ws.next_within(LIMIT) => {
                    let frame = frame.expect("the caller's socket stays open");
                    match frame["type"].as_str() {
                        Some("call:answer") => {
                            assert_eq!(frame["from_id"], callee.id.as_str());
                            let answer: RTCSessionDescription = decoded(&frame);
                            caller_pc.set_remote_description(answer).await.unwrap();
                        }
                        Some("call:ice") => {
                            caller_pc.add_ice_candidate(decoded(&frame)).await.unwrap();
                        }
                        _ => {}
                    }
                }
                frame = callee_ws.next_within(LIMIT) => {
                    let frame = frame.expect("the callee's socket stays open");
                    match frame["type"].as_str() {
                        Some("call:offer") => {
                            assert_eq!(frame["from_id"], caller.id.as_str());
                            let offer: RTCSessionDescription = decoded(&frame);
                            callee_pc.set_remote_description(offer).await.unwrap();
                            let answer = callee_pc.create_answer(None).await.unwrap();
                            callee_pc.set_local_description(answer.clone()).await.unwrap();
                            let device = frame["from_device_id"].as_str().unwrap();
                            callee_ws
                                .send(signal("call:answer", id, caller, Some(device), encoded(&answer)))
                                .await;
                        }
                        Some("call:ice") => {
                            callee_pc.add_ice_candidate(decoded(&frame)).await.unwrap();
                        }
                        _ => {}
                    }
                }
                Some(event) = caller_events.recv() => {
                    if let PeerEvent::Candidate(candidate) = event {
                        caller_ws.send(signal("call:ice", id, callee, None, loopback_host(&candidate))).await;
                    }
                }
                Some(event) = callee_events.recv() => match event {
                    PeerEvent::Candidate(candidate) => {
                        callee_ws.send(signal("call:ice", id, caller, None, loopback_host(&candidate))).await;
                    }
                    PeerEvent::DataChannel(dc) => {
                        let message_tx = message_tx.clone();
                        tokio::spawn(async move {
                            while let Some(event) = dc.poll().await {
                                match event {
                                    DataChannelEvent::OnMessage(message) => {
                                        let text = String::from_utf8(message.data.to_vec()).unwrap();
                                        let _ = message_tx.send(text);
                                    }
                                    DataChannelEvent::OnClose => break,
                                    _ => {}
                                }
                            }
                        });
                    }
                },
                Some(()) = caller_open.recv() => caller_dc.send_text(MESSAGE).await.unwrap(),
                Some(text) = callee_messages.recv() => break text,
            }
        }
    })
    .await
    .expect("the callee receives the caller's data-channel message within 20 s");
    timeout(LIMIT, caller_pc.close()).await.unwrap().unwrap();
    timeout(LIMIT, callee_pc.close()).await.unwrap().unwrap();
    received
}
