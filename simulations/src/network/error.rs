//! Why a simulated connection could not be made; shared by the transport and the streams it makes.

use std::io;

use libp2p::core::transport::memory::MemoryTransportError;

/// Why a simulated connection could not be made.
#[derive(Debug, thiserror::Error)]
pub(super) enum SimError {
    /// A partition or an isolated node stands between them.
    #[error("nodes {local} and {remote} are cut apart")]
    Cut {
        /// The node making or taking the connection.
        local: usize,
        /// The node at the other end.
        remote: usize,
    },
    /// The address is a memory address, but of no node of this network.
    #[error("/memory/{0} is no node of this simulated network")]
    Foreign(u64),
    /// Another transport of the same node still listens (the old one was not dropped).
    #[error("node {0} is already listening")]
    AlreadyListening(usize),
    #[error(transparent)]
    Memory(#[from] MemoryTransportError),
    #[error(transparent)]
    Io(#[from] io::Error),
}
