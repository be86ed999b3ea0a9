//! The audit log: every operator action, with who did it, kept in the store in the order done.

use chrono::Utc;
use protocol::api::{AuditEntry, AuditLog, AuditQuery};

use super::{Admin, Operator};
use crate::storage::{Store, decode, encode};
use crate::{Error, Result, validate};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub(super) fn append(store: &Store, operator: &Operator, action: &str, target: &str) -> Result<()> {
    let entry = AuditEntry {
        at: Utc::now(),
        operator: operator.to_string(),
        action: action.to_owned(),
        target: target.to_owned(),
    };
    let id = store.next_id()?;
    store.trees.auditid_entry.insert(id.to_be_bytes(), encode(&entry))?;
    Ok(())
}

impl Admin<'_> {
    /// Operator actions, newest first, a page at a time.
    pub fn audit(&self, query: &AuditQuery) -> Result<AuditLog> {
        let limit = validate::limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
        let before = match &query.cursor {
            Some(cursor) => cursor
                .parse::<u64>()
                .map_err(|_| Error::invalid("cursor", "is not a cursor this node gave out"))?,
            None => u64::MAX,
        };
        let tree = &self.services.store.trees.auditid_entry;
        let mut page = Vec::new();
        for item in tree.range(..before.to_be_bytes()).rev().take(limit + 1) {
            let (key, value) = item?;
            let id = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("audit log key".into()))?;
            page.push((id, decode::<AuditEntry>(&value)?));
        }
        let more = page.len() > limit;
        page.truncate(limit);
        // The next page holds the entries older than the oldest on this one.
        let next_cursor = more.then(|| page.last().map(|(id, _)| id.to_string())).flatten();
        Ok(AuditLog {
            entries: page.into_iter().map(|(_, entry)| entry).collect(),
            next_cursor,
        })
    }
}
