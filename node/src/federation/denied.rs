//! The nodes whose traffic this node refuses. One set, shared by the event loop (which closes their
//! connections and refuses their requests) and the operator API (which changes it while the node runs).

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use libp2p::PeerId;

#[derive(Debug, Clone, Default)]
pub(crate) struct DeniedNodes(Arc<RwLock<BTreeSet<PeerId>>>);

impl DeniedNodes {
    pub(crate) fn new(peers: impl IntoIterator<Item = PeerId>) -> Self {
        Self(Arc::new(RwLock::new(peers.into_iter().collect())))
    }

    pub(crate) fn contains(&self, peer: &PeerId) -> bool {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(peer)
    }

    /// Whether it was not denied before.
    pub(crate) fn insert(&self, peer: PeerId) -> bool {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(peer)
    }

    /// Whether it was denied before.
    pub(crate) fn remove(&self, peer: &PeerId) -> bool {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(peer)
    }

    /// In PeerId order.
    pub(crate) fn list(&self) -> Vec<PeerId> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .copied()
            .collect()
    }
}
