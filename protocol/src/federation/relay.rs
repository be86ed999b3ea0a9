//! What one node relays to another about conversations it hosts: membership snapshots, ordered
//! messages and receipts. Each is an [`Event`] sealed in an [`Envelope`] signed by the origin node's key,
//! so the receiving node checks who produced it, and can keep it and check it again later.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{FederationError, MAX_REQUEST_BYTES, NodeName, decode, encode};
use crate::api::{ConversationKind, DeviceCiphertext, GroupSettings, Role, Timestamp};
use crate::{Base64Bytes, ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};

/// Largest encoded event sealed in one envelope.
pub const MAX_EVENT_BYTES: usize = 3 * 1024 * 1024;

/// An [`Event`] as its origin node signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The encoded [`Event`] (MessagePack with field names).
    #[serde(with = "crate::binary")]
    pub body: Vec<u8>,
    /// Ed25519 signature over `body` by the origin node's key.
    #[serde(with = "crate::binary")]
    pub signature: Vec<u8>,
}

impl Envelope {
    /// Encodes and signs an event with the node key.
    pub fn seal(event: &Event, key: &SigningKey) -> Result<Self, FederationError> {
        let body = encode(event, MAX_EVENT_BYTES)?;
        let signature = key.sign(&body).to_bytes().to_vec();
        Ok(Self { body, signature })
    }

    /// Checks the signature against the origin's key, then decodes the event.
    pub fn open(&self, origin: &[u8; 32]) -> Result<Event, FederationError> {
        let key = VerifyingKey::from_bytes(origin).map_err(|_| FederationError::BadSignature)?;
        let signature = Signature::from_slice(&self.signature).map_err(|_| FederationError::BadSignature)?;
        key.verify_strict(&self.body, &signature)
            .map_err(|_| FederationError::BadSignature)?;
        decode(&self.body, MAX_EVENT_BYTES)
    }

    /// The stored form, kept next to relayed data so its origin can be checked again.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FederationError> {
        encode(self, MAX_REQUEST_BYTES)
    }

    /// Parses a stored or received envelope (size-limited); call [`Envelope::open`] before trusting it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FederationError> {
        decode(bytes, MAX_REQUEST_BYTES)
    }
}

/// What a hosting node tells the home nodes of its conversations' participants, or what a home node
/// tells a host about its own users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Event {
    /// The conversation as it is now (host to home nodes); replaces the previous snapshot.
    Conversation(ConversationState),
    /// A message the host ordered, with the copies for the receiving node's devices.
    Message(RelayedMessage),
    /// A delivered or read mark: from a reader's home node to the host, then from the host to the
    /// sender's home node.
    Receipt(ReceiptNotice),
    /// A message was edited, deleted or erased at the host.
    Changed(MessageChange),
    /// A call of a conversation the origin hosts, after a change (sent directly, best effort).
    Call(super::CallUpdate),
    /// A message of one of the origin's users for a conversation the receiver hosts, queued at the
    /// origin while the receiver was unreachable: the receiver orders it as it would a `Submit`.
    Submission(Submission),
    /// A user of the origin took a new username: for every node that looked the user up, so its copy
    /// (and the handle it answers for while the origin is down) follows.
    Renamed(RenamedUser),
    /// A change to a message of a conversation the receiver hosts, asked by one of the origin's users
    /// and queued at the origin behind that user's earlier sends: the receiver applies it as it would
    /// a `ChangeMessage` request, and relays the result like any change.
    QueuedChange(ChangeRequest),
    /// The origin hosts a conversation now, in place of a host that is gone (one of its owners there
    /// took it over); a snapshot from the new host follows.
    Rehomed(Handover),
}

/// A conversation's move to the origin, from a host that no longer answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The owner who moved it (any member, for a DM), a user of the origin.
    pub by: UserId,
    /// The host it replaces (PeerId bytes): a replica that knows another host ignores the handover.
    #[serde(with = "crate::binary")]
    pub replaces: Vec<u8>,
    /// When.
    pub at: Timestamp,
}

/// A user's new username, from the user's home node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenamedUser {
    /// The user, of the sending node.
    pub user_id: UserId,
    /// The new username (the handle is `username@<sending node>`).
    pub username: String,
}

/// A change the host made to a message it relayed earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageChange {
    /// The message's conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// Who changed it.
    pub by: UserId,
    /// When.
    pub at: Timestamp,
    /// What changed.
    pub change: Change,
}

/// What happened to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// New content: the copies for the receiving node's devices replace the old ones.
    Edited {
        /// The new copies.
        copies: Vec<RelayedCopy>,
        /// The new content of a message sent in the clear (then `copies` is empty).
        #[serde(default)]
        body: Option<String>,
    },
    /// Soft-deleted: the content is gone, the slot stays.
    Deleted,
    /// Erased entirely.
    Erased,
    /// `by` added or removed a reaction.
    Reaction {
        /// The emoji.
        emoji: String,
        /// Added (true) or removed.
        added: bool,
    },
}

/// A change to a message asked of its conversation's host by the home node of the user asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// The user asking, a user of the requesting node.
    pub user_id: UserId,
    /// Its device.
    pub device_id: DeviceId,
    /// The message, of a conversation the receiving node hosts.
    pub message_id: MessageId,
    /// What to do.
    pub change: RequestedChange,
}

/// What a [`ChangeRequest`] asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestedChange {
    /// Replace the content (the sender only): one ciphertext per recipient device.
    Edit {
        /// The new copies.
        copies: Vec<SubmittedCopy>,
        /// The new content of a message sent in the clear (then `copies` is empty).
        #[serde(default)]
        body: Option<String>,
    },
    /// Soft-delete (the sender only).
    Delete,
    /// Erase (the sender, or an owner or admin).
    Erase,
    /// Add the user's reaction.
    React {
        /// The emoji.
        emoji: String,
    },
    /// Remove the user's reaction.
    Unreact {
        /// The emoji.
        emoji: String,
    },
}

/// A snapshot of a conversation hosted by the envelope's origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// DM, group or channel.
    pub kind: ConversationKind,
    /// A group's name.
    pub subject: Option<String>,
    /// A group's description.
    pub description: Option<String>,
    /// Who created it (a user of the host).
    pub creator_id: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed; older snapshots than the one held are ignored.
    pub updated_at: Timestamp,
    /// Group settings.
    pub settings: GroupSettings,
    /// Every member, wherever it lives.
    pub members: Vec<Member>,
}

/// A member of a relayed conversation, with the node it lives on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Its username on its home node.
    pub username: String,
    /// Shown to others.
    pub display_name: String,
    /// Its home node.
    pub node: NodeName,
    /// The home node's PeerId bytes.
    #[serde(with = "crate::binary")]
    pub peer_id: Vec<u8>,
    /// Its role.
    pub role: Role,
    /// When it joined.
    pub joined_at: Timestamp,
}

/// A message as its host ordered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedMessage {
    /// Unique; receivers deduplicate on it.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its place in the conversation, assigned by the host.
    pub seq: u64,
    /// Who sent it.
    pub sender_id: UserId,
    /// From which device.
    pub sender_device_id: DeviceId,
    /// The sender's idempotency key.
    pub client_message_id: ClientMessageId,
    /// The kind of content.
    pub message_type: MessageType,
    /// When the host stored it.
    pub created_at: Timestamp,
    /// The message it answers.
    pub reply_to: Option<MessageId>,
    /// Participants mentioned.
    pub mentions: Vec<UserId>,
    /// The message it forwards.
    pub forwarded_from: Option<MessageId>,
    /// The ciphertexts for the receiving node's devices.
    pub copies: Vec<RelayedCopy>,
    /// The content of a message sent in the clear (then `copies` is empty): one copy for every device
    /// of the receiving node's participants.
    #[serde(default)]
    pub body: Option<String>,
}

/// One device's ciphertext of a [`RelayedMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedCopy {
    /// The device's owner.
    pub user_id: UserId,
    /// The device.
    pub device_id: DeviceId,
    /// Opaque to every node.
    pub ciphertext: Base64Bytes,
    /// The ratchet header.
    pub header: Option<Base64Bytes>,
}

/// A receipt crossing nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptNotice {
    /// The message's conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// The reader or recipient.
    pub user_id: UserId,
    /// Read (true) or only delivered.
    pub read: bool,
    /// When.
    pub at: Timestamp,
}

/// A message a participant's home node hands to the conversation's host to order and fan out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The conversation (hosted by the receiving node).
    pub conversation_id: ConversationId,
    /// The sender, a user of the submitting node.
    pub sender_id: UserId,
    /// The sending device.
    pub sender_device_id: DeviceId,
    /// The sender's idempotency key.
    pub client_message_id: ClientMessageId,
    /// The kind of content.
    pub message_type: MessageType,
    /// One ciphertext per recipient device.
    pub copies: Vec<SubmittedCopy>,
    /// The content of a message sent in the clear (then `copies` is empty).
    #[serde(default)]
    pub body: Option<String>,
    /// The message it answers.
    pub reply_to: Option<MessageId>,
    /// Participants mentioned.
    pub mentions: Vec<UserId>,
    /// The message it forwards (checked readable by the submitting node).
    pub forwarded_from: Option<MessageId>,
    /// The id the submitting node gave it (so the sender knows the message before the host ordered
    /// it); the host refuses an id another message has.
    #[serde(default)]
    pub message_id: Option<MessageId>,
}

/// One recipient device's ciphertext in a [`Submission`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedCopy {
    /// The device.
    pub device_id: DeviceId,
    /// Opaque to every node.
    pub ciphertext: Base64Bytes,
    /// The ratchet header.
    pub header: Option<Base64Bytes>,
}

impl From<DeviceCiphertext> for SubmittedCopy {
    fn from(copy: DeviceCiphertext) -> Self {
        Self {
            device_id: copy.recipient_device_id,
            ciphertext: copy.ciphertext,
            header: copy.header,
        }
    }
}

impl From<SubmittedCopy> for DeviceCiphertext {
    fn from(copy: SubmittedCopy) -> Self {
        Self {
            recipient_device_id: copy.device_id,
            ciphertext: copy.ciphertext,
            header: copy.header,
        }
    }
}

/// The Ed25519 public key inside a PeerId's bytes (the inverse of [`super::peer_id_bytes`]), so code
/// without libp2p can check an envelope from a peer it knows only by PeerId.
pub fn public_key_of(peer_id: &[u8]) -> Option<[u8; 32]> {
    let (prefix, key) = peer_id.split_at_checked(6)?;
    if prefix != [0x00, 36, 0x08, 0x01, 0x12, 32] {
        return None;
    }
    key.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::peer_id_bytes;

    fn receipt() -> Event {
        Event::Receipt(ReceiptNotice {
            conversation_id: ConversationId::random(),
            message_id: MessageId::random(),
            user_id: UserId::random(),
            read: true,
            at: chrono::Utc::now(),
        })
    }

    #[test]
    fn a_sealed_event_opens_only_with_its_origin_key() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let event = receipt();
        let envelope = Envelope::seal(&event, &key).unwrap();
        let stored = Envelope::from_bytes(&envelope.to_bytes().unwrap()).unwrap();
        assert_eq!(stored.open(&key.verifying_key().to_bytes()).unwrap(), event);

        let other = SigningKey::from_bytes(&[4; 32]);
        assert_eq!(
            stored.open(&other.verifying_key().to_bytes()),
            Err(FederationError::BadSignature)
        );
        let mut tampered = stored.clone();
        tampered.body[3] ^= 1;
        assert!(tampered.open(&key.verifying_key().to_bytes()).is_err());
    }

    #[test]
    fn the_key_of_a_peer_id_is_recovered() {
        let key = [9; 32];
        assert_eq!(public_key_of(&peer_id_bytes(&key)), Some(key));
        assert_eq!(public_key_of(&[1, 2, 3]), None);
        let mut wrong = peer_id_bytes(&key);
        wrong[2] = 0;
        assert_eq!(public_key_of(&wrong), None);
    }
}
