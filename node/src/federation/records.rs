//! The signed name record: `node-name -> PeerId + listen addresses`, as a Kademlia record whose value is
//! a `protocol::federation::SignedNodeRecord`. Records are checked before they are stored (as a DHT
//! server) and before they are used (when resolving), by the checks every DHT server shares
//! (`protocol::federation::DhtRecord::verify` and `may_replace`); this module carries them over libp2p's
//! types, signs this node's record and picks a name's holder among the copies a lookup found.

use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId, kad};
use protocol::federation::{self, DhtRecord, FederationError, NodeName, NodeRecord, VerifiedNodeRecord};

use crate::NodeIdentity;

/// A record that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedRecord {
    pub(crate) name: NodeName,
    pub(crate) peer_id: PeerId,
    pub(crate) addresses: Vec<Multiaddr>,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
}

/// The DHT key of a node name.
pub(crate) fn key(name: &NodeName) -> kad::RecordKey {
    kad::RecordKey::new(&name.record_key())
}

/// Signs this node's record, valid for `lifetime` from `now` (Unix seconds).
pub(crate) fn build(
    identity: &NodeIdentity,
    name: &NodeName,
    addresses: &[Multiaddr],
    now: i64,
    lifetime: Duration,
) -> Result<kad::Record, FederationError> {
    let body = NodeRecord {
        name: name.clone(),
        public_key: identity.public_key(),
        addresses: addresses.iter().map(ToString::to_string).collect(),
        issued_at: now,
        expires_at: now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
    };
    let signed = body.sign(identity.signing_key())?;
    let mut record = kad::Record::new(key(name), signed.encode()?);
    record.expires = Some(Instant::now() + lifetime);
    Ok(record)
}

/// Checks a record found in (or offered to) the DHT, at `now` (Unix seconds).
pub(crate) fn validate(record: &kad::Record, now: i64) -> Result<VerifiedRecord, FederationError> {
    let VerifiedNodeRecord { record: body, peer_id } = bytes(record).verify(now)?;
    let peer_id = PeerId::from_bytes(&peer_id).map_err(|err| FederationError::Malformed(err.to_string()))?;
    let addresses = body.addresses.iter().filter_map(|text| text.parse().ok()).collect();
    Ok(VerifiedRecord {
        name: body.name,
        peer_id,
        addresses,
        issued_at: body.issued_at,
        expires_at: body.expires_at,
    })
}

/// Whether a DHT server may store `incoming` over what it holds for the name: a name belongs to the node
/// that holds it until that node's record expires, so another key cannot take it over meanwhile.
pub(crate) fn may_replace(
    held: Option<&kad::Record>,
    incoming: &VerifiedRecord,
    now: i64,
) -> Result<(), FederationError> {
    federation::may_replace(held.map(bytes).as_ref(), &incoming.peer_id.to_bytes(), now)
}

fn bytes(record: &kad::Record) -> DhtRecord<'_> {
    DhtRecord::new(
        record.key.as_ref(),
        &record.value,
        record.publisher.map(|peer| peer.to_bytes()),
    )
}

/// A valid copy of a name record found by a lookup, with the DHT peer that served it (`None` for this
/// node's own store).
#[derive(Debug, Clone)]
pub(crate) struct FoundCopy {
    pub(crate) source: Option<PeerId>,
    pub(crate) record: VerifiedRecord,
}

/// Picks the holder of a name among the copies a lookup found: the pinned node while its pin lasts;
/// else the node named by the copies the operator's bootstrap nodes (`anchors`) served, which refuse
/// takeovers of a live name; else the node most copies name, the earliest issued on a tie. Returns that
/// node's freshest record; `None` when every copy contradicts a live pin.
pub(crate) fn choose<'a>(
    copies: &'a [FoundCopy],
    pinned: Option<(PeerId, i64)>,
    anchors: &[PeerId],
    now: i64,
) -> Option<&'a VerifiedRecord> {
    let freshest = |peer: PeerId| {
        copies
            .iter()
            .map(|copy| &copy.record)
            .filter(|record| record.peer_id == peer)
            .max_by_key(|record| record.issued_at)
    };
    if let Some((peer, until)) = pinned {
        let held = freshest(peer);
        if held.is_some() || until > now {
            return held;
        }
    }
    let anchored: Vec<&FoundCopy> = copies
        .iter()
        .filter(|copy| copy.source.is_some_and(|source| anchors.contains(&source)))
        .collect();
    let pool: Vec<&FoundCopy> = if anchored.is_empty() {
        copies.iter().collect()
    } else {
        anchored
    };
    let votes = |peer: PeerId| pool.iter().filter(|copy| copy.record.peer_id == peer).count();
    let earliest = |peer: PeerId| {
        pool.iter()
            .filter(|copy| copy.record.peer_id == peer)
            .map(|copy| copy.record.issued_at)
            .min()
    };
    let winner = pool
        .iter()
        .map(|copy| copy.record.peer_id)
        .max_by(|a, b| votes(*a).cmp(&votes(*b)).then_with(|| earliest(*b).cmp(&earliest(*a))))?;
    freshest(winner)
}

#[cfg(test)]
mod tests {
    use protocol::federation::SignedNodeRecord;

    use super::*;

    fn identity() -> (tempfile::TempDir, NodeIdentity) {
        let dir = tempfile::tempdir().unwrap();
        let identity = NodeIdentity::load_or_create(dir.path()).unwrap();
        (dir, identity)
    }

    #[test]
    fn a_built_record_validates_to_the_nodes_peer_id() {
        let (_dir, identity) = identity();
        let name = NodeName::new("node-c").unwrap();
        let address: Multiaddr = "/ip4/127.0.0.1/udp/4433/quic-v1".parse().unwrap();
        let record = build(
            &identity,
            &name,
            std::slice::from_ref(&address),
            1000,
            Duration::from_secs(60),
        )
        .unwrap();
        let verified = validate(&record, 1001).unwrap();
        assert_eq!(verified.name, name);
        assert_eq!((verified.issued_at, verified.expires_at), (1000, 1060));
        assert_eq!(verified.peer_id, identity.libp2p_keypair().public().to_peer_id());
        assert_eq!(verified.addresses, vec![address]);
        assert_eq!(validate(&record, 1060).unwrap_err(), FederationError::Expired);
    }

    #[test]
    fn a_record_with_a_wrong_signature_is_refused() {
        let (_dir, identity) = identity();
        let name = NodeName::new("node-c").unwrap();
        let record = build(&identity, &name, &[], 1000, Duration::from_secs(60)).unwrap();
        let mut signed = SignedNodeRecord::decode(&record.value).unwrap();
        signed.signature[10] ^= 0x40;
        let forged = kad::Record::new(record.key.clone(), signed.encode().unwrap());
        assert_eq!(validate(&forged, 1001).unwrap_err(), FederationError::BadSignature);
    }

    #[test]
    fn a_record_moved_to_another_name_or_publisher_is_refused() {
        let (_dir, identity) = identity();
        let record = build(
            &identity,
            &NodeName::new("node-c").unwrap(),
            &[],
            1000,
            Duration::from_secs(60),
        )
        .unwrap();
        let moved = kad::Record::new(key(&NodeName::new("node-d").unwrap()), record.value.clone());
        assert_eq!(validate(&moved, 1001).unwrap_err(), FederationError::WrongName);

        let mut replica = record.clone();
        replica.publisher = Some(PeerId::random());
        assert_eq!(validate(&replica, 1001).unwrap_err(), FederationError::BadSignature);

        let garbage = kad::Record::new(record.key.clone(), vec![0xc1, 0x00]);
        assert!(matches!(validate(&garbage, 1001), Err(FederationError::Malformed(_))));
    }

    fn copy(source: Option<PeerId>, peer: PeerId, issued_at: i64) -> FoundCopy {
        FoundCopy {
            source,
            record: VerifiedRecord {
                name: NodeName::new("node-c").unwrap(),
                peer_id: peer,
                addresses: Vec::new(),
                issued_at,
                expires_at: issued_at + 600,
            },
        }
    }

    #[test]
    fn a_name_goes_to_its_pinned_holder_then_to_the_anchors_then_to_the_most_copies() {
        let (holder, other, anchor) = (PeerId::random(), PeerId::random(), PeerId::random());
        let found = [copy(None, other, 50), copy(None, holder, 10), copy(None, holder, 20)];
        let chosen = choose(&found, None, &[], 100).unwrap();
        assert_eq!(
            (chosen.peer_id, chosen.issued_at),
            (holder, 20),
            "most copies, freshest record"
        );
        let tie = [copy(None, other, 50), copy(None, holder, 10)];
        assert_eq!(
            choose(&tie, None, &[], 100).unwrap().peer_id,
            holder,
            "earliest on a tie"
        );
        // A bootstrap node's copy outweighs any number of others.
        let anchored = [
            copy(None, holder, 10),
            copy(None, holder, 11),
            copy(Some(anchor), other, 50),
        ];
        assert_eq!(choose(&anchored, None, &[anchor], 100).unwrap().peer_id, other);
        // A live pin beats everything, and refuses a lookup that found only others.
        assert_eq!(choose(&tie, Some((other, 200)), &[], 100).unwrap().peer_id, other);
        assert!(choose(&[copy(None, other, 50)], Some((holder, 200)), &[], 100).is_none());
        // A lapsed pin no longer holds the name.
        let only_other = [copy(None, other, 50)];
        let lapsed = choose(&only_other, Some((holder, 90)), &[], 100);
        assert_eq!(lapsed.unwrap().peer_id, other);
    }

    #[test]
    fn a_live_record_of_another_key_is_not_replaced() {
        let (_dir, first) = identity();
        let (_dir2, second) = identity();
        let name = NodeName::new("node-c").unwrap();
        let held = build(&first, &name, &[], 1000, Duration::from_secs(60)).unwrap();
        let takeover = validate(
            &build(&second, &name, &[], 1010, Duration::from_secs(60)).unwrap(),
            1010,
        )
        .unwrap();
        assert_eq!(
            may_replace(Some(&held), &takeover, 1010),
            Err(FederationError::NameTaken)
        );
        assert_eq!(
            may_replace(Some(&held), &takeover, 1061),
            Ok(()),
            "once the holder's record lapsed"
        );
        let refresh = validate(&build(&first, &name, &[], 1020, Duration::from_secs(60)).unwrap(), 1020).unwrap();
        assert_eq!(may_replace(Some(&held), &refresh, 1020), Ok(()));
        assert_eq!(may_replace(None, &takeover, 1010), Ok(()));
    }
}
