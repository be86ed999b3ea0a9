//! The node each name was last resolved to, kept on disk: a name stays with that node while its record
//! lives (trust on first use), so an impostor publishing the same name cannot take over a conversation
//! partner's address. The pin moves only once the holder's record has lapsed.

use std::collections::HashSet;

use libp2p::PeerId;
use protocol::federation::NodeName;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::storage::{Store, decode, encode};

#[derive(Serialize, Deserialize)]
struct NamePin {
    #[serde(with = "super::peer_id_text")]
    peer_id: PeerId,
    /// Unix seconds when the holder's newest record seen expires.
    until: i64,
}

/// The pinned holder of a name and until when its pin lasts.
pub(crate) fn get(store: &Store, name: &NodeName) -> Result<Option<(PeerId, i64)>> {
    let Some(bytes) = store.trees.nodename_pin.get(name.as_str().as_bytes())? else {
        return Ok(None);
    };
    let pin: NamePin = decode(&bytes)?;
    Ok(Some((pin.peer_id, pin.until)))
}

pub(crate) fn set(store: &Store, name: &NodeName, peer: PeerId, until: i64) -> Result<()> {
    let pin = NamePin { peer_id: peer, until };
    store
        .trees
        .nodename_pin
        .insert(name.as_str().as_bytes(), encode(&pin))?;
    Ok(())
}

/// Every node some name is pinned to: the nodes this one has federated with, and the only ones it
/// greets with a `Hello` when they connect (DHT traffic connects it to most others too).
pub(crate) fn pinned_peers(store: &Store) -> Result<HashSet<PeerId>> {
    store
        .trees
        .nodename_pin
        .iter()
        .values()
        .map(|bytes| Ok(decode::<NamePin>(&bytes?)?.peer_id))
        .collect()
}
