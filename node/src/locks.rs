//! Striped per-conversation locks. Everything that changes a conversation (its record, its members,
//! its sequence counter) takes the conversation's stripe, so sequence numbers stay gap-free under
//! concurrent senders and no read-modify-write of a record loses another's change.

use std::hash::BuildHasher;

use protocol::ConversationId;
use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

pub(crate) struct ConversationLocks {
    stripes: Vec<Mutex<()>>,
    hasher: std::collections::hash_map::RandomState,
}

impl ConversationLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: Default::default(),
        }
    }

    pub(crate) async fn lock(&self, id: ConversationId) -> MutexGuard<'_, ()> {
        let index = self.hasher.hash_one(id) as usize % STRIPES;
        self.stripes[index].lock().await
    }
}
