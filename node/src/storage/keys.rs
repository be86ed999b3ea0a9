//! Key layouts. Composite keys concatenate fixed-width parts so a prefix of the parts is a prefix scan.
//! The generic builders come first, then the key of every tree whose layout is more than one id.

use protocol::api::Timestamp;
use protocol::federation::NodeName;
use protocol::{BroadcastId, CallId, ClientMessageId, ConversationId, DeviceId, FileId, MessageId, UploadId, UserId};

/// Concatenates key parts.
pub(crate) fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// A 16-byte id followed by a big-endian sequence number.
pub(crate) fn id_seq(id: &[u8; 16], seq: u64) -> Vec<u8> {
    join(&[id, &seq.to_be_bytes()])
}

/// Two 16-byte ids followed by a big-endian sequence number.
pub(crate) fn id_id_seq(a: &[u8; 16], b: &[u8; 16], seq: u64) -> Vec<u8> {
    join(&[a, b, &seq.to_be_bytes()])
}

/// A 16-byte id followed by a big-endian 32-bit key id.
pub(crate) fn id_u32(id: &[u8; 16], n: u32) -> Vec<u8> {
    join(&[id, &n.to_be_bytes()])
}

/// Reads the big-endian u64 at the end of a key.
pub(crate) fn trailing_u64(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    key[start..].try_into().ok().map(u64::from_be_bytes)
}

/// Reads the big-endian u32 at the end of a key.
pub(crate) fn trailing_u32(key: &[u8]) -> Option<u32> {
    let start = key.len().checked_sub(4)?;
    key[start..].try_into().ok().map(u32::from_be_bytes)
}

/// Reads the 16-byte id at `offset`.
pub(crate) fn id_at(key: &[u8], offset: usize) -> Option<[u8; 16]> {
    key.get(offset..offset + 16)?.try_into().ok()
}

/// `convsenderclient_messageid`: a sender's `client_message_id` in a conversation, for idempotent sends.
pub(crate) fn idempotency(conversation: ConversationId, sender: UserId, client_id: &ClientMessageId) -> Vec<u8> {
    join(&[
        conversation.as_bytes(),
        sender.as_bytes(),
        client_id.as_str().as_bytes(),
    ])
}

/// `deviceconvseq_ciphertext`: a device's copy of a conversation's message.
pub(crate) fn copy(device: DeviceId, conversation: ConversationId, seq: u64) -> Vec<u8> {
    id_id_seq(device.as_bytes(), conversation.as_bytes(), seq)
}

/// `devicequeue_pending`: a device's undelivered queue, in arrival order.
pub(crate) fn queue_entry(device: DeviceId, position: u64) -> Vec<u8> {
    join(&[device.as_bytes(), &position.to_be_bytes()])
}

/// `messageuser_receipt`: a user's receipt of a message.
pub(crate) fn receipt(message: MessageId, user: UserId) -> Vec<u8> {
    join(&[message.as_bytes(), user.as_bytes()])
}

/// `displayname_userid`: a lower-cased display name, a 0 separator, the user id (names repeat).
pub(crate) fn display_name(display_name: &str, user: UserId) -> Vec<u8> {
    join(&[display_name.to_lowercase().as_bytes(), &[0], user.as_bytes()])
}

/// `userid_contactid` and `userid_blockedid`: a user's entry about another.
pub(crate) fn user_pair(owner: UserId, other: UserId) -> Vec<u8> {
    join(&[owner.as_bytes(), other.as_bytes()])
}

/// `convuser_participant`: a conversation's member.
pub(crate) fn member(conversation: ConversationId, user: UserId) -> Vec<u8> {
    join(&[conversation.as_bytes(), user.as_bytes()])
}

/// `userconv_membership`: a user's conversations.
pub(crate) fn membership(user: UserId, conversation: ConversationId) -> Vec<u8> {
    join(&[user.as_bytes(), conversation.as_bytes()])
}

/// `dmpair_convid`: the DM of two users, whichever of them asks.
pub(crate) fn dm_pair(a: UserId, b: UserId) -> Vec<u8> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    join(&[low.as_bytes(), high.as_bytes()])
}

/// `messageuseremoji_reaction`: one user's reaction with one emoji.
pub(crate) fn reaction(message: MessageId, user: UserId, emoji: &str) -> Vec<u8> {
    join(&[message.as_bytes(), user.as_bytes(), emoji.as_bytes()])
}

/// `broadcastuser_recipient`: a broadcast list's recipient.
pub(crate) fn broadcast_recipient(list: BroadcastId, user: UserId) -> Vec<u8> {
    join(&[list.as_bytes(), user.as_bytes()])
}

/// The calls of a user or conversation in time order: the owner's id, milliseconds, the call id.
pub(crate) fn call_time(owner: &[u8; 16], at: Timestamp, call: CallId) -> Vec<u8> {
    join(&[owner, &millis(at), call.as_bytes()])
}

/// `usertimeupload_upload`: a user's uploads in the order they were created.
pub(crate) fn upload_listing(user: UserId, created_at: Timestamp, id: UploadId) -> Vec<u8> {
    join(&[user.as_bytes(), &millis(created_at), id.as_bytes()])
}

/// `fileconv_share`: a conversation a file was shared in.
pub(crate) fn file_share(file: FileId, conversation: ConversationId) -> Vec<u8> {
    join(&[file.as_bytes(), conversation.as_bytes()])
}

/// The part of an outbox key that names its destination. Names are at most 63 bytes, so the length
/// fits a byte and no name's prefix is another's.
pub(crate) fn outbox_prefix(node: &NodeName) -> Vec<u8> {
    let name = node.as_str().as_bytes();
    let mut key = Vec::with_capacity(1 + name.len() + 8);
    key.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
    key.extend_from_slice(name);
    key
}

/// The destination an outbox key names.
pub(crate) fn outbox_destination(key: &[u8]) -> Option<&str> {
    let (&len, rest) = key.split_first()?;
    std::str::from_utf8(rest.get(..usize::from(len))?).ok()
}

/// `nodepos_outbox`: an event queued for a node, in the order it was queued.
pub(crate) fn outbox_entry(node: &NodeName, position: u64) -> Vec<u8> {
    let mut key = outbox_prefix(node);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// The destination an outbox key names.
pub(crate) fn outbox_node(key: &[u8]) -> Option<NodeName> {
    let len = usize::from(*key.first()?);
    let name = std::str::from_utf8(key.get(1..1 + len)?).ok()?;
    NodeName::new(name).ok()
}

/// A time as big-endian milliseconds since 1970 (times before it sort first).
fn millis(at: Timestamp) -> [u8; 8] {
    u64::try_from(at.timestamp_millis()).unwrap_or_default().to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_keys_sort_numerically() {
        let id = [7u8; 16];
        assert!(id_seq(&id, 2) < id_seq(&id, 10));
        assert!(id_seq(&id, 255) < id_seq(&id, 256));
        assert_eq!(trailing_u64(&id_seq(&id, 42)), Some(42));
        assert_eq!(trailing_u32(&id_u32(&id, 9)), Some(9));
        assert_eq!(id_at(&id_seq(&id, 1), 0), Some(id));
    }

    #[test]
    fn keys_name_their_destination_and_sort_by_position() {
        let node = NodeName::new("node-b").unwrap();
        let key = outbox_entry(&node, 7);
        assert_eq!(outbox_node(&key), Some(node.clone()));
        assert!(outbox_entry(&node, 7) < outbox_entry(&node, 8));
        assert!(outbox_entry(&node, 300) < outbox_entry(&node, 70_000));
        let longer = NodeName::new("node-bb").unwrap();
        assert!(!outbox_entry(&longer, 1).starts_with(&outbox_prefix(&node)));
    }
}
