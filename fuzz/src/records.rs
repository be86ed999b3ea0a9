//! The node whose name records the `node_record` target checks, the time it checks them at, and what a
//! DHT server already holds for that name. The seed corpus signs its records with the same key, so the
//! fuzzer starts from bodies that name it.

use ed25519_dalek::SigningKey;
use protocol::federation::{NodeName, NodeRecord};

/// The name records are looked up by.
pub const NAME: &str = "node-c";
/// When records are checked, Unix seconds.
pub const NOW: i64 = 1_700_000_000;

/// The node key that owns [`NAME`].
pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A record of `key`'s node for [`NAME`], live at [`NOW`].
pub fn record(key: &SigningKey, addresses: &[&str]) -> NodeRecord {
    NodeRecord {
        name: NodeName::new(NAME).expect("a valid name"),
        public_key: key.verifying_key().to_bytes(),
        addresses: addresses.iter().map(|address| address.to_string()).collect(),
        issued_at: NOW - 60,
        expires_at: NOW + 3600,
    }
}

/// The DHT value another node published for [`NAME`]: a DHT server holds it while it is live.
pub fn held_by_another() -> Vec<u8> {
    let other = SigningKey::from_bytes(&[8; 32]);
    record(&other, &["/ip4/10.0.0.8/udp/4433/quic-v1"])
        .sign(&other)
        .and_then(|signed| signed.encode())
        .expect("a small record encodes")
}
