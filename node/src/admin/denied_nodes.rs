//! Other nodes an operator refuses while the node runs. Those denied with `--deny-node` come back at
//! each start; those denied here are kept in the store until allowed again.

use libp2p::PeerId;
use protocol::api::DeniedNodeList;

use super::{Admin, Operator};
use crate::federation::DeniedNodes;
use crate::storage::Store;
use crate::{Error, Result};

/// The denied set a node starts with: its configuration's and its operators' (from the store).
pub(crate) fn load(store: &Store, configured: &[PeerId]) -> Result<DeniedNodes> {
    let mut peers = configured.to_vec();
    for key in store.trees.peerid_denied.iter().keys() {
        let key = key?;
        peers.push(PeerId::from_bytes(&key).map_err(|_| Error::Corrupt("denied node key".into()))?);
    }
    Ok(DeniedNodes::new(peers))
}

impl Admin<'_> {
    /// The nodes whose traffic is refused.
    pub fn denied_nodes(&self) -> DeniedNodeList {
        list(&self.services.denied)
    }

    /// Refuses a node's traffic from now on: its connections close, its requests are answered
    /// `denied`, and this node sends it nothing (its outbox waits until it is allowed again).
    pub async fn deny_node(&self, operator: &Operator, peer: PeerId) -> Result<DeniedNodeList> {
        if peer == self.services.identity.libp2p_keypair().public().to_peer_id() {
            return Err(Error::invalid("peer_id", "is this node's own PeerId"));
        }
        self.services.store.trees.peerid_denied.insert(peer.to_bytes(), &[])?;
        self.services.denied.insert(peer);
        if let Some(client) = self.services.federation() {
            let _ = client.disconnect(peer).await;
        }
        self.record(operator, "deny-node", &format!("node:{peer}")).await?;
        Ok(self.denied_nodes())
    }

    /// Accepts a denied node's traffic again (until the next start, for one denied by `--deny-node`).
    pub async fn allow_node(&self, operator: &Operator, peer: PeerId) -> Result<DeniedNodeList> {
        let stored = self
            .services
            .store
            .trees
            .peerid_denied
            .remove(peer.to_bytes())?
            .is_some();
        if !self.services.denied.remove(&peer) && !stored {
            return Err(Error::NotFound("denied node"));
        }
        self.record(operator, "allow-node", &format!("node:{peer}")).await?;
        Ok(self.denied_nodes())
    }
}

fn list(denied: &DeniedNodes) -> DeniedNodeList {
    DeniedNodeList {
        peer_ids: denied.list().into_iter().map(PeerId::to_base58).collect(),
    }
}
