//! What a (re)connecting device missed: its undelivered queue, or its copies after given sequence
//! numbers. Messages the member cleared ("delete for me") are never replayed. A replay is bounded in
//! count and bytes; the client resumes again for the rest.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use protocol::ws::MessageEvent;
use protocol::{Base64Bytes, ConversationId};

use super::records::{MessageRecord, QueueEntry};
use super::write::message_at;
use super::{MAX_REPLAY, MAX_REPLAY_BYTES, Messages};
use crate::conversations::records as conversations;
use crate::storage::{decode, keys};
use crate::{Actor, Result};

/// The events of one replay, with the bytes they hold.
#[derive(Default)]
struct Replay {
    events: Vec<MessageEvent>,
    bytes: usize,
}

impl Replay {
    fn full(&self) -> bool {
        self.events.len() >= MAX_REPLAY || self.bytes >= MAX_REPLAY_BYTES
    }

    fn push(&mut self, record: &MessageRecord, ciphertext: Base64Bytes, header: Option<Base64Bytes>) {
        self.bytes += ciphertext.len() + record.body.as_ref().map_or(0, String::len);
        self.events.push(record.to_event(ciphertext, header));
    }
}

impl Messages {
    /// Sequence numbers up to this were cleared by the caller; `None` when no longer a member.
    fn cleared_through(&self, actor: &Actor, conversation: ConversationId) -> Result<Option<u64>> {
        Ok(conversations::participant(&self.store, conversation, actor.user_id)?.map(|me| me.cleared_through))
    }

    /// Everything queued for the caller's device and not yet acknowledged, in arrival order. Entries
    /// whose message is gone (deleted, expired, cleared, or the member left) are dropped on the way.
    pub fn undelivered(&self, actor: &Actor) -> Result<Vec<MessageEvent>> {
        let t = &self.store.trees;
        let mut replay = Replay::default();
        let mut cleared: HashMap<ConversationId, Option<u64>> = HashMap::new();
        for entry in t.devicequeue_pending.scan_prefix(actor.device_id.as_bytes()) {
            if replay.full() {
                break;
            }
            let (key, value) = entry?;
            let queued = QueueEntry::decode(&value)?;
            let conversation = queued.conversation_id;
            let through = match cleared.entry(conversation) {
                Entry::Occupied(known) => *known.get(),
                Entry::Vacant(slot) => *slot.insert(self.cleared_through(actor, conversation)?),
            };
            let visible = through.is_some_and(|through| queued.seq > through);
            let record = if visible {
                message_at(&self.store, conversation, queued.seq)?
            } else {
                None
            };
            let copy = match &record {
                Some(record) if record.id == queued.message_id => self.copy_for(record, actor.device_id)?,
                _ => None,
            };
            match (record, copy) {
                (Some(record), Some((ciphertext, header))) => replay.push(&record, ciphertext, header),
                _ => {
                    t.devicequeue_pending.remove(key)?;
                }
            }
        }
        Ok(replay.events)
    }

    /// The caller's device copies (and messages in the clear) after the given sequence number of each
    /// named conversation, in sequence order. Conversations the caller no longer belongs to are skipped.
    pub fn since(&self, actor: &Actor, since: &BTreeMap<ConversationId, u64>) -> Result<Vec<MessageEvent>> {
        let mut replay = Replay::default();
        for (&conversation, &seq) in since {
            let Some(cleared) = self.cleared_through(actor, conversation)? else {
                continue;
            };
            let from = seq.max(cleared).saturating_add(1);
            let range =
                self.store.trees.convseq_message.range(
                    keys::id_seq(conversation.as_bytes(), from)..=keys::id_seq(conversation.as_bytes(), u64::MAX),
                );
            for entry in range {
                if replay.full() {
                    return Ok(replay.events);
                }
                let record: MessageRecord = decode(&entry?.1)?;
                if let Some((ciphertext, header)) = self.copy_for(&record, actor.device_id)? {
                    replay.push(&record, ciphertext, header);
                }
            }
        }
        Ok(replay.events)
    }
}
