//! The federation as the user's node sees it: the other nodes it knows of and what it still owes them.

use reqwest::Method;
use serde::Deserialize;

use super::Client;
use crate::error::Result;

/// Another node the user's node knows of (`GET /v1/federation/peers`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FederationPeer {
    /// Its name, once learnt (bootstrap nodes have none).
    pub name: Option<String>,
    /// Its libp2p PeerId (base58).
    pub peer_id: String,
    /// Whether a connection is open now.
    pub connected: bool,
    /// Events (messages, receipts, membership changes) waiting in the user's node's outbox for it.
    pub outbox_depth: u64,
}

#[derive(Deserialize)]
struct FederationPeers {
    peers: Vec<FederationPeer>,
}

impl Client {
    /// The nodes this account's node knows of, with what its outbox holds for each: how a client
    /// (or a load driver) sees whether the federation has caught up.
    pub async fn federation_peers(&self) -> Result<Vec<FederationPeer>> {
        let list: FederationPeers = self.call(Method::GET, "/federation/peers", &[], None).await?;
        Ok(list.peers)
    }
}
