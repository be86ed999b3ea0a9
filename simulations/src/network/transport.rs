//! The raw transport of one node: libp2p's memory transport, with dials refused across cuts and
//! each connection told which node is at its other end, so the link model knows which link it is on.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use libp2p::core::transport::memory::MemoryTransportError;
use libp2p::core::transport::{DialOpts, ListenerId, MemoryTransport, Transport, TransportError, TransportEvent};
use libp2p::futures::future::{BoxFuture, Ready};
use libp2p::futures::{AsyncReadExt, AsyncWriteExt, FutureExt};
use libp2p::multiaddr::{Multiaddr, Protocol};

use super::error::SimError;
use super::state::{Shared, index};
use super::stream::SimStream;

pub(super) struct SimTransport {
    memory: MemoryTransport,
    network: Arc<Shared>,
    node: usize,
    /// The only address this node may listen at, so dialers can tell the node from the port.
    address: Multiaddr,
    /// Our listeners, to free their ports when dropped: the memory transport frees a port only when
    /// its listener is removed, so without this a restarted node could never listen again.
    listeners: HashSet<ListenerId>,
}

impl SimTransport {
    /// Panics if `node` is over 2³²−1.
    pub(super) fn new(network: Arc<Shared>, node: usize) -> Self {
        Self {
            memory: MemoryTransport::new(),
            address: Multiaddr::empty().with(Protocol::Memory(network.port(node))),
            network,
            node,
            listeners: HashSet::new(),
        }
    }
}

impl Drop for SimTransport {
    fn drop(&mut self) {
        for id in self.listeners.drain() {
            self.memory.remove_listener(id);
        }
    }
}

/// The port of a `/memory/<port>` address, optionally followed by `/p2p/<peer>`.
fn memory_port(addr: &Multiaddr) -> Option<u64> {
    let mut protocols = addr.iter();
    let Some(Protocol::Memory(port)) = protocols.next() else {
        return None;
    };
    match protocols.next() {
        None | Some(Protocol::P2p(_)) => Some(port),
        Some(_) => None,
    }
}

impl Transport for SimTransport {
    type Output = SimStream;
    type Error = SimError;
    type ListenerUpgrade = BoxFuture<'static, Result<SimStream, SimError>>;
    type Dial = BoxFuture<'static, Result<SimStream, SimError>>;

    fn listen_on(&mut self, id: ListenerId, addr: Multiaddr) -> Result<(), TransportError<SimError>> {
        if addr != self.address {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        let node = self.node;
        self.memory
            .listen_on(id, addr)
            .map_err(|error| error.map(|_| SimError::AlreadyListening(node)))?;
        self.listeners.insert(id);
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.listeners.remove(&id) && self.memory.remove_listener(id)
    }

    fn dial(&mut self, addr: Multiaddr, opts: DialOpts) -> Result<Self::Dial, TransportError<SimError>> {
        let Some(port) = memory_port(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let local = self.node;
        let Some(remote) = self.network.node_at(port) else {
            return Err(TransportError::Other(SimError::Foreign(port)));
        };
        if self.network.is_cut(local, remote) {
            return Err(TransportError::Other(SimError::Cut { local, remote }));
        }
        let dial = self
            .memory
            .dial(addr, opts)
            .map_err(|error| error.map(SimError::Memory))?;
        let network = self.network.clone();
        Ok(async move {
            let mut memory = dial.await?;
            memory.write_all(&index(local).to_be_bytes()).await?;
            SimStream::open(network, local, remote, memory)
        }
        .boxed())
    }

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TransportEvent<Self::ListenerUpgrade, SimError>> {
        let this = self.get_mut();
        let event = ready!(Pin::new(&mut this.memory).poll(cx));
        let (network, local) = (this.network.clone(), this.node);
        let event = event.map_upgrade(|upgrade| accept(network, local, upgrade).boxed());
        Poll::Ready(event.map_err(SimError::Memory))
    }
}

/// Reads which node dialed, then opens the listener's end.
async fn accept(
    network: Arc<Shared>,
    local: usize,
    upgrade: Ready<Result<libp2p::core::transport::memory::Channel<Vec<u8>>, MemoryTransportError>>,
) -> Result<SimStream, SimError> {
    let mut memory = upgrade.await?;
    let mut header = [0; 4];
    memory.read_exact(&mut header).await?;
    let remote = u32::from_be_bytes(header) as usize;
    SimStream::open(network, local, remote, memory)
}
