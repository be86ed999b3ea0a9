//! Real libp2p swarms (request-response over the simulated transport), not mocks. Timings are only
//! bounded below: the machines running these are slow and shared.

use std::io;
use std::time::Duration;

use libp2p::core::transport::ListenerId;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, Message, ProtocolSupport};
use libp2p::swarm::{self, Swarm, SwarmEvent};
use libp2p::{StreamProtocol, identity::Keypair};
use tokio::time::{Instant, timeout};

use super::*;

mod discovery;
mod raw;

/// Bound on every wait, so a broken test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);
const PROTOCOL: StreamProtocol = StreamProtocol::new("/parley-sim-test/1");

/// Requests and responses are length-prefixed byte strings.
#[derive(Clone, Default)]
struct Codec;

async fn read_bytes<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0; 4];
    io.read_exact(&mut len).await?;
    let mut bytes = vec![0; u32::from_be_bytes(len) as usize];
    io.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn write_bytes<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: Vec<u8>) -> io::Result<()> {
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_bytes(io).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_bytes(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_bytes(io, request).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_bytes(io, response).await
    }
}

type Behaviour = request_response::Behaviour<Codec>;

/// A swarm for node `index`, listening at its address.
fn node(network: &SimNetwork, index: usize) -> Swarm<Behaviour> {
    let keypair = Keypair::generate_ed25519();
    let config = request_response::Config::default().with_request_timeout(WAIT);
    let behaviour = Behaviour::new([(PROTOCOL, ProtocolSupport::Full)], config);
    let config = swarm::Config::with_tokio_executor().with_idle_connection_timeout(Duration::from_secs(60));
    let transport = network.transport(index, &keypair);
    let mut swarm = Swarm::new(transport, behaviour, keypair.public().to_peer_id(), config);
    swarm.listen_on(network.address(index)).unwrap();
    swarm
}

/// What the tests watch for, by swarm (0 or 1).
#[derive(Debug)]
enum Seen {
    Connected(usize, PeerId),
    Closed(usize, PeerId),
    DialFailed(usize, String),
    Response(usize, Vec<u8>),
    Other,
}

/// The next event of either swarm. Requests are answered on the way, with their length.
async fn step(swarms: [&mut Swarm<Behaviour>; 2]) -> Seen {
    let [a, b] = swarms;
    let (side, event, swarm) = tokio::select! {
        event = a.select_next_some() => (0, event, a),
        event = b.select_next_some() => (1, event, b),
    };
    match event {
        SwarmEvent::ConnectionEstablished { peer_id, .. } => Seen::Connected(side, peer_id),
        SwarmEvent::ConnectionClosed { peer_id, .. } => Seen::Closed(side, peer_id),
        SwarmEvent::OutgoingConnectionError { error, .. } => Seen::DialFailed(side, error.to_string()),
        SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => match message {
            Message::Request { request, channel, .. } => {
                let len = (request.len() as u32).to_be_bytes().to_vec();
                swarm.behaviour_mut().send_response(channel, len).unwrap();
                Seen::Other
            }
            Message::Response { response, .. } => Seen::Response(side, response),
        },
        SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
            panic!("request failed: {error}")
        }
        _ => Seen::Other,
    }
}

/// Drives both swarms until `wanted` picks an event, for at most [`WAIT`].
async fn until<T>(a: &mut Swarm<Behaviour>, b: &mut Swarm<Behaviour>, mut wanted: impl FnMut(Seen) -> Option<T>) -> T {
    let wait = async {
        loop {
            if let Some(found) = wanted(step([&mut *a, &mut *b]).await) {
                return found;
            }
        }
    };
    timeout(WAIT, wait).await.expect("timed out")
}

/// Dials node `to` (swarm `b`) from swarm `a` and waits until both sides are connected.
async fn connect(network: &SimNetwork, a: &mut Swarm<Behaviour>, b: &mut Swarm<Behaviour>, to: usize) {
    let (peer_a, peer_b) = (*a.local_peer_id(), *b.local_peer_id());
    a.dial(network.address(to).with(Protocol::P2p(peer_b))).unwrap();
    let mut connected = [false; 2];
    until(a, b, |seen| {
        match seen {
            Seen::Connected(side, peer) => {
                assert_eq!(peer, [peer_b, peer_a][side], "swarm {side} met the wrong peer");
                connected[side] = true;
            }
            Seen::DialFailed(_, error) => panic!("dial failed: {error}"),
            _ => {}
        }
        (connected == [true; 2]).then_some(())
    })
    .await;
}

/// Sends `request` from `a` to `b` and returns how long the response took.
async fn round_trip(a: &mut Swarm<Behaviour>, b: &mut Swarm<Behaviour>, request: Vec<u8>) -> Duration {
    let (peer_b, len) = (*b.local_peer_id(), request.len());
    let start = Instant::now();
    a.behaviour_mut().send_request(&peer_b, request);
    let response = until(a, b, |seen| match seen {
        Seen::Response(0, response) => Some(response),
        _ => None,
    })
    .await;
    assert_eq!(response, (len as u32).to_be_bytes());
    start.elapsed()
}

/// Waits until swarm `a` fails a dial it has just started.
async fn dial_fails(network: &SimNetwork, a: &mut Swarm<Behaviour>, b: &mut Swarm<Behaviour>, to: usize) -> String {
    a.dial(network.address(to)).unwrap();
    until(a, b, |seen| match seen {
        Seen::DialFailed(0, error) => Some(error),
        Seen::Connected(0, peer) => panic!("connected to {peer} across a cut"),
        _ => None,
    })
    .await
}

/// Waits until swarm `a` loses its connection to `b`.
async fn closed(a: &mut Swarm<Behaviour>, b: &mut Swarm<Behaviour>) -> Duration {
    let (peer_b, start) = (*b.local_peer_id(), Instant::now());
    until(a, b, |seen| {
        matches!(seen, Seen::Closed(0, peer) if peer == peer_b).then_some(())
    })
    .await;
    start.elapsed()
}

fn link(latency_ms: u64, bandwidth_bytes_per_sec: u64) -> LinkModel {
    LinkModel {
        latency: Duration::from_millis(latency_ms),
        bandwidth_bytes_per_sec,
        ..LinkModel::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarms_connect_and_exchange_requests() {
    let network = SimNetwork::new(1, LinkModel::default());
    let (mut a, mut b) = (node(&network, 0), node(&network, 1));
    connect(&network, &mut a, &mut b, 1).await;
    round_trip(&mut a, &mut b, vec![7; 1000]).await;
    round_trip(&mut b, &mut a, vec![8; 10]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_each_direction() {
    let network = SimNetwork::new(2, link(50, 0));
    let (mut a, mut b) = (node(&network, 0), node(&network, 1));
    connect(&network, &mut a, &mut b, 1).await;
    round_trip(&mut a, &mut b, vec![1; 100]).await;
    let elapsed = round_trip(&mut a, &mut b, vec![1; 100]).await;
    eprintln!("round trip over a 50 ms link: {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_throughput() {
    let network = SimNetwork::new(3, link(0, 100_000));
    let (mut a, mut b) = (node(&network, 0), node(&network, 1));
    connect(&network, &mut a, &mut b, 1).await;
    let elapsed = round_trip(&mut a, &mut b, vec![3; 200_000]).await;
    eprintln!("200 kB over 100 kB/s: {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_breaks_connections_and_heal_lets_dials_through() {
    let network = SimNetwork::new(4, LinkModel::default());
    let (mut a, mut b) = (node(&network, 0), node(&network, 1));
    connect(&network, &mut a, &mut b, 1).await;
    round_trip(&mut a, &mut b, vec![4; 10]).await;

    network.partition(&[0, 5], &[1]);
    let elapsed = closed(&mut a, &mut b).await;
    eprintln!("connection closed {elapsed:?} after the partition");
    let error = dial_fails(&network, &mut a, &mut b, 1).await;
    assert!(error.contains("cut apart"), "{error}");

    network.heal();
    connect(&network, &mut a, &mut b, 1).await;
    round_trip(&mut a, &mut b, vec![4; 10]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_node_restarts_at_its_address() {
    let network = SimNetwork::new(5, LinkModel::default());
    let (mut a, mut b) = (node(&network, 0), node(&network, 1));
    connect(&network, &mut a, &mut b, 1).await;

    network.isolate(1);
    closed(&mut a, &mut b).await;
    dial_fails(&network, &mut a, &mut b, 1).await;

    let keypair = Keypair::generate_ed25519();
    let mut twin = network.transport(1, &keypair);
    let taken = twin.listen_on(ListenerId::next(), network.address(1));
    assert!(taken.is_err(), "two transports of node 1 listen at once");
    drop(twin);
    drop(b);
    let mut b = node(&network, 1);
    dial_fails(&network, &mut a, &mut b, 1).await;

    network.restore(1);
    connect(&network, &mut a, &mut b, 1).await;
    round_trip(&mut a, &mut b, vec![5; 10]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_counters_grow_both_ways() {
    let network = SimNetwork::new(6, LinkModel::default());
    let (mut a, mut b) = (node(&network, 0), node(&network, 1));
    connect(&network, &mut a, &mut b, 1).await;
    round_trip(&mut a, &mut b, vec![6; 10_000]).await;

    let bytes = network.bytes();
    eprintln!("after a 10 kB request: {bytes:?}");
    let carried = |from, to| {
        bytes
            .iter()
            .find(|link| (link.from, link.to) == (from, to))
            .map(|link| link.bytes)
    };
    assert!(carried(0, 1).is_some_and(|bytes| bytes > 10_000), "{bytes:?}");
    assert!(carried(1, 0).is_some_and(|bytes| bytes > 0), "{bytes:?}");
    assert_eq!(bytes.len(), 2);
    assert_eq!(network.total_bytes(), bytes.iter().map(|link| link.bytes).sum::<u64>());
}
