//! Node-to-node vocabulary: the request-response messages of `/parley/federation/1` and the signed
//! name record nodes publish in the Kademlia DHT. Everything arriving from another node is untrusted, so
//! every decoder here checks sizes first and reports malformed input as an error, never a panic.
//!
//! Messages are MessagePack (`rmp-serde`) with field names, so a later version can add fields; the
//! protocol id carries the wire version, and `Hello` exchanges it too.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, UserId};

mod calls;
mod labels;
mod records;
mod relay;

pub use calls::{CallAction, CallActionRequest, CallEvent, CallUpdate, RelayedSignal};
pub use records::{DhtRecord, VerifiedNodeRecord, admit, may_replace};

pub use relay::{
    Change, ChangeRequest, ConversationState, Envelope, Event, Handover, MAX_EVENT_BYTES, Member, MessageChange,
    ReceiptNotice, RelayedCopy, RelayedMessage, RenamedUser, RequestedChange, Submission, SubmittedCopy, public_key_of,
};

/// The libp2p stream protocol of node-to-node requests.
pub const PROTOCOL: &str = "/parley/federation/1";
/// The Kademlia protocol of Parley's DHT, kept apart from the public IPFS DHT.
pub const KAD_PROTOCOL: &str = "/parley/kad/1.0.0";
/// The protocol version nodes and bootstrap nodes announce through libp2p identify.
pub const IDENTIFY_PROTOCOL: &str = "/parley/id/1.0.0";
/// The wire version spoken on [`PROTOCOL`]; nodes refuse a `Hello` with another major version.
pub const WIRE_VERSION: u16 = 1;
/// Largest encoded request accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest encoded response accepted, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Largest encoded signed node record accepted, in bytes.
pub const MAX_RECORD_BYTES: usize = 4 * 1024;
/// Most listen addresses a node record may carry.
pub const MAX_RECORD_ADDRESSES: usize = 16;
/// Prefix of the DHT key under which a node publishes its record: `/parley/node/<name>`.
pub const RECORD_KEY_PREFIX: &str = "/parley/node/";

/// A node's name: 1 to 63 characters of `a-z`, `0-9` and `-`, neither starting nor ending with `-`
/// (a DNS label), so it can appear in handles like `ann@<node>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NodeName(String);

impl NodeName {
    /// Validates a name.
    pub fn new(name: impl Into<String>) -> Result<Self, FederationError> {
        let name = name.into();
        let valid_chars = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if name.is_empty() || name.len() > 63 || !valid_chars || name.starts_with('-') || name.ends_with('-') {
            return Err(FederationError::InvalidName);
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The DHT key of this node's record.
    pub fn record_key(&self) -> Vec<u8> {
        format!("{RECORD_KEY_PREFIX}{}", self.0).into_bytes()
    }
}

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::new(name).map_err(serde::de::Error::custom)
    }
}

impl FromStr for NodeName {
    type Err = FederationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeName({})", self.0)
    }
}

/// Why federation input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// A node name is not a lower-case DNS label of at most 63 characters.
    #[error("a node name is 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'")]
    InvalidName,
    /// The payload is larger than its limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size received.
        size: usize,
        /// Limit that applies.
        limit: usize,
    },
    /// The payload is not a valid encoding of the expected message.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// The record's signature does not verify with the key it names.
    #[error("the record's signature is invalid")]
    BadSignature,
    /// The record is for another name than the one looked up.
    #[error("the record names another node")]
    WrongName,
    /// The record is past its expiry.
    #[error("the record has expired")]
    Expired,
    /// The record carries too many addresses.
    #[error("the record carries too many addresses")]
    TooManyAddresses,
    /// Another node holds the name: its record has not expired.
    #[error("the name is held by another node until its record expires")]
    NameTaken,
}

/// A request from one node to another on [`PROTOCOL`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Request {
    /// Introduces the sender; answered with [`Response::NodeInfo`].
    Hello(NodeInfo),
    /// Looks up a user of the receiving node by username; answered with [`Response::User`] or
    /// [`Response::NotFound`].
    ResolveUser {
        /// The username, without the node part.
        username: String,
    },
    /// Claims a key bundle of one of the receiving node's devices, consuming one one-time prekey there;
    /// answered with [`Response::Bundle`] or [`Response::NotFound`].
    ClaimBundle {
        /// The device's owner, a user of the receiving node.
        user_id: crate::UserId,
        /// The device.
        device_id: crate::DeviceId,
    },
    /// Looks up a user of the receiving node by id; answered with [`Response::User`] or
    /// [`Response::NotFound`].
    FetchUser {
        /// A user of the receiving node.
        user_id: UserId,
    },
    /// Reads part of a file the receiving node keeps, for one of the sending node's users who may read
    /// it there (its uploader, or a participant of a conversation it was shared in); answered with
    /// [`Response::FileChunk`] (at most [`MAX_FILE_CHUNK`] bytes) or [`Response::NotFound`].
    FetchFile {
        /// The reader, a user of the sending node.
        user_id: UserId,
        /// The file.
        file_id: crate::FileId,
        /// Where the part starts.
        offset: u64,
        /// How many bytes are wanted (0 asks only whether the reader may read the file).
        length: u32,
    },
    /// Events for the receiving node, in order: from a host, about conversations it hosts; from a
    /// home node, about its own users. Answered with [`Response::Accepted`]; delivering an event again
    /// changes nothing.
    Deliver {
        /// Signed by the sending node.
        envelopes: Vec<Envelope>,
    },
    /// A message of one of the sending node's users, for a conversation the receiving node hosts;
    /// answered with [`Response::Submitted`].
    Submit(Box<Submission>),
    /// A change to a message of a conversation the receiving node hosts, asked by one of the sending
    /// node's users; answered with [`Response::Submitted`] (the message after the change).
    ChangeMessage(Box<ChangeRequest>),
    /// A call change asked by one of the sending node's users, for a call of a conversation the
    /// receiving node hosts; answered with [`Response::Call`] (or [`Response::CallQuality`]).
    CallAction(Box<CallActionRequest>),
    /// A call of a conversation the sending node hosts, after a change: an [`Event::Call`] signed by the
    /// sending node, kept by the receiver with the call; answered with [`Response::Done`].
    CallUpdate(Envelope),
    /// A WebRTC signal from one of the sending node's users to one of the receiving node's; answered
    /// with [`Response::Done`].
    CallSignal(Box<RelayedSignal>),
    /// One of the sending node's users started or stopped typing in a conversation the receiving node
    /// has members of (best effort, not stored); answered with [`Response::Done`].
    Typing {
        /// The conversation.
        conversation_id: crate::ConversationId,
        /// The typist, a user of the sending node.
        user_id: UserId,
        /// Shown next to the indicator.
        display_name: String,
        /// Started (true) or stopped.
        typing: bool,
    },
    /// One of the sending node's users came online or went offline (best effort, not stored); answered
    /// with [`Response::Done`].
    Presence {
        /// The user, a user of the sending node.
        user_id: UserId,
        /// Online (true) or offline.
        online: bool,
        /// A short status, e.g. `online`, `away`.
        status: String,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Response {
    /// The answering node's description (to [`Request::Hello`]).
    NodeInfo(NodeInfo),
    /// A user's public profile and devices (to [`Request::ResolveUser`]).
    User(RemoteUser),
    /// A freshly claimed key bundle (to [`Request::ClaimBundle`]).
    Bundle(crate::api::KeyBundle),
    /// The events of a [`Request::Deliver`] were processed: `applied` were new or already known,
    /// `rejected` were refused for good (each with its reason) and must not be sent again.
    Accepted {
        /// Events stored (or already stored).
        applied: u32,
        /// Why each refused event was refused.
        rejected: Vec<String>,
        /// The refused events that were queued submissions (`Event::Submission`), by message id, so
        /// the submitting node can tell its sender.
        #[serde(default)]
        refused_submissions: Vec<(crate::MessageId, String)>,
    },
    /// The stored message, as the sending device sees it (to [`Request::Submit`]).
    Submitted(Box<crate::api::Message>),
    /// Nothing by that name.
    NotFound,
    /// The request was refused.
    Error {
        /// A stable machine-readable code, e.g. `bad_request`, `busy`, `internal`.
        code: String,
        /// A human-readable reason.
        message: String,
    },
    /// The call after the change (to [`Request::CallAction`]).
    Call(Box<crate::api::Call>),
    /// The recorded quality sample (to a [`Request::CallAction`] with [`CallAction::Quality`]).
    CallQuality(Box<crate::api::CallQualityMetric>),
    /// Part of a file, with what a reader needs to keep it (to [`Request::FetchFile`]).
    FileChunk(Box<FileChunk>),
    /// The request was carried out and there is nothing to return (to [`Request::CallUpdate`] and
    /// [`Request::CallSignal`]).
    Done,
}

/// Most bytes one [`Response::FileChunk`] carries, well inside [`MAX_RESPONSE_BYTES`].
pub const MAX_FILE_CHUNK: u32 = 512 * 1024;

/// Part of a file kept by the answering node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChunk {
    /// The file's name, as its uploader gave it.
    pub file_name: String,
    /// Its media type.
    pub content_type: String,
    /// Its whole size.
    pub size: u64,
    /// The SHA-256 of all of it, hex: the reader checks its copy against it.
    pub sha256: String,
    /// Who uploaded it, a user of the answering node.
    pub uploader_id: UserId,
    /// The bytes from the asked offset.
    #[serde(with = "crate::binary")]
    pub bytes: Vec<u8>,
}

/// How a node describes itself to its peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The wire version the node speaks ([`WIRE_VERSION`]).
    pub version: u16,
    /// The node's name.
    pub name: NodeName,
    /// The node's software, e.g. `parley/0.1.0`.
    pub agent: String,
}

/// A user as another node sees it: what a sender needs to address them, nothing private (no presence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteUser {
    /// The account on its home node.
    pub user_id: UserId,
    /// Unique on its home node.
    pub username: String,
    /// Shown to others.
    pub display_name: String,
    /// The devices a sender must encrypt for.
    pub devices: Vec<RemoteDevice>,
}

/// One active device of a [`RemoteUser`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteDevice {
    /// The device.
    pub device_id: DeviceId,
    /// Whether it has published an identity key and a signed prekey (a bundle can be claimed).
    pub has_active_keys: bool,
    /// Its current identity key, so other nodes' clients can check a first message from it.
    #[serde(default)]
    pub identity: Option<crate::api::IdentityKey>,
}

/// Encodes a request for the wire.
pub fn encode_request(request: &Request) -> Result<Vec<u8>, FederationError> {
    encode(request, MAX_REQUEST_BYTES)
}

/// Decodes a request received from a peer, refusing anything over [`MAX_REQUEST_BYTES`].
pub fn decode_request(bytes: &[u8]) -> Result<Request, FederationError> {
    decode(bytes, MAX_REQUEST_BYTES)
}

/// Encodes a response for the wire.
pub fn encode_response(response: &Response) -> Result<Vec<u8>, FederationError> {
    encode(response, MAX_RESPONSE_BYTES)
}

/// Decodes a response received from a peer, refusing anything over [`MAX_RESPONSE_BYTES`].
pub fn decode_response(bytes: &[u8]) -> Result<Response, FederationError> {
    decode(bytes, MAX_RESPONSE_BYTES)
}

fn encode<T: Serialize>(value: &T, limit: usize) -> Result<Vec<u8>, FederationError> {
    let bytes = rmp_serde::to_vec_named(value).map_err(|err| FederationError::Malformed(err.to_string()))?;
    if bytes.len() > limit {
        return Err(FederationError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, FederationError> {
    if bytes.len() > limit {
        return Err(FederationError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    rmp_serde::from_slice(bytes).map_err(|err| FederationError::Malformed(err.to_string()))
}

/// What a node publishes under its name in the DHT: who it is and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The published name.
    pub name: NodeName,
    /// The node's Ed25519 public key; its libp2p PeerId derives from it ([`peer_id_bytes`]).
    pub public_key: [u8; 32],
    /// Multiaddrs the node listens on, as text.
    pub addresses: Vec<String>,
    /// When it was signed, Unix seconds.
    pub issued_at: i64,
    /// When it stops being valid, Unix seconds; the node republishes well before.
    pub expires_at: i64,
}

/// A [`NodeRecord`] with the node key's signature over its exact encoding, as stored in the DHT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedNodeRecord {
    /// The encoded [`NodeRecord`] (MessagePack with field names).
    pub body: Vec<u8>,
    /// Ed25519 signature over `body` by `NodeRecord::public_key`.
    pub signature: Vec<u8>,
}

impl NodeRecord {
    /// Signs the record with the node key (whose public half must be `public_key`).
    pub fn sign(&self, key: &SigningKey) -> Result<SignedNodeRecord, FederationError> {
        let body = encode(self, MAX_RECORD_BYTES)?;
        let signature = key.sign(&body).to_bytes().to_vec();
        Ok(SignedNodeRecord { body, signature })
    }
}

impl SignedNodeRecord {
    /// The DHT value.
    pub fn encode(&self) -> Result<Vec<u8>, FederationError> {
        encode(self, MAX_RECORD_BYTES)
    }

    /// Parses a DHT value (size-limited); call [`SignedNodeRecord::verify`] before trusting it.
    pub fn decode(bytes: &[u8]) -> Result<Self, FederationError> {
        decode(bytes, MAX_RECORD_BYTES)
    }

    /// Checks the signature against the key the body names, that the record is for `expected` and
    /// that it has not expired at `now` (Unix seconds). The caller still checks that the key matches
    /// the PeerId it will talk to ([`peer_id_bytes`]); [`DhtRecord::verify`] does, for a DHT record.
    pub fn verify(&self, expected: &NodeName, now: i64) -> Result<NodeRecord, FederationError> {
        let record: NodeRecord = decode(&self.body, MAX_RECORD_BYTES)?;
        let key = VerifyingKey::from_bytes(&record.public_key).map_err(|_| FederationError::BadSignature)?;
        let signature = Signature::from_slice(&self.signature).map_err(|_| FederationError::BadSignature)?;
        key.verify_strict(&self.body, &signature)
            .map_err(|_| FederationError::BadSignature)?;
        if &record.name != expected {
            return Err(FederationError::WrongName);
        }
        if record.expires_at <= now {
            return Err(FederationError::Expired);
        }
        if record.addresses.len() > MAX_RECORD_ADDRESSES {
            return Err(FederationError::TooManyAddresses);
        }
        Ok(record)
    }
}

/// The bytes of the libp2p PeerId of an Ed25519 public key: an identity multihash (code 0, length 36)
/// of the key's protobuf encoding (`KeyType = Ed25519` (1), `Data` = the 32 bytes). Lets code without
/// libp2p check that a record's key is the peer's.
pub fn peer_id_bytes(public_key: &[u8; 32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(38);
    bytes.extend_from_slice(&[0x00, 36, 0x08, 0x01, 0x12, 32]);
    bytes.extend_from_slice(public_key);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &SigningKey, name: &str) -> NodeRecord {
        NodeRecord {
            name: NodeName::new(name).unwrap(),
            public_key: key.verifying_key().to_bytes(),
            addresses: vec!["/ip4/127.0.0.1/udp/4433/quic-v1".into()],
            issued_at: 100,
            expires_at: 200,
        }
    }

    #[test]
    fn node_names_are_dns_labels() {
        for good in ["a", "node-1", "0abc", &"x".repeat(63)] {
            assert!(NodeName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a b", "é", &"x".repeat(64)] {
            assert_eq!(NodeName::new(bad), Err(FederationError::InvalidName), "{bad}");
        }
        let bytes = rmp_serde::to_vec("Bad Name").unwrap();
        assert!(rmp_serde::from_slice::<NodeName>(&bytes).is_err());
    }

    #[test]
    fn a_signed_record_verifies_and_round_trips() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = record(&key, "node-c").sign(&key).unwrap();
        let decoded = SignedNodeRecord::decode(&signed.encode().unwrap()).unwrap();
        let verified = decoded.verify(&NodeName::new("node-c").unwrap(), 150).unwrap();
        assert_eq!(verified, record(&key, "node-c"));
    }

    #[test]
    fn a_record_with_a_wrong_signature_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let name = NodeName::new("node-c").unwrap();
        let mut signed = record(&key, "node-c").sign(&key).unwrap();
        signed.signature[0] ^= 1;
        assert_eq!(signed.verify(&name, 150), Err(FederationError::BadSignature));

        // Signed by another key than the one it names: someone claiming a name for a key they lack.
        let other = SigningKey::from_bytes(&[8; 32]);
        let forged = record(&key, "node-c").sign(&other).unwrap();
        assert_eq!(forged.verify(&name, 150), Err(FederationError::BadSignature));

        // A tampered body no longer matches its signature.
        let mut tampered = record(&key, "node-c").sign(&key).unwrap();
        let last = tampered.body.len() - 1;
        tampered.body[last] ^= 1;
        assert!(tampered.verify(&name, 150).is_err());

        let short = SignedNodeRecord {
            signature: vec![1, 2, 3],
            ..record(&key, "node-c").sign(&key).unwrap()
        };
        assert_eq!(short.verify(&name, 150), Err(FederationError::BadSignature));
    }

    #[test]
    fn a_record_for_another_name_or_expired_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = record(&key, "node-c").sign(&key).unwrap();
        assert_eq!(
            signed.verify(&NodeName::new("node-d").unwrap(), 150),
            Err(FederationError::WrongName)
        );
        assert_eq!(
            signed.verify(&NodeName::new("node-c").unwrap(), 200),
            Err(FederationError::Expired)
        );
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"\x92\x01",
            b"\xdf\xff\xff\xff\xff",
            b"\x81\xa5Hello\x01",
            &[0xff; 64],
        ] {
            assert!(decode_request(bytes).is_err());
            assert!(decode_response(bytes).is_err());
            assert!(SignedNodeRecord::decode(bytes).is_err());
        }
        let huge = vec![0x90; MAX_REQUEST_BYTES + 1];
        assert!(matches!(decode_request(&huge), Err(FederationError::TooLarge { .. })));
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let requests = [
            Request::Hello(NodeInfo {
                version: WIRE_VERSION,
                name: NodeName::new("a").unwrap(),
                agent: "parley/test".into(),
            }),
            Request::ResolveUser { username: "ann".into() },
        ];
        for request in requests {
            assert_eq!(decode_request(&encode_request(&request).unwrap()).unwrap(), request);
        }
        let response = Response::User(RemoteUser {
            user_id: UserId::random(),
            username: "ann".into(),
            display_name: "Ann".into(),
            devices: vec![RemoteDevice {
                device_id: DeviceId::random(),
                has_active_keys: false,
                identity: None,
            }],
        });
        assert_eq!(decode_response(&encode_response(&response).unwrap()).unwrap(), response);
    }
}
