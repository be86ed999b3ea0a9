//! Totals that a scrape or a statistic wants at once, where counting a tree would read all of it (at
//! ten million messages, `Tree::len` on the messages read the whole store on every `/metrics`).
//!
//! The store keeps the number; the domain says what it is made of and keeps it exact: a write set
//! that adds or removes a message says so (`WriteSet::count_messages`) and the total moves once the
//! set is written. What survives a restart is the domain's own record (for messages, each
//! conversation's count in its activity record, written in the same set as the message), from which
//! the total is summed when the node opens.

use std::sync::atomic::{AtomicI64, Ordering};

/// The store's totals.
#[derive(Default)]
pub(crate) struct Counts {
    messages: AtomicI64,
}

impl Counts {
    /// Messages in the store.
    pub(crate) fn messages(&self) -> u64 {
        u64::try_from(self.messages.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The total as summed when the store opens.
    pub(crate) fn set_messages(&self, total: u64) {
        self.messages
            .store(i64::try_from(total).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// `change` messages more (fewer, when negative), once written.
    pub(crate) fn add_messages(&self, change: i64) {
        self.messages.fetch_add(change, Ordering::Relaxed);
    }
}
