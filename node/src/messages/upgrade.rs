//! Bringing a store written by an older version up to this one's layout, once, when the node opens.
//!
//! Older versions kept `devicemessage_queuepos` (device id ++ message id -> queue position): an index
//! written with every copy and removed with every receipt, only so a receipt could find the queue
//! entry. A message now keeps one queue position for all of this node's devices in its record
//! (`MessageRecord::queue_position`). The upgrade gives each message still queued somewhere the
//! position of its first entry, moves its other devices' entries there, and drops the index. Each step
//! can run again after a crash: a record that has its position keeps it, and an entry already moved is
//! not found where it was.

use protocol::{DeviceId, MessageId};

use super::write::message_by_id;
use crate::storage::{Store, encode, keys};
use crate::{Error, Result};

const RETIRED_INDEX: &str = "devicemessage_queuepos";

/// Moves the queue positions of a store from an older version into its message records.
pub(crate) fn retire_queue_index(store: &Store) -> Result<()> {
    let Some(index) = store.retired_tree(RETIRED_INDEX)? else {
        return Ok(());
    };
    let mut moved = 0u64;
    for entry in index.iter() {
        let (key, position) = entry?;
        let corrupt = || Error::Corrupt("queue position index".into());
        let device = keys::id_at(&key, 0).map(DeviceId::from_bytes).ok_or_else(corrupt)?;
        let message = keys::id_at(&key, 16).map(MessageId::from_bytes).ok_or_else(corrupt)?;
        let position = keys::trailing_u64(&position).ok_or_else(corrupt)?;
        let mut record = match message_by_id(store, message) {
            Ok(record) => record,
            // Gone since: replaying the queue drops an entry whose message is.
            Err(Error::NotFound(_)) => continue,
            Err(err) => return Err(err),
        };
        let kept = match record.queue_position {
            Some(kept) => kept,
            None => {
                record.queue_position = Some(position);
                store.trees.convseq_message.insert(
                    keys::id_seq(record.conversation_id.as_bytes(), record.seq),
                    encode(&record),
                )?;
                position
            }
        };
        let queue = &store.trees.devicequeue_pending;
        if kept != position
            && let Some(queued) = queue.get(keys::queue_entry(device, position))?
        {
            queue.insert(keys::queue_entry(device, kept), queued)?;
            queue.remove(keys::queue_entry(device, position))?;
        }
        moved += 1;
    }
    store.flush_blocking()?;
    store.drop_retired_tree(RETIRED_INDEX)?;
    store.flush_blocking()?;
    tracing::info!(moved, "moved queue positions into message records");
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use protocol::{ClientMessageId, ConversationId, MessageType, UserId};

    use super::*;
    use crate::messages::records::{MessageRecord, QueueEntry};
    use crate::messages::write::dequeue;
    use crate::storage::decode;

    /// A message queued for two devices as an older version wrote it: an entry in each queue at its
    /// own position, and the index that found them.
    fn write_old_layout(store: &Store, devices: [DeviceId; 2], positions: [u64; 2]) -> MessageRecord {
        let conversation = ConversationId::random();
        let record = MessageRecord {
            id: MessageId::time_ordered(),
            conversation_id: conversation,
            sender_id: UserId::random(),
            sender_device_id: DeviceId::random(),
            client_message_id: ClientMessageId::random(),
            seq: 1,
            message_type: MessageType::Text,
            created_at: Utc::now(),
            updated_at: None,
            edited: false,
            deleted: false,
            recipients: devices.iter().map(|device| (UserId::random(), *device)).collect(),
            reply_to: None,
            mentions: Vec::new(),
            forwarded_from: None,
            in_clear: false,
            body: None,
            queue_position: None,
        };
        let t = &store.trees;
        let location = keys::id_seq(conversation.as_bytes(), 1);
        t.convseq_message.insert(&location, encode(&record)).unwrap();
        t.messageid_convseq.insert(record.id.as_bytes(), location).unwrap();
        let index = store.sled_db().open_tree(RETIRED_INDEX).unwrap();
        let entry = QueueEntry {
            conversation_id: conversation,
            seq: 1,
            message_id: record.id,
        };
        for (device, position) in devices.into_iter().zip(positions) {
            t.devicequeue_pending
                .insert(keys::queue_entry(device, position), entry.encode())
                .unwrap();
            index
                .insert(
                    keys::join(&[device.as_bytes(), record.id.as_bytes()]),
                    &position.to_be_bytes(),
                )
                .unwrap();
        }
        record
    }

    #[test]
    fn queue_positions_move_into_the_record_and_the_index_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        // The index is read in device order: the first device's position is the one kept.
        let devices = [DeviceId::from_bytes([1; 16]), DeviceId::from_bytes([2; 16])];
        let old = write_old_layout(&store, devices, [5, 9]);
        retire_queue_index(&store).unwrap();
        assert!(store.retired_tree(RETIRED_INDEX).unwrap().is_none());
        let record = message_by_id(&store, old.id).unwrap();
        assert_eq!(record.queue_position, Some(5));
        let queue = &store.trees.devicequeue_pending;
        let moved = queue.get(keys::queue_entry(devices[1], 5)).unwrap().unwrap();
        assert_eq!(QueueEntry::decode(&moved).unwrap().message_id, old.id);
        assert!(queue.get(keys::queue_entry(devices[1], 9)).unwrap().is_none());
        for device in devices {
            assert!(dequeue(&store, device, &record).unwrap());
        }
        assert!(queue.is_empty());
        // Opening again finds nothing left to do.
        retire_queue_index(&store).unwrap();
        let again: MessageRecord = decode(
            &store
                .trees
                .convseq_message
                .get(keys::id_seq(old.conversation_id.as_bytes(), 1))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(again.queue_position, Some(5));
    }
}
