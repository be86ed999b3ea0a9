//! The checks every DHT server makes before storing a name record (`protocol::federation::admit`), over
//! libp2p's record type.

use libp2p::kad;
use protocol::federation::{DhtRecord, FederationError};

/// Checks a record offered for storage against the one held for its name.
pub(crate) fn admit(record: &kad::Record, held: Option<&kad::Record>, now: i64) -> Result<(), FederationError> {
    protocol::federation::admit(&bytes(record), held.map(bytes).as_ref(), now).map(drop)
}

fn bytes(record: &kad::Record) -> DhtRecord<'_> {
    DhtRecord::new(
        record.key.as_ref(),
        &record.value,
        record.publisher.map(|peer| peer.to_bytes()),
    )
}
