//! Admission of name records to the DHT, in one place for every DHT server (nodes and bootstrap nodes
//! alike), so a name can only be taken over where every server would let it. A record must be signed by
//! the key it names, for the name it is stored under, unexpired, and published by that key's PeerId; and
//! a name belongs to the node holding it until that node's record expires. Records are read as bytes,
//! and PeerIds compared in their byte encoding, so this crate stays free of libp2p.

use super::{FederationError, NodeName, NodeRecord, RECORD_KEY_PREFIX, SignedNodeRecord, peer_id_bytes};

/// A Kademlia record as the bytes its checks need: a DHT server hands over what it received or holds.
#[derive(Debug, Clone)]
pub struct DhtRecord<'a> {
    key: &'a [u8],
    value: &'a [u8],
    publisher: Option<Vec<u8>>,
}

/// A name record that passed every check of [`DhtRecord::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNodeRecord {
    /// The signed body; its name is the one the record is stored under.
    pub record: NodeRecord,
    /// The byte encoding of the PeerId of `record.public_key` ([`peer_id_bytes`]), the peer to talk to.
    pub peer_id: Vec<u8>,
}

impl<'a> DhtRecord<'a> {
    /// A record stored under `key` with `value`; `publisher` is the byte encoding of the PeerId that
    /// first published it, where the record carries one (a replica keeps it).
    pub fn new(key: &'a [u8], value: &'a [u8], publisher: Option<Vec<u8>>) -> Self {
        Self { key, value, publisher }
    }

    /// Checks the record at `now` (Unix seconds), whether found by a lookup or offered for storage: the
    /// key is [`RECORD_KEY_PREFIX`] and a node name, the value a [`SignedNodeRecord`] that verifies for
    /// that name, and a publisher, if any, is the signing key's PeerId (one naming another peer is
    /// someone else's copy forged).
    pub fn verify(&self, now: i64) -> Result<VerifiedNodeRecord, FederationError> {
        let name = std::str::from_utf8(self.key)
            .ok()
            .and_then(|key| key.strip_prefix(RECORD_KEY_PREFIX))
            .ok_or_else(|| FederationError::Malformed("not a node record key".into()))?;
        let record = SignedNodeRecord::decode(self.value)?.verify(&NodeName::new(name)?, now)?;
        let peer_id = peer_id_bytes(&record.public_key);
        if self.publisher.as_ref().is_some_and(|publisher| *publisher != peer_id) {
            return Err(FederationError::BadSignature);
        }
        Ok(VerifiedNodeRecord { record, peer_id })
    }
}

/// Whether a DHT server may store a record of `peer_id` (PeerId bytes) over what it `held` for the name:
/// not while a live record of another key holds it. A held record that no longer verifies (expired, say)
/// holds nothing.
pub fn may_replace(held: Option<&DhtRecord<'_>>, peer_id: &[u8], now: i64) -> Result<(), FederationError> {
    match held.map(|held| held.verify(now)) {
        Some(Ok(holder)) if holder.peer_id != peer_id => Err(FederationError::NameTaken),
        _ => Ok(()),
    }
}

/// Everything a DHT server checks before storing `offered` over what it `held` for the name, at `now`
/// (Unix seconds): [`DhtRecord::verify`], then [`may_replace`].
pub fn admit(
    offered: &DhtRecord<'_>,
    held: Option<&DhtRecord<'_>>,
    now: i64,
) -> Result<VerifiedNodeRecord, FederationError> {
    let verified = offered.verify(now)?;
    may_replace(held, &verified.peer_id, now)?;
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    /// The DHT key and value a node with `key` publishes for `name`, issued at `issued_at` for 60 s.
    fn published(key: &SigningKey, name: &str, issued_at: i64) -> (Vec<u8>, Vec<u8>) {
        let name = NodeName::new(name).unwrap();
        let body = NodeRecord {
            name: name.clone(),
            public_key: key.verifying_key().to_bytes(),
            addresses: vec!["/ip4/127.0.0.1/udp/4433/quic-v1".into()],
            issued_at,
            expires_at: issued_at + 60,
        };
        (name.record_key(), body.sign(key).unwrap().encode().unwrap())
    }

    fn peer_id(key: &SigningKey) -> Vec<u8> {
        peer_id_bytes(&key.verifying_key().to_bytes())
    }

    #[test]
    fn a_published_record_verifies_to_its_keys_peer_id() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (dht_key, value) = published(&key, "node-c", 1000);
        let verified = DhtRecord::new(&dht_key, &value, None).verify(1001).unwrap();
        assert_eq!(verified.record.name, NodeName::new("node-c").unwrap());
        assert_eq!((verified.record.issued_at, verified.record.expires_at), (1000, 1060));
        assert_eq!(verified.peer_id, peer_id(&key));
        let replica = DhtRecord::new(&dht_key, &value, Some(peer_id(&key)));
        assert_eq!(replica.verify(1001), Ok(verified));
        assert_eq!(replica.verify(1060), Err(FederationError::Expired));
    }

    #[test]
    fn a_record_under_another_key_or_publisher_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (dht_key, value) = published(&key, "node-c", 1000);
        let moved = NodeName::new("node-d").unwrap().record_key();
        assert_eq!(
            DhtRecord::new(&moved, &value, None).verify(1001),
            Err(FederationError::WrongName)
        );
        assert!(matches!(
            DhtRecord::new(b"/other/node-c", &value, None).verify(1001),
            Err(FederationError::Malformed(_))
        ));
        assert_eq!(
            DhtRecord::new(b"/parley/node/Bad Name", &value, None).verify(1001),
            Err(FederationError::InvalidName)
        );
        let other = peer_id(&SigningKey::from_bytes(&[8; 32]));
        assert_eq!(
            DhtRecord::new(&dht_key, &value, Some(other)).verify(1001),
            Err(FederationError::BadSignature)
        );
        assert!(matches!(
            DhtRecord::new(&dht_key, &[0xc1, 0x00], None).verify(1001),
            Err(FederationError::Malformed(_))
        ));
    }

    #[test]
    fn a_live_record_of_another_key_is_not_replaced() {
        let (first, second) = (SigningKey::from_bytes(&[7; 32]), SigningKey::from_bytes(&[8; 32]));
        let (dht_key, held_value) = published(&first, "node-c", 1000);
        let held = DhtRecord::new(&dht_key, &held_value, None);
        let (_, takeover_value) = published(&second, "node-c", 1010);
        let takeover = DhtRecord::new(&dht_key, &takeover_value, Some(peer_id(&second)));
        assert_eq!(admit(&takeover, Some(&held), 1010), Err(FederationError::NameTaken));
        assert_eq!(
            admit(&takeover, Some(&held), 1061).map(|verified| verified.peer_id),
            Ok(peer_id(&second)),
            "once the holder's record lapsed"
        );
        assert!(admit(&takeover, None, 1010).is_ok());
        let (_, refresh_value) = published(&first, "node-c", 1020);
        assert!(admit(&DhtRecord::new(&dht_key, &refresh_value, None), Some(&held), 1020).is_ok());
        let garbage = DhtRecord::new(&dht_key, b"garbage", None);
        assert_eq!(may_replace(Some(&garbage), &peer_id(&second), 1010), Ok(()));
        assert_eq!(may_replace(Some(&held), &peer_id(&first), 1010), Ok(()));
    }
}
