//! The link model and the streams under libp2p's upgrades, without a swarm: what the swarm tests
//! cannot see (byte order under jitter, backpressure, the draws themselves).

use std::pin::Pin;

use libp2p::core::Endpoint;
use libp2p::core::transport::{DialOpts, PortUse, TransportEvent};
use libp2p::futures::future::{join, poll_fn};
use rand::SeedableRng;
use rand::rngs::ChaCha12Rng;

use super::super::stream::SimStream;
use super::super::transport::SimTransport;
use super::*;

/// A raw connection from node 0 to node 1: (the dialer's end, the listener's end).
async fn raw_pair(network: &SimNetwork) -> (SimStream, SimStream) {
    let mut listener = SimTransport::new(network.shared.clone(), 1);
    listener.listen_on(ListenerId::next(), network.address(1)).unwrap();
    let mut dialer = SimTransport::new(network.shared.clone(), 0);
    let opts = DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::New,
    };
    let dial = dialer.dial(network.address(1), opts).unwrap();
    let accept = async {
        loop {
            if let TransportEvent::Incoming { upgrade, .. } = poll_fn(|cx| Pin::new(&mut listener).poll(cx)).await {
                return upgrade.await;
            }
        }
    };
    let (dialed, accepted) = timeout(WAIT, join(dial, accept)).await.expect("timed out");
    (dialed.unwrap(), accepted.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_and_loss_keep_bytes_in_order() {
    let link = LinkModel {
        latency: Duration::from_millis(1),
        jitter: Duration::from_millis(5),
        bandwidth_bytes_per_sec: 0,
        loss: 0.01,
    };
    let network = SimNetwork::new(9, link);
    let (mut dialed, mut accepted) = raw_pair(&network).await;
    let sent: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let write = async {
        for chunk in sent.chunks(100) {
            dialed.write_all(chunk).await.unwrap();
        }
    };
    let mut received = vec![0; sent.len()];
    let (_, read) = timeout(WAIT, join(write, accepted.read_exact(&mut received)))
        .await
        .expect("timed out");
    read.unwrap();
    assert!(received == sent, "bytes arrived out of order");
    assert_eq!(network.total_bytes(), sent.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_link_pushes_back_on_the_writer() {
    let network = SimNetwork::new(10, link(0, 100_000));
    let (mut dialed, _accepted) = raw_pair(&network).await;
    // 1 MiB is taken at once; the rest waits for the link to drain, which takes seconds.
    let write = timeout(Duration::from_millis(500), dialed.write_all(&[0; 1_500_000])).await;
    assert!(write.is_err(), "1.5 MB were taken by a 100 kB/s link at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_breaks_raw_streams() {
    let network = SimNetwork::new(11, LinkModel::default());
    let (mut dialed, mut accepted) = raw_pair(&network).await;
    dialed.write_all(b"ping").await.unwrap();
    let mut ping = [0; 4];
    timeout(WAIT, accepted.read_exact(&mut ping))
        .await
        .expect("timed out")
        .unwrap();
    network.isolate(0);
    let read = timeout(WAIT, accepted.read(&mut ping)).await.expect("timed out");
    assert_eq!(read.map_err(|error| error.kind()), Err(io::ErrorKind::ConnectionReset));
    assert!(dialed.write_all(b"pong").await.is_err());
}

#[test]
fn delays_replay_from_the_seed() {
    let jittery = LinkModel {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        bandwidth_bytes_per_sec: 1000,
        loss: 0.3,
    };
    let draws = |seed| {
        let network = SimNetwork::new(seed, jittery);
        (0..50).map(|len| network.shared.delays(0, 1, len)).collect::<Vec<_>>()
    };
    assert_eq!(draws(7), draws(7));
    assert_ne!(draws(7), draws(8));
    for (propagation, transmission) in draws(7) {
        assert!(propagation >= Duration::from_millis(10), "{propagation:?}");
        assert!(transmission < Duration::from_millis(50), "{transmission:?}");
    }
}

#[test]
fn loss_costs_retransmission_timeouts() {
    let mut rng = ChaCha12Rng::seed_from_u64(0);
    let lossless = link(30, 0);
    assert_eq!(lossless.propagation(&mut rng), Duration::from_millis(30));
    // Every try lost: timeouts of 200 ms doubling to 51.2 s (9 of them), then 6 capped at 60 s.
    let lost = LinkModel { loss: 1.0, ..lossless };
    let timeouts = Duration::from_millis(200 * 511 + 6 * 60_000);
    assert_eq!(lost.propagation(&mut rng), Duration::from_millis(30) + timeouts);
}
