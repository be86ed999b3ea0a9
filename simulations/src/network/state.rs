//! What every connection of a simulated network consults: the links, the cuts (partitions and
//! isolated nodes), the connections a new cut must break, and the byte counters.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::ChaCha12Rng;

use super::LinkBytes;
use super::link::LinkModel;

/// Memory ports of one network: node indices fit a `u32` (the header a dialer sends), so networks
/// 2³² ports apart never share a port, and none uses port 0 (which asks for a random one).
const PORTS_PER_NETWORK: u64 = 1 << 32;

/// Networks made so far in this process: memory ports are process-global, so each network takes the
/// next range.
static NETWORKS: AtomicU64 = AtomicU64::new(0);

/// A connection end a cut can break. The stream's connection implements it; the state sees only this,
/// so it does not depend on how streams are made.
pub(super) trait Severable: Send + Sync {
    /// The node at this end, and the node at the other.
    fn nodes(&self) -> (usize, usize);
    /// Breaks this end: reads and writes fail from now on.
    fn sever(&self);
}

/// A connection end, with the nodes it joins, so a cut finds its victims without upgrading (and
/// perhaps dropping, which takes the lock) every other connection.
struct Registered {
    local: usize,
    remote: usize,
    conn: Weak<dyn Severable>,
}

#[derive(Default)]
struct State {
    default_link: LinkModel,
    /// Links set one by one, keyed by `(smaller node, larger node)`.
    links: HashMap<(usize, usize), LinkModel>,
    partitions: Vec<(HashSet<usize>, HashSet<usize>)>,
    isolated: HashSet<usize>,
    /// One generator per direction, so a link's delays do not depend on traffic elsewhere.
    rngs: HashMap<(usize, usize), ChaCha12Rng>,
    carried: BTreeMap<(usize, usize), Arc<AtomicU64>>,
    connections: HashMap<u64, Registered>,
}

impl State {
    fn link(&self, a: usize, b: usize) -> LinkModel {
        self.links.get(&pair(a, b)).copied().unwrap_or(self.default_link)
    }

    fn is_cut(&self, a: usize, b: usize) -> bool {
        let apart = |(x, y): &(HashSet<usize>, HashSet<usize>)| {
            (x.contains(&a) && y.contains(&b)) || (x.contains(&b) && y.contains(&a))
        };
        self.isolated.contains(&a) || self.isolated.contains(&b) || self.partitions.iter().any(apart)
    }

    /// Connection ends the current cuts sever. They are returned rather than broken here because
    /// dropping the last handle to one takes the lock.
    fn severed(&self) -> Vec<Arc<dyn Severable>> {
        self.connections
            .values()
            .filter(|end| self.is_cut(end.local, end.remote))
            .filter_map(|end| end.conn.upgrade())
            .collect()
    }
}

/// The state behind a [`super::SimNetwork`] and every transport and connection made from it.
pub(super) struct Shared {
    first_port: u64,
    seed: u64,
    next_connection: AtomicU64,
    state: Mutex<State>,
}

impl Shared {
    pub(super) fn new(seed: u64, default_link: LinkModel) -> Self {
        let network = NETWORKS.fetch_add(1, Ordering::Relaxed);
        Self {
            first_port: (network + 1).wrapping_mul(PORTS_PER_NETWORK),
            seed,
            next_connection: AtomicU64::new(0),
            state: Mutex::new(State {
                default_link,
                ..State::default()
            }),
        }
    }

    /// Nothing is left half-updated under the lock, so a panic elsewhere while holding it leaves the
    /// state usable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn port(&self, node: usize) -> u64 {
        self.first_port + u64::from(index(node))
    }

    /// The node listening at `port`, if the port is this network's.
    pub(super) fn node_at(&self, port: u64) -> Option<usize> {
        let offset = port
            .checked_sub(self.first_port)
            .filter(|offset| *offset < PORTS_PER_NETWORK)?;
        usize::try_from(offset).ok()
    }

    pub(super) fn is_cut(&self, a: usize, b: usize) -> bool {
        self.state().is_cut(a, b)
    }

    /// Open connection ends at each node (index), up to the highest node with one.
    pub(super) fn open_connections(&self) -> Vec<usize> {
        let state = self.state();
        let mut open = Vec::new();
        for end in state.connections.values() {
            if open.len() <= end.local {
                open.resize(end.local + 1, 0);
            }
            open[end.local] += 1;
        }
        open
    }

    pub(super) fn link(&self, a: usize, b: usize) -> LinkModel {
        self.state().link(a, b)
    }

    pub(super) fn set_link(&self, a: usize, b: usize, link: LinkModel) {
        self.state().links.insert(pair(a, b), link);
    }

    pub(super) fn set_all_links(&self, link: LinkModel) {
        let mut state = self.state();
        state.links.clear();
        state.default_link = link;
    }

    /// The propagation delay and transmission time of `len` bytes written now from `from` to `to`.
    pub(super) fn delays(&self, from: usize, to: usize, len: usize) -> (Duration, Duration) {
        let mut state = self.state();
        let link = state.link(from, to);
        let seed = self.seed;
        let rng = state.rngs.entry((from, to)).or_insert_with(|| {
            let mut rng = ChaCha12Rng::seed_from_u64(seed);
            rng.set_stream((u64::from(index(from)) << 32) | u64::from(index(to)));
            rng
        });
        (link.propagation(rng), link.transmission(len))
    }

    pub(super) fn partition(&self, side_a: &[usize], side_b: &[usize]) {
        let sides = (side_a.iter().copied().collect(), side_b.iter().copied().collect());
        self.sever(|state| state.partitions.push(sides));
    }

    pub(super) fn heal(&self) {
        self.state().partitions.clear();
    }

    pub(super) fn isolate(&self, node: usize) {
        self.sever(|state| {
            state.isolated.insert(node);
        });
    }

    pub(super) fn restore(&self, node: usize) {
        self.state().isolated.remove(&node);
    }

    /// Applies a new cut and breaks the connections it severs.
    fn sever(&self, cut: impl FnOnce(&mut State)) {
        let severed = {
            let mut state = self.state();
            cut(&mut state);
            state.severed()
        };
        for conn in severed {
            conn.sever();
        }
    }

    /// Makes the next connection id, and the counter of bytes carried from `local` to `remote`.
    pub(super) fn new_end(&self, local: usize, remote: usize) -> (u64, Arc<AtomicU64>) {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let carried = self.state().carried.entry((local, remote)).or_default().clone();
        (id, carried)
    }

    /// Records a connection end so cuts can break it; refuses it if its nodes are cut apart now
    /// (a cut may have come between the dial and the handshake).
    pub(super) fn register<C: Severable + 'static>(&self, id: u64, conn: &Arc<C>) -> bool {
        let mut state = self.state();
        let (local, remote) = conn.nodes();
        if state.is_cut(local, remote) {
            return false;
        }
        let conn: Weak<dyn Severable> = Arc::downgrade(conn) as Weak<C>;
        state.connections.insert(id, Registered { local, remote, conn });
        true
    }

    pub(super) fn forget(&self, id: u64) {
        self.state().connections.remove(&id);
    }

    pub(super) fn bytes(&self) -> Vec<LinkBytes> {
        let state = self.state();
        let bytes = |(&(from, to), carried): (_, &Arc<AtomicU64>)| LinkBytes {
            from,
            to,
            bytes: carried.load(Ordering::Relaxed),
        };
        state.carried.iter().map(bytes).collect()
    }
}

/// `node` as the 4-byte header a dialer sends. Panics if it does not fit: a network of over four
/// billion nodes is a caller's mistake.
pub(super) fn index(node: usize) -> u32 {
    u32::try_from(node).unwrap_or_else(|_| panic!("node index {node} is over 2³²−1"))
}

/// The key of the link between `a` and `b`, the same both ways.
fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}
