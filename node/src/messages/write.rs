//! Writing messages. One transaction stores a message with its indexes, the copies of this node's
//! devices and their queue entries (and, at the host, the events for other nodes' devices), whether
//! the message was sent here or relayed by its host; the reads and removals every job shares live here
//! too, so the layout of the message trees is known in one file.

use protocol::api::Timestamp;
use protocol::federation::Envelope;
use protocol::{Base64Bytes, ConversationId, DeviceId, MessageId};

use super::records::{MessageRecord, QueueEntry, encode_copy};
use crate::conversations::records::Activity;
use crate::federation::Destination;
use crate::outbox::Outbox;
use crate::storage::{Store, TreeId, WriteSet, decode, encode, keys};
use crate::{Error, Result};

/// Where a new message's sequence number comes from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Sequence {
    /// The next of its conversation: this node hosts it and orders its messages.
    Next,
    /// The host's number, for a message relayed by the host.
    Given(u64),
}

/// One local device's copy of a message; without a ciphertext (a message in the clear) the device is
/// only queued.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeviceCopy<'a> {
    pub(super) device: DeviceId,
    pub(super) ciphertext: Option<&'a Base64Bytes>,
    pub(super) header: Option<&'a Base64Bytes>,
}

/// A message to write, and what comes with it.
pub(super) struct NewMessage<'a> {
    /// The message; its `seq` is replaced by the one [`Sequence`] yields.
    pub(super) record: &'a MessageRecord,
    pub(super) sequence: Sequence,
    /// The copies of this node's devices (each queued for its device).
    pub(super) copies: Vec<DeviceCopy<'a>>,
    /// The host's signed envelope, kept with a relayed message so its origin can be checked later.
    pub(super) origin: Option<Vec<u8>>,
}

/// Writes a message as one write set (all of it survives a crash, or none) and returns its sequence
/// number. `relay` names, once the sequence number is known, the events other nodes must receive (at
/// the host; none elsewhere); they are queued in the outbox in the same set, so a crash never stores
/// a message without them. The caller holds the conversation's lock, and commits (flushes) before
/// anyone is told.
pub(super) fn write_message(
    store: &Store,
    outbox: &Outbox,
    message: &NewMessage<'_>,
    relay: impl Fn(&MessageRecord) -> Result<Vec<(Destination, Envelope)>>,
) -> Result<u64> {
    let mut set = WriteSet::new(store);
    let seq = write(&mut set, message)?.ok_or(Error::NotFound("conversation"))?;
    let mut record = message.record.clone();
    record.seq = seq;
    for (to, envelope) in relay(&record)? {
        outbox.push_into(&mut set, &to, envelope)?;
    }
    set.apply()?;
    Ok(seq)
}

/// Writes messages relayed by their hosts, in order, as one write set. Says of each message whether
/// it was written (not when its conversation is gone). Relayed batches are not under conversation
/// locks, so they are written one at a time.
pub(super) fn write_relayed(store: &Store, messages: &[NewMessage<'_>]) -> Result<Vec<bool>> {
    let _one_at_a_time = store.replica_writes();
    let mut set = WriteSet::new(store);
    let written = messages
        .iter()
        .map(|message| Ok(write(&mut set, message)?.is_some()))
        .collect::<Result<Vec<bool>>>()?;
    set.apply()?;
    Ok(written)
}

/// Adds a message with its indexes and this node's copies, queued for their devices, to a write set;
/// returns its sequence number, or `None` when a relayed message's conversation no longer exists.
fn write(set: &mut WriteSet<'_>, message: &NewMessage<'_>) -> Result<Option<u64>> {
    let conversation = message.record.conversation_id;
    // A relayed message may arrive after its conversation was deleted here. A new one is written under
    // the conversation's lock, which a deletion also takes, after the sender's membership was read.
    if let Sequence::Given(_) = message.sequence
        && set.get(TreeId::convid_conversation, conversation.as_bytes())?.is_none()
    {
        return Ok(None);
    }
    let mut activity: Activity = match set.get(TreeId::convid_activity, conversation.as_bytes())? {
        Some(bytes) => decode(&bytes)?,
        None => Activity::default(),
    };
    let seq = match message.sequence {
        Sequence::Next => activity.last_seq + 1,
        Sequence::Given(seq) => seq,
    };
    let mut record = message.record.clone();
    record.seq = seq;
    activity.last_seq = activity.last_seq.max(seq);
    activity.last_message_at = Some(
        activity
            .last_message_at
            .map_or(record.created_at, |at| at.max(record.created_at)),
    );
    let location = keys::id_seq(conversation.as_bytes(), seq);
    let earlier: Option<MessageRecord> = match message.sequence {
        Sequence::Next => None,
        // The host's message may have come before (a relay repeated after a crash).
        Sequence::Given(_) => set
            .get(TreeId::convseq_message, &location)?
            .map(|bytes| decode(&bytes))
            .transpose()?,
    };
    if earlier.is_none() {
        activity.stored = Some(activity.stored.unwrap_or_default() + 1);
        set.count_messages(1);
    }
    // A repeated relay queues its copies where the first did, so no entry is left behind.
    record.queue_position = match earlier.and_then(|earlier| earlier.queue_position) {
        Some(position) => Some(position),
        None if message.copies.is_empty() => None,
        None => Some(set.next_id()?),
    };
    let dedup = keys::idempotency(conversation, record.sender_id, &record.client_message_id);
    set.insert(TreeId::convid_activity, conversation.as_bytes(), encode(&activity));
    set.insert(TreeId::convseq_message, location.clone(), encode(&record));
    set.insert(TreeId::messageid_convseq, record.id.as_bytes(), location);
    set.insert(TreeId::convsenderclient_messageid, dedup, record.id.as_bytes());
    if let Some(origin) = &message.origin {
        set.insert(TreeId::messageid_envelope, record.id.as_bytes(), origin.as_slice());
    }
    let entry = QueueEntry {
        conversation_id: conversation,
        seq,
        message_id: record.id,
    }
    .encode();
    for copy in &message.copies {
        if let Some(ciphertext) = copy.ciphertext {
            set.insert(
                TreeId::deviceconvseq_ciphertext,
                keys::copy(copy.device, conversation, seq),
                encode_copy(ciphertext, copy.header),
            );
        }
        if let Some(position) = record.queue_position {
            set.insert(
                TreeId::devicequeue_pending,
                keys::queue_entry(copy.device, position),
                entry.clone(),
            );
        }
    }
    Ok(Some(seq))
}

pub(super) fn message_at(store: &Store, conversation: ConversationId, seq: u64) -> Result<Option<MessageRecord>> {
    store
        .trees
        .convseq_message
        .get(keys::id_seq(conversation.as_bytes(), seq))?
        .map(|b| decode(&b))
        .transpose()
}

/// The message a sender already sent with this idempotency key (`keys::idempotency`), if any.
pub(super) fn sent_with(store: &Store, dedup: &[u8]) -> Result<Option<MessageId>> {
    store
        .trees
        .convsenderclient_messageid
        .get(dedup)?
        .map(|id| MessageId::from_slice(&id).ok_or_else(|| Error::Corrupt("idempotency index".into())))
        .transpose()
}

pub(super) fn message_by_id(store: &Store, id: MessageId) -> Result<MessageRecord> {
    let location = store
        .trees
        .messageid_convseq
        .get(id.as_bytes())?
        .ok_or(Error::NotFound("message"))?;
    let conversation = keys::id_at(&location, 0).map(ConversationId::from_bytes);
    let seq = keys::trailing_u64(&location);
    match (conversation, seq) {
        (Some(conversation), Some(seq)) => message_at(store, conversation, seq)?.ok_or(Error::NotFound("message")),
        _ => Err(Error::Corrupt("message index".into())),
    }
}

/// Removes a device's queue entry of a message, if present; whether it was.
pub(super) fn dequeue(store: &Store, device: DeviceId, record: &MessageRecord) -> Result<bool> {
    let Some(position) = record.queue_position else {
        return Ok(false);
    };
    Ok(store
        .trees
        .devicequeue_pending
        .remove(keys::queue_entry(device, position))?
        .is_some())
}

/// Adds a message's record, as changed, to a write set.
pub(super) fn put_record(set: &mut WriteSet<'_>, record: &MessageRecord) {
    set.insert(
        TreeId::convseq_message,
        keys::id_seq(record.conversation_id.as_bytes(), record.seq),
        encode(record),
    );
}

/// Adds the deletion of a message for everyone to a write set: its copies and queue entries go and
/// its record stays, without content, keeping its slot. The caller holds the conversation's lock.
pub(super) fn soft_delete(set: &mut WriteSet<'_>, record: &mut MessageRecord, at: Timestamp) {
    remove_copies(set, record);
    record.deleted = true;
    record.body = None;
    record.updated_at = Some(at);
    put_record(set, record);
}

/// Adds the removal of a message's copies and their queue entries to a write set (a deletion keeps
/// the record; an erasure removes the rest with them).
fn remove_copies(set: &mut WriteSet<'_>, record: &MessageRecord) {
    for (_, device) in &record.recipients {
        set.remove(
            TreeId::deviceconvseq_ciphertext,
            keys::copy(*device, record.conversation_id, record.seq),
        );
        if let Some(position) = record.queue_position {
            set.remove(TreeId::devicequeue_pending, keys::queue_entry(*device, position));
        }
    }
}

/// Erases a departing device's copies of messages and its undelivered queue: nobody can read them
/// once the device's keys are gone.
pub(crate) fn forget_device(store: &Store, device: DeviceId) -> Result<()> {
    let t = &store.trees;
    for tree in [&t.deviceconvseq_ciphertext, &t.devicequeue_pending] {
        for entry in tree.scan_prefix(device.as_bytes()) {
            tree.remove(entry?.0)?;
        }
    }
    Ok(())
}

/// Deletes every message of a conversation that no longer exists, each as one write set.
pub(crate) fn purge_conversation(store: &Store, conversation: ConversationId) -> Result<()> {
    for entry in store.trees.convseq_message.scan_prefix(conversation.as_bytes()) {
        let record: MessageRecord = decode(&entry?.1)?;
        let mut set = WriteSet::new(store);
        erase(&mut set, &record)?;
        set.apply()?;
    }
    Ok(())
}

/// Adds the removal of a message and every trace of it (its copies and queue entries, receipts,
/// reactions, indexes) to a write set, with its conversation's count, so the store's message total
/// stays exact through a crash; the caller holds the conversation's lock.
pub(super) fn erase(set: &mut WriteSet<'_>, record: &MessageRecord) -> Result<()> {
    let location = keys::id_seq(record.conversation_id.as_bytes(), record.seq);
    if set.get(TreeId::convseq_message, &location)?.is_none() {
        return Ok(());
    }
    remove_copies(set, record);
    let store = set.store();
    for tree in [TreeId::messageuser_receipt, TreeId::messageuseremoji_reaction] {
        for entry in store.trees.tree(tree).scan_prefix(record.id.as_bytes()) {
            set.remove(tree, entry?.0.to_vec());
        }
    }
    set.remove(TreeId::messageid_convseq, record.id.as_bytes());
    set.remove(
        TreeId::convsenderclient_messageid,
        keys::idempotency(record.conversation_id, record.sender_id, &record.client_message_id),
    );
    set.remove(TreeId::convseq_message, location);
    // A deleted conversation's activity went first, and its messages with it from the total.
    if let Some(bytes) = set.get(TreeId::convid_activity, record.conversation_id.as_bytes())? {
        let mut activity: Activity = decode(&bytes)?;
        activity.stored = activity.stored.map(|stored| stored.saturating_sub(1));
        set.insert(
            TreeId::convid_activity,
            record.conversation_id.as_bytes(),
            encode(&activity),
        );
        set.count_messages(-1);
    }
    Ok(())
}
