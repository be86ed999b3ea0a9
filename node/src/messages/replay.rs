//! What a (re)connecting device missed: its undelivered queue, or its copies after given sequence
//! numbers. Messages the member cleared ("delete for me") are never replayed.

use std::collections::{BTreeMap, HashMap};

use protocol::ConversationId;
use protocol::ws::MessageEvent;

use super::records::{QueueEntry, decode_copy};
use super::{MAX_REPLAY, Messages, copy_key, event, message_at, queue_index_key};
use crate::storage::keys;
use crate::{Actor, Result, conversations};

impl Messages {
    /// Sequence numbers up to this were cleared by the caller; `None` when no longer a member.
    fn cleared_through(&self, actor: &Actor, conversation: ConversationId) -> Result<Option<u64>> {
        Ok(conversations::participant(&self.store, conversation, actor.user_id)?.map(|me| me.cleared_through))
    }

    /// Everything queued for the caller's device and not yet acknowledged, in arrival order.
    pub fn undelivered(&self, actor: &Actor) -> Result<Vec<MessageEvent>> {
        let t = &self.store.trees;
        let mut events = Vec::new();
        let mut cleared: HashMap<ConversationId, Option<u64>> = HashMap::new();
        for entry in t.devicequeue_pending.scan_prefix(actor.device_id.as_bytes()) {
            if events.len() >= MAX_REPLAY {
                break;
            }
            let (key, value) = entry?;
            let queued = QueueEntry::decode(&value)?;
            let conversation = queued.conversation_id;
            let cleared = match cleared.get(&conversation) {
                Some(cleared) => *cleared,
                None => *cleared
                    .entry(conversation)
                    .or_insert(self.cleared_through(actor, conversation)?),
            };
            let visible = cleared.is_some_and(|through| queued.seq > through);
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
                (Some(record), Some((ciphertext, header))) => events.push(event(&record, ciphertext, header)),
                _ => {
                    t.devicequeue_pending.remove(key)?;
                    t.devicemessage_queuepos
                        .remove(queue_index_key(actor.device_id, queued.message_id))?;
                }
            }
        }
        Ok(events)
    }

    /// The caller's device copies after the given sequence number of each named conversation, in
    /// sequence order. Conversations the caller no longer belongs to are skipped.
    pub fn since(&self, actor: &Actor, since: &BTreeMap<ConversationId, u64>) -> Result<Vec<MessageEvent>> {
        let mut events = Vec::new();
        for (&conversation, &seq) in since {
            let Some(cleared) = self.cleared_through(actor, conversation)? else {
                continue;
            };
            let seq = seq.max(cleared);
            let device = actor.device_id;
            let range = self.store.trees.deviceconvseq_ciphertext.range(
                copy_key(device, conversation, seq.saturating_add(1))..=copy_key(device, conversation, u64::MAX),
            );
            for entry in range {
                if events.len() >= MAX_REPLAY {
                    return Ok(events);
                }
                let (key, value) = entry?;
                let Some(seq) = keys::trailing_u64(&key) else {
                    continue;
                };
                let Some(record) = message_at(&self.store, conversation, seq)? else {
                    continue;
                };
                let (ciphertext, header) = decode_copy(&value)?;
                events.push(event(&record, ciphertext, header));
            }
        }
        Ok(events)
    }
}
