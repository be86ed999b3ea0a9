//! Frames of stored messages that wait for the flush making their message durable. A conversation's
//! messages are written in sequence order (under its lock at the host, in the host's order at a
//! replica), so a flush that covers one sequence number covers every lower one: releasing "through
//! `seq`" sends every waiting frame up to it, in order, and never a frame before its message is on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use protocol::ws::ServerFrame;
use protocol::{ConversationId, DeviceId, UserId};

/// One device's frame.
pub(crate) type DeviceFrame = (UserId, DeviceId, ServerFrame);

/// Waiting frames per conversation and sequence number.
#[derive(Default)]
pub(super) struct Parked {
    /// A std mutex: parking and releasing are a few map operations and never await.
    waiting: Mutex<HashMap<ConversationId, BTreeMap<u64, Vec<DeviceFrame>>>>,
}

impl Parked {
    pub(super) fn park(&self, conversation: ConversationId, seq: u64, frames: Vec<DeviceFrame>) {
        self.lock().entry(conversation).or_default().insert(seq, frames);
    }

    /// Takes every waiting frame of a conversation up to `seq`, in sequence order.
    pub(super) fn take_through(&self, conversation: ConversationId, seq: u64) -> Vec<DeviceFrame> {
        let mut waiting = self.lock();
        let Some(conversation_frames) = waiting.get_mut(&conversation) else {
            return Vec::new();
        };
        let later = conversation_frames.split_off(&(seq + 1));
        let ready = std::mem::replace(conversation_frames, later);
        if conversation_frames.is_empty() {
            waiting.remove(&conversation);
        }
        ready.into_values().flatten().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, BTreeMap<u64, Vec<DeviceFrame>>>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_leave_in_sequence_order_and_only_through_the_released_number() {
        let parked = Parked::default();
        let conversation = ConversationId::random();
        let frame = |seq: u64| (UserId::random(), DeviceId::random(), ServerFrame::Pong, seq);
        let (a, b, c) = (frame(1), frame(2), frame(3));
        for (user, device, frame, seq) in [c.clone(), a.clone(), b.clone()] {
            parked.park(conversation, seq, vec![(user, device, frame)]);
        }
        let released: Vec<UserId> = parked.take_through(conversation, 2).into_iter().map(|f| f.0).collect();
        assert_eq!(released, vec![a.0, b.0]);
        assert_eq!(parked.take_through(conversation, 3).len(), 1);
        assert!(parked.take_through(conversation, 9).is_empty());
    }
}
