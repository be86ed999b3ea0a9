//! What a node's swarm runs on. Real nodes federate over QUIC and, for networks that block UDP, over
//! TCP secured with Noise and multiplexed with yamux; the swarm dials a peer's addresses of both kinds
//! at once and keeps the first connection that completes, so a blocked transport costs no more than
//! its failed attempt. Simulations put their own in-memory transport in its place. Whichever it is,
//! relayed connections (`/p2p/<relay>/p2p-circuit` addresses) go beside it ([`with_relay`]).

use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, Transport as _};
use libp2p::core::upgrade::Version;
use libp2p::futures::future::Either;
use libp2p::identity::Keypair;
use libp2p::{PeerId, relay};

/// A QUIC connection silent this long is considered dead.
const QUIC_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// Healthy connections ping this often, well within [`QUIC_IDLE_TIMEOUT`].
const QUIC_KEEP_ALIVE: Duration = Duration::from_secs(1);
/// A TCP connection's Noise handshake and yamux negotiation must finish within this.
const TCP_UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a swarm runs on: authenticated, multiplexed connections to peers.
pub type Transport = Boxed<(PeerId, StreamMuxerBox)>;

/// QUIC over UDP only.
fn quic(keypair: &Keypair) -> Transport {
    let mut config = libp2p::quic::Config::new(keypair);
    // A peer that died is noticed after QUIC_IDLE_TIMEOUT rather than quinn's 10 s, so the outbox redials
    // a restarted node sooner; keep-alives hold healthy idle connections open.
    config.max_idle_timeout = u32::try_from(QUIC_IDLE_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
    config.keep_alive_interval = QUIC_KEEP_ALIVE;
    libp2p::quic::tokio::Transport::new(config)
        .map(|(peer, connection), _| (peer, StreamMuxerBox::new(connection)))
        .boxed()
}

/// `base`, and circuits through relays beside it: a relayed stream is secured with Noise and
/// multiplexed with yamux end to end, so the relay carries only ciphertext.
pub(crate) fn with_relay(base: Transport, relayed: relay::client::Transport, keypair: &Keypair) -> Transport {
    let noise = libp2p::noise::Config::new(keypair).expect("an Ed25519 node key always signs Noise's static key");
    let relayed = relayed
        .upgrade(Version::V1Lazy)
        .authenticate(noise)
        .multiplex(libp2p::yamux::Config::default());
    base.or_transport(relayed)
        .map(|connection, _| match connection {
            Either::Left(direct) => direct,
            Either::Right((peer, muxer)) => (peer, StreamMuxerBox::new(muxer)),
        })
        .boxed()
}

/// QUIC, and TCP beside it: what every real node federates over. Each listens on the addresses of its
/// own kind (`/udp/../quic-v1`, `/tcp/..`).
pub fn quic_or_tcp(keypair: &Keypair) -> Transport {
    let noise = libp2p::noise::Config::new(keypair).expect("an Ed25519 node key always signs Noise's static key");
    let tcp = libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default().nodelay(true))
        .upgrade(Version::V1Lazy)
        .authenticate(noise)
        .multiplex(libp2p::yamux::Config::default())
        .timeout(TCP_UPGRADE_TIMEOUT);
    quic(keypair)
        .or_transport(tcp)
        .map(|connection, _| match connection {
            Either::Left(quic) => quic,
            Either::Right((peer, muxer)) => (peer, StreamMuxerBox::new(muxer)),
        })
        .boxed()
}
