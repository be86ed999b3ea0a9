//! End-to-end encryption for devices: identity and prekeys, X3DH to start a session, the Double
//! Ratchet to run it, and safety numbers to check identities. Pure computation, no I/O: clients keep
//! the private state (every type here serialises), the node only ever sees public keys, headers and
//! ciphertexts.
//!
//! The submodules are private; everything public is re-exported here, so callers write
//! `protocol::crypto::Session` (the module name tells it apart from a login session).
//!
//! Primitives: Ed25519 identity keys (X25519 in their Montgomery form for agreement), X25519 prekeys
//! and ratchet keys, HKDF-SHA256 and HMAC-SHA256 for derivation, ChaCha20-Poly1305 for messages.

mod dh;
mod error;
mod fingerprint;
mod header;
mod identity;
mod kdf;
mod prekey;
mod ratchet;
mod secret;
mod session;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod vectors;
mod x3dh;

pub use dh::DhPublicKey;
pub use error::{CryptoError, CryptoResult};
pub use fingerprint::SafetyNumber;
pub use header::{MessageHeader, PreKeyInfo};
pub use identity::IdentityKeyPair;
pub use prekey::{OneTimePreKeyId, OneTimePreKeyPair, SignedPreKeyId, SignedPreKeyPair};
pub use ratchet::{EncryptedMessage, SessionConfig};
pub use session::Session;
