//! Writes to several trees that a crash keeps whole or not at all, without a sled transaction.
//!
//! sled 0.34 makes a transaction (and `apply_batch`) atomic by sealing its log buffer before and after
//! it under a store-wide write lock: two disk writes and every other writer stopped, per message. A
//! write set instead goes to the `journal` tree as one record first, then to its trees one key at a
//! time. sled recovers a prefix of its log, so after a crash any of the set's writes that survived
//! means its journal record did too; opening the store replays every journal record, in order, which
//! completes a set a crash cut short. Once a flush has made a set durable, the flusher removes its
//! record (see `group_commit`), before it tells anyone the flush is done: every later write to the same
//! keys then comes after the removal in the log, so a replay never puts back what was since changed.
//!
//! The caller orders the sets that touch the same keys (the conversation lock does, for messages):
//! their records are replayed in the order they were written. A key that sets write is written only
//! through sets (an edit, a deletion, a reaction, a conversation's removal), or only once every set
//! that wrote it before was committed (a receipt takes a queue entry out after its message reached
//! the device, which was after the commit): a plain write while an earlier set's record is still in
//! the journal would be undone by a replay of that record, after it was acknowledged.

use sled::IVec;

use super::{RETIRED_TREES, Store, TreeId};
use crate::{Error, Result};

/// Writes gathered for one atomic application; reads through it see its own writes first.
pub(crate) struct WriteSet<'s> {
    store: &'s Store,
    writes: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
    /// How many stored messages the set adds (or, below zero, removes): see `counts`.
    messages: i64,
}

impl<'s> WriteSet<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Self {
            store,
            writes: Vec::new(),
            messages: 0,
        }
    }

    pub(crate) fn insert(&mut self, tree: TreeId, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), Some(value.into())));
    }

    pub(crate) fn remove(&mut self, tree: TreeId, key: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), None));
    }

    /// Notes that the set stores `change` more messages (fewer, when negative), for the store's total
    /// (`counts`); the caller knows which of its writes make a new message or remove one.
    pub(crate) fn count_messages(&mut self, change: i64) {
        self.messages += change;
    }

    /// The store the set writes to, for scans (which do not see the set's own writes).
    pub(crate) fn store(&self) -> &'s Store {
        self.store
    }

    /// A unique, increasing number, for keys that must sort by arrival.
    pub(crate) fn next_id(&self) -> Result<u64> {
        self.store.next_id()
    }

    /// The value as this set leaves it: its own latest write of the key, else the tree's.
    pub(crate) fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<IVec>> {
        let pending = self
            .writes
            .iter()
            .rev()
            .find(|(written, written_key, _)| *written == tree && written_key == key);
        match pending {
            Some((_, _, value)) => Ok(value.as_deref().map(IVec::from)),
            None => Ok(self.store.trees.tree(tree).get(key)?),
        }
    }

    /// Journals the set, then writes it; the caller commits before anyone relies on it.
    pub(crate) fn apply(self) -> Result<()> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let mut journal = Vec::new();
        for (tree, key, value) in &self.writes {
            encode_write(&mut journal, tree.name(), key, value.as_deref());
        }
        let id = self.store.next_id()?;
        self.store.trees.journal.insert(id.to_be_bytes(), journal)?;
        let half = self.writes.len() / 2;
        for (done, (tree, key, value)) in self.writes.into_iter().enumerate() {
            if done == half {
                crate::crash::point_after("write-set:half-applied", || {
                    let _ = self.store.flush_blocking();
                });
            }
            let tree = self.store.trees.tree(tree);
            match value {
                Some(value) => tree.insert(key, value)?,
                None => tree.remove(key)?,
            };
        }
        self.store.journaled(id);
        self.store.counts.add_messages(self.messages);
        Ok(())
    }
}

/// A journal record is its writes back to back: the tree's name (length as one byte), the key and
/// the value (lengths as four bytes, big-endian), the value after a byte saying whether there is one.
fn encode_write(out: &mut Vec<u8>, tree: &str, key: &[u8], value: Option<&[u8]>) {
    out.push(tree.len() as u8);
    out.extend_from_slice(tree.as_bytes());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    match value {
        Some(value) => {
            out.push(1);
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value);
        }
        None => out.push(0),
    }
}

/// One write read back from a journal record: the tree's name, the key, the value (none: removed).
type JournaledWrite<'r> = (&'r str, &'r [u8], Option<&'r [u8]>);

/// Reads a journal record back.
fn decode_writes(mut record: &[u8]) -> Result<Vec<JournaledWrite<'_>>> {
    fn take<'r>(record: &mut &'r [u8], len: usize) -> Result<&'r [u8]> {
        if record.len() < len {
            return Err(Error::Corrupt("a journal record ends early".into()));
        }
        let (taken, rest) = record.split_at(len);
        *record = rest;
        Ok(taken)
    }
    fn length(record: &mut &[u8]) -> Result<usize> {
        let bytes: [u8; 4] = take(record, 4)?.try_into().expect("four bytes taken");
        Ok(u32::from_be_bytes(bytes) as usize)
    }
    let mut writes = Vec::new();
    while !record.is_empty() {
        let name_len = usize::from(take(&mut record, 1)?[0]);
        let name = take(&mut record, name_len)?;
        let tree =
            std::str::from_utf8(name).map_err(|_| Error::Corrupt(format!("the journal names a tree {name:?}")))?;
        let key_len = length(&mut record)?;
        let key = take(&mut record, key_len)?;
        let value = match take(&mut record, 1)?[0] {
            0 => None,
            _ => {
                let value_len = length(&mut record)?;
                Some(take(&mut record, value_len)?)
            }
        };
        writes.push((tree, key, value));
    }
    Ok(writes)
}

/// Completes every journaled set, oldest first, and empties the journal; run when the store opens,
/// before anything reads it.
pub(super) fn replay(store: &Store) -> Result<usize> {
    let journal = &store.trees.journal;
    let mut replayed = 0;
    for entry in journal.iter() {
        let (_, record) = entry?;
        for (tree, key, value) in decode_writes(&record)? {
            let tree = journaled_tree(store, tree)?;
            match value {
                Some(value) => tree.insert(key, value)?,
                None => tree.remove(key)?,
            };
        }
        replayed += 1;
    }
    if replayed > 0 {
        store.flush_blocking()?;
        journal.clear()?;
        store.flush_blocking()?;
    }
    Ok(replayed)
}

/// The tree a journal record names: one of the store's, or a retired one an upgrade will read once.
fn journaled_tree(store: &Store, name: &str) -> Result<sled::Tree> {
    if let Some(tree) = TreeId::named(name) {
        return Ok(store.trees.tree(tree).sled().clone());
    }
    match RETIRED_TREES.contains(&name) {
        true => Ok(store.db.open_tree(name)?),
        false => Err(Error::Corrupt(format!("the journal names an unknown tree {name:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let mut record = Vec::new();
        encode_write(&mut record, "convseq_message", b"key", Some(b"value"));
        encode_write(&mut record, "devicequeue_pending", b"gone", None);
        let writes = decode_writes(&record).unwrap();
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[0], ("convseq_message", &b"key"[..], Some(&b"value"[..])));
        assert_eq!(writes[1], ("devicequeue_pending", &b"gone"[..], None));
    }

    #[test]
    fn opening_the_store_completes_a_set_a_crash_cut_short_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
            store.trees.devicequeue_pending.insert(b"stale", &b"x"[..]).unwrap();
            // As a crash leaves a set: journaled, then only its first write made.
            let mut record = Vec::new();
            encode_write(&mut record, "convseq_message", b"m1", Some(b"first"));
            encode_write(&mut record, "convid_activity", b"c1", Some(b"seq 1"));
            encode_write(&mut record, "devicequeue_pending", b"stale", None);
            store.trees.journal.insert(1u64.to_be_bytes(), record).unwrap();
            store.trees.convseq_message.insert(b"m1", &b"first"[..]).unwrap();
            // A later set of the same keys, also cut short: replayed after the first, so it wins.
            let mut later = Vec::new();
            encode_write(&mut later, "convid_activity", b"c1", Some(b"seq 2"));
            store.trees.journal.insert(2u64.to_be_bytes(), later).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        let t = &store.trees;
        assert_eq!(t.convseq_message.get(b"m1").unwrap().as_deref(), Some(&b"first"[..]));
        assert_eq!(t.convid_activity.get(b"c1").unwrap().as_deref(), Some(&b"seq 2"[..]));
        assert_eq!(t.devicequeue_pending.get(b"stale").unwrap(), None);
        assert!(t.journal.is_empty());
    }

    #[test]
    fn a_record_naming_a_retired_tree_is_replayed_into_it_for_its_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
            let mut record = Vec::new();
            encode_write(&mut record, RETIRED_TREES[0], b"k", Some(b"v"));
            store.trees.journal.insert(1u64.to_be_bytes(), record).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        let retired = store.retired_tree(RETIRED_TREES[0]).unwrap().unwrap();
        assert_eq!(retired.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert!(store.trees.journal.is_empty());
    }

    #[tokio::test]
    async fn a_committed_set_leaves_the_journal_and_its_writes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        let mut set = WriteSet::new(&store);
        set.insert(TreeId::convid_activity, &b"c1"[..], &b"seq 1"[..]);
        assert_eq!(
            set.get(TreeId::convid_activity, b"c1").unwrap().as_deref(),
            Some(&b"seq 1"[..])
        );
        set.apply().unwrap();
        assert_eq!(store.trees.journal.len(), 1);
        store.commit().await.unwrap();
        assert!(store.trees.journal.is_empty());
        assert_eq!(
            store.trees.convid_activity.get(b"c1").unwrap().as_deref(),
            Some(&b"seq 1"[..])
        );
    }

    #[test]
    fn a_torn_record_is_refused() {
        let mut record = Vec::new();
        encode_write(&mut record, "convseq_message", b"key", Some(b"value"));
        assert!(decode_writes(&record[..record.len() - 1]).is_err());
        assert!(decode_writes(b"\x03abc").is_err());
    }
}
