//! The node's count of stored messages (`parley_messages_stored`, the operator's statistics): kept as
//! messages are written and erased, and summed from each conversation's own count (in its activity
//! record, written in the same write set as the message) when the node opens.

use crate::Result;
use crate::conversations::records::Activity;
use crate::storage::{Store, decode, encode};

/// Sums the conversations' counts into the store's total. A conversation from before the counts were
/// kept is counted once, and its count kept; this runs before the node serves anything.
pub(crate) fn load(store: &Store) -> Result<()> {
    let t = &store.trees;
    let (mut total, mut counted) = (0, 0);
    for entry in t.convid_activity.iter() {
        let (conversation, value) = entry?;
        let mut activity: Activity = decode(&value)?;
        let stored = match activity.stored {
            Some(stored) => stored,
            None => {
                let stored = t.convseq_message.scan_prefix(&conversation).count() as u64;
                activity.stored = Some(stored);
                t.convid_activity.insert(&conversation, encode(&activity))?;
                counted += 1;
                stored
            }
        };
        total += stored;
    }
    if counted > 0 {
        store.flush_blocking()?;
        tracing::info!(
            conversations = counted,
            "counted the stored messages of conversations once"
        );
    }
    store.counts.set_messages(total);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{TreeId, WriteSet, keys};

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, crate::DEFAULT_STORE_CACHE_BYTES).unwrap()
    }

    fn activity(stored: Option<u64>) -> Vec<u8> {
        encode(&Activity {
            stored,
            ..Activity::default()
        })
    }

    #[test]
    fn the_total_is_summed_and_a_conversation_without_a_count_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let (counted, uncounted) = ([1; 16], [2; 16]);
        {
            let store = open(dir.path());
            let t = &store.trees;
            t.convid_activity.insert(counted, activity(Some(2))).unwrap();
            t.convid_activity.insert(uncounted, activity(None)).unwrap();
            for seq in 1..=3 {
                t.convseq_message
                    .insert(keys::id_seq(&uncounted, seq), &b"m"[..])
                    .unwrap();
            }
            store.flush_blocking().unwrap();
        }
        let store = open(dir.path());
        load(&store).unwrap();
        assert_eq!(store.counts.messages(), 5);
        let kept: Activity = decode(&store.trees.convid_activity.get(uncounted).unwrap().unwrap()).unwrap();
        assert_eq!(kept.stored, Some(3));
    }

    #[test]
    fn a_message_a_crash_cut_short_is_counted_once_its_set_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let conversation = [1; 16];
        {
            let store = open(dir.path());
            let mut set = WriteSet::new(&store);
            set.insert(TreeId::convseq_message, keys::id_seq(&conversation, 1), &b"m"[..]);
            set.insert(TreeId::convid_activity, &conversation[..], activity(Some(1)));
            set.count_messages(1);
            set.apply().unwrap();
            assert_eq!(store.counts.messages(), 1);
            // As a crash leaves it: the set's journal record kept, its writes lost.
            store
                .trees
                .convseq_message
                .remove(keys::id_seq(&conversation, 1))
                .unwrap();
            store.trees.convid_activity.remove(conversation).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = open(dir.path());
        load(&store).unwrap();
        assert_eq!(store.counts.messages(), 1);
    }
}
