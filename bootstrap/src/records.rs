//! The same checks a node makes before storing a name record: a valid signature by the key the record
//! names, for the name it is stored under, unexpired, published by that key's PeerId; and no live record
//! of another key already holds the name.

use libp2p::{PeerId, kad};
use protocol::federation::{FederationError, NodeName, RECORD_KEY_PREFIX, SignedNodeRecord, peer_id_bytes};

/// Checks a record and returns the PeerId it is for.
fn validate(record: &kad::Record, now: i64) -> Result<PeerId, FederationError> {
    let name = std::str::from_utf8(record.key.as_ref())
        .ok()
        .and_then(|key| key.strip_prefix(RECORD_KEY_PREFIX))
        .ok_or_else(|| FederationError::Malformed("not a node record key".into()))?;
    let body = SignedNodeRecord::decode(&record.value)?.verify(&NodeName::new(name)?, now)?;
    let peer_id = PeerId::from_bytes(&peer_id_bytes(&body.public_key))
        .map_err(|err| FederationError::Malformed(err.to_string()))?;
    if record.publisher.is_some_and(|publisher| publisher != peer_id) {
        return Err(FederationError::BadSignature);
    }
    Ok(peer_id)
}

/// Checks a record offered for storage against the one held for its name: a name belongs to the node
/// holding it until that node's record expires.
pub(crate) fn admit(record: &kad::Record, held: Option<&kad::Record>, now: i64) -> Result<(), FederationError> {
    let peer = validate(record, now)?;
    match held.map(|held| validate(held, now)) {
        Some(Ok(holder)) if holder != peer => Err(FederationError::NameTaken),
        _ => Ok(()),
    }
}
