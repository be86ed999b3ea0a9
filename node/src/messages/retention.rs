//! Disappearing messages: a conversation with a retention loses every message older than it.

use chrono::{Duration, Utc};
use protocol::ConversationId;

use super::Messages;
use super::records::MessageRecord;
use super::write::erase;
use crate::Result;
use crate::conversations::records as conversations;
use crate::storage::{WriteSet, decode};

impl Messages {
    /// Erases every message older than its conversation's retention; returns how many went.
    pub async fn purge_expired(&self) -> Result<usize> {
        let now = Utc::now();
        let mut erased = 0;
        let with_retention: Vec<ConversationId> = self
            .store
            .trees
            .retention_convid
            .iter()
            .keys()
            .filter_map(|key| key.ok().and_then(|key| ConversationId::from_slice(&key)))
            .collect();
        for id in with_retention {
            let Some(record) = conversations::get(&self.store, id)? else {
                continue;
            };
            let Some(secs) = record.retention_secs() else { continue };
            let cutoff = now - Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
            let _guard = self.locks.lock(id).await;
            for entry in self.store.trees.convseq_message.scan_prefix(id.as_bytes()) {
                let message: MessageRecord = decode(&entry?.1)?;
                if message.created_at > cutoff {
                    break;
                }
                let mut set = WriteSet::new(&self.store);
                erase(&mut set, &message)?;
                set.apply()?;
                erased += 1;
            }
        }
        if erased > 0 {
            self.store.commit().await?;
            tracing::info!(erased, "retention purge");
        }
        Ok(erased)
    }
}
