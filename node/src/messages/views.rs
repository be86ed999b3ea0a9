//! What a stored message looks like to its readers: the API view with the caller's copy and the
//! reactions, and the relayed form each other node receives with the copies of its devices only. The
//! field mappings themselves are `MessageRecord`'s (`records.rs`).

use protocol::api::{DeviceCiphertext, Message};
use protocol::federation::{Event, RelayedCopy};
use protocol::{Base64Bytes, DeviceId, UserId};

use super::Messages;
use super::records::{MessageRecord, decode_copy};
use crate::Result;
use crate::storage::keys;

impl Messages {
    /// What `device` has of a message: its copy, or for a message in the clear an empty stand-in for
    /// every device but the sender's (the record's body is the content, which `MessageRecord::to_event`
    /// and `to_message` show), so queues and replays treat both kinds alike.
    pub(super) fn copy_for(
        &self,
        record: &MessageRecord,
        device: DeviceId,
    ) -> Result<Option<(Base64Bytes, Option<Base64Bytes>)>> {
        if record.in_clear {
            let readable = record.body.is_some() && device != record.sender_device_id;
            return Ok(readable.then(|| (Base64Bytes(Vec::new()), None)));
        }
        self.store
            .trees
            .deviceconvseq_ciphertext
            .get(keys::copy(device, record.conversation_id, record.seq))?
            .map(|bytes| decode_copy(&bytes))
            .transpose()
    }

    pub(super) fn view(&self, record: &MessageRecord, device: DeviceId) -> Result<Message> {
        let copy = self.copy_for(record, device)?;
        self.view_with(record, device, copy)
    }

    pub(super) fn view_with(
        &self,
        record: &MessageRecord,
        device: DeviceId,
        copy: Option<(Base64Bytes, Option<Base64Bytes>)>,
    ) -> Result<Message> {
        Ok(record.to_message(device, copy, self.reactions_of(record.id)?))
    }
}

/// The relayed form of a stored message for one home node: the copies of its users' devices.
pub(super) fn relayed_message(record: &MessageRecord, copies: &[DeviceCiphertext], users: &[UserId]) -> Event {
    Event::Message(record.to_relayed(relayed_copies(record, copies, users)))
}

/// The copies of a message for the devices of `users` (the users of one node).
pub(super) fn relayed_copies(
    record: &MessageRecord,
    copies: &[DeviceCiphertext],
    users: &[UserId],
) -> Vec<RelayedCopy> {
    copies
        .iter()
        .zip(&record.recipients)
        .filter(|(_, (user, _))| users.contains(user))
        .map(|(copy, (user, device))| RelayedCopy {
            user_id: *user,
            device_id: *device,
            ciphertext: copy.ciphertext.clone(),
            header: copy.header.clone(),
        })
        .collect()
}
