//! A simulated network for libp2p, so a simulation runs many real nodes in one process with the
//! links, partitions and crashes of a scenario between them.
//!
//! Each node gets a [`SimNetwork::transport`]: libp2p's in-memory transport, upgraded as a real one
//! is (multistream-select, then authentication, then yamux), with the link model in between
//! the memory streams and the upgrades. Node `n` listens at [`SimNetwork::address`]`(n)`; a dialer
//! knows the node it dials from that address, and sends its own index as the first 4 bytes of the
//! connection so the listener knows it too (the dialer's address is an ephemeral port).
//!
//! The memory streams are reliable and ordered, and the link model keeps them so: it only delays
//! bytes. Each side delays what it writes: a chunk (one write) written at `now` arrives at
//! `max(arrival of the previous chunk, now + latency ± jitter + retransmissions) + len / bandwidth`,
//! so chunks stay in order and each direction of a link sends one chunk at a time at its bandwidth.
//! Jitter is uniform within `latency ± jitter`. Loss is modelled as TCP's retransmissions: each chunk
//! is lost with probability `loss`, and each loss adds a retransmission timeout, `max(200 ms,
//! 2 × latency)` doubling after each consecutive loss up to 60 s, counting at most 15 losses; a late
//! chunk holds back those behind it. A background task per connection end delivers the chunks on
//! time, and at most 1 MiB is in flight per direction before writes wait (as a TCP window would).
//!
//! Jitter and loss are drawn from a `ChaCha12Rng` per direction of each link, seeded by the network's
//! seed and the two node indices, so the same chunks written on a link meet the same delays; timing
//! across tasks of a multi-threaded runtime is not reproducible.
//!
//! A partition or an isolated node (a crashed one) refuses dials across it at once and breaks the
//! open connections across it: their reads and writes fail, so libp2p closes them. Healing lets new
//! dials through; broken connections stay broken.

mod error;
mod key_exchange;
mod link;
mod state;
mod stream;
mod transport;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, Transport};
use libp2p::core::upgrade::Version;
use libp2p::identity::{Keypair, PeerId};
use libp2p::multiaddr::{Multiaddr, Protocol};
use libp2p::yamux;

pub use link::LinkModel;

use key_exchange::KeyExchange;
use state::Shared;
use transport::SimTransport;

/// Bytes carried one way over a link, to compare the traffic a protocol causes between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkBytes {
    /// The sending node.
    pub from: usize,
    /// The receiving node.
    pub to: usize,
    /// Everything delivered from `from` to `to` over all their connections, upgrade framing
    /// (multistream-select, the key exchange, yamux headers) included.
    pub bytes: u64,
}

/// The network between a simulation's nodes. Clones share it, so the engine keeps one to change links
/// and inject faults while the nodes' transports use it.
#[derive(Clone)]
pub struct SimNetwork {
    shared: Arc<Shared>,
}

impl fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimNetwork")
            .field("node_0", &self.address(0))
            .finish_non_exhaustive()
    }
}

impl SimNetwork {
    /// A network where every link is `default_link`, until set otherwise. `seed` makes the link
    /// model's random draws (jitter, loss) the same from run to run.
    pub fn new(seed: u64, default_link: LinkModel) -> Self {
        Self {
            shared: Arc::new(Shared::new(seed, default_link)),
        }
    }

    /// Where node `node` listens, and where others dial it. Each network has its own range of memory
    /// ports, as those are global to the process. Panics if `node` is over 2³²−1.
    pub fn address(&self, node: usize) -> Multiaddr {
        Multiaddr::empty().with(Protocol::Memory(self.shared.port(node)))
    }

    /// The transport of node `node`, for its swarm: it listens only at [`Self::address`]`(node)`,
    /// dials the other nodes' addresses (with or without `/p2p/<peer>`), and authenticates as
    /// `keypair` by exchanging public keys in the clear (`key_exchange`; the simulation is not about
    /// transport encryption, and the node's own envelopes are still signed). Dropping it frees the
    /// address, so a restarted node listens again.
    /// Connections need a tokio runtime. Panics if `node` is over 2³²−1.
    pub fn transport(&self, node: usize, keypair: &Keypair) -> Boxed<(PeerId, StreamMuxerBox)> {
        SimTransport::new(self.shared.clone(), node)
            .upgrade(Version::V1Lazy)
            .authenticate(KeyExchange::new(keypair))
            .multiplex(yamux::Config::default())
            .boxed()
    }

    /// Changes the link between `a` and `b`, both ways. Open connections follow it from their next
    /// write on.
    pub fn set_link(&self, a: usize, b: usize, link: LinkModel) {
        self.shared.set_link(a, b, link);
    }

    /// Makes every link `link`, replacing those set one by one.
    pub fn set_all_links(&self, link: LinkModel) {
        self.shared.set_all_links(link);
    }

    /// The link between `a` and `b`, the same both ways.
    pub fn link(&self, a: usize, b: usize) -> LinkModel {
        self.shared.link(a, b)
    }

    /// Cuts every node of `side_a` off from every node of `side_b`: dials between them fail at once
    /// and open connections between them break. Nodes on neither side still reach both. Partitions
    /// add up until [`Self::heal`].
    pub fn partition(&self, side_a: &[usize], side_b: &[usize]) {
        self.shared.partition(side_a, side_b);
    }

    /// Lifts every partition, so dials across them succeed again (broken connections stay broken).
    pub fn heal(&self) {
        self.shared.heal();
    }

    /// Cuts `node` off from every other node, as a crash does: its connections break and dials to
    /// or from it fail, until [`Self::restore`].
    pub fn isolate(&self, node: usize) {
        self.shared.isolate(node);
    }

    /// Lets `node` reach the others again, as when a crashed node restarts.
    pub fn restore(&self, node: usize) {
        self.shared.restore(node);
    }

    /// Bytes carried so far on each direction of each link that had a connection, by `(from, to)`.
    pub fn bytes(&self) -> Vec<LinkBytes> {
        self.shared.bytes()
    }

    /// Connections open now at each node, by node index (shorter than the node count when the last
    /// nodes have none): what a node's swarm holds, and what its idle cost grows with.
    pub fn open_connections(&self) -> Vec<usize> {
        self.shared.open_connections()
    }

    /// Bytes carried so far over the whole network.
    pub fn total_bytes(&self) -> u64 {
        self.bytes().iter().map(|link| link.bytes).sum()
    }
}
