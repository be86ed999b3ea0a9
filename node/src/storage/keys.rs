//! Key layouts. Composite keys concatenate fixed-width parts so a prefix of the parts is a prefix scan.
//! The generic builders come first, then the key of every tree whose layout is more than one id.

use protocol::{ClientMessageId, ConversationId, DeviceId, MessageId, UserId};

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
pub(crate) fn queue_entry(device: DeviceId, position: &[u8; 8]) -> Vec<u8> {
    join(&[device.as_bytes(), position])
}

/// `devicemessage_queuepos`: where a message sits in a device's queue.
pub(crate) fn queue_index(device: DeviceId, message: MessageId) -> Vec<u8> {
    join(&[device.as_bytes(), message.as_bytes()])
}

/// `messageuser_receipt`: a user's receipt of a message.
pub(crate) fn receipt(message: MessageId, user: UserId) -> Vec<u8> {
    join(&[message.as_bytes(), user.as_bytes()])
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
}
