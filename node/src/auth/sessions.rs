//! Session records: one per logged-in device, holding the hash of its current refresh token and of the
//! ones it replaced, so that a replayed old token is recognised as theft and ends the session.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use protocol::api::Timestamp;
use protocol::{DeviceId, SessionId, UserId};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::storage::{Store, decode, encode, keys};

/// How many spent refresh tokens a session remembers for reuse detection.
pub(crate) const REMEMBERED_SPENT_TOKENS: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) id: SessionId,
    pub(crate) user_id: UserId,
    pub(crate) device_id: DeviceId,
    pub(crate) refresh_hash: [u8; 32],
    pub(crate) spent_hashes: Vec<[u8; 32]>,
    pub(crate) refresh_expires_at: Timestamp,
    pub(crate) ip_address: Option<String>,
    pub(crate) created_at: Timestamp,
    pub(crate) last_active: Timestamp,
}

/// What a request's authentication needs of its session record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionView {
    pub(crate) user_id: UserId,
    pub(crate) device_id: DeviceId,
    pub(crate) last_active: Timestamp,
}

/// Most sessions remembered decoded; emptied when full.
const DECODED_CAPACITY: usize = 4096;

/// Session records decoded before, with a hash of the bytes they were decoded from. Every request still
/// reads its session from the store, so a revocation (the record gone) counts at once, and a record
/// whose bytes changed is decoded again; only decoding unchanged bytes again is spared (its timestamps
/// and refresh hashes were 1.7 % of the node's CPU time under the messaging benchmark of
/// docs/PERFORMANCE.md). A hash, not the bytes, so that each authenticated connection's session costs
/// a few dozen bytes here: two versions of one session's record that hash alike can differ only in
/// what authentication does not read (refresh hashes, address) or in its activity stamp, which is then
/// written one period late.
#[derive(Default)]
pub(crate) struct DecodedSessions(Mutex<HashMap<SessionId, (u64, SessionView)>>);

impl DecodedSessions {
    /// The view of a session whose record is `stored`.
    pub(crate) fn view(&self, id: SessionId, stored: &[u8]) -> Result<SessionView> {
        let hash = {
            let mut hasher = DefaultHasher::new();
            stored.hash(&mut hasher);
            hasher.finish()
        };
        if let Some((seen, view)) = self.remembered().get(&id)
            && *seen == hash
        {
            return Ok(*view);
        }
        let record: SessionRecord = decode(stored)?;
        let view = SessionView {
            user_id: record.user_id,
            device_id: record.device_id,
            last_active: record.last_active,
        };
        let mut remembered = self.remembered();
        if remembered.len() >= DECODED_CAPACITY {
            remembered.clear();
        }
        remembered.insert(id, (hash, view));
        Ok(view)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (u64, SessionView)>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) fn get(store: &Store, id: SessionId) -> Result<Option<SessionRecord>> {
    store
        .trees
        .sessionid_session
        .get(id.as_bytes())?
        .map(|bytes| decode(&bytes))
        .transpose()
}

pub(crate) fn insert(store: &Store, session: &SessionRecord) -> Result<()> {
    store
        .trees
        .sessionid_session
        .insert(session.id.as_bytes(), encode(session))?;
    store
        .trees
        .userid_sessionid
        .insert(keys::join(&[session.user_id.as_bytes(), session.id.as_bytes()]), &[])?;
    Ok(())
}

pub(crate) fn remove(store: &Store, session: &SessionRecord) -> Result<()> {
    store.trees.sessionid_session.remove(session.id.as_bytes())?;
    store
        .trees
        .userid_sessionid
        .remove(keys::join(&[session.user_id.as_bytes(), session.id.as_bytes()]))?;
    Ok(())
}

pub(crate) fn of_user(store: &Store, user: UserId) -> Result<Vec<SessionRecord>> {
    let mut sessions = Vec::new();
    for entry in store.trees.userid_sessionid.scan_prefix(user.as_bytes()) {
        let (key, _) = entry?;
        let Some(id) = keys::id_at(&key, 16).map(SessionId::from_bytes) else {
            continue;
        };
        if let Some(session) = get(store, id)? {
            sessions.push(session);
        }
    }
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    #[test]
    fn a_changed_record_is_decoded_again() {
        let mut record = SessionRecord {
            id: SessionId::random(),
            user_id: UserId::random(),
            device_id: DeviceId::random(),
            refresh_hash: [7; 32],
            spent_hashes: vec![[1; 32]],
            refresh_expires_at: Utc::now(),
            ip_address: None,
            created_at: Utc::now(),
            last_active: Utc::now(),
        };
        let decoded = DecodedSessions::default();
        let first = decoded.view(record.id, &encode(&record)).unwrap();
        assert_eq!(decoded.view(record.id, &encode(&record)).unwrap(), first);
        record.last_active += Duration::seconds(60);
        let second = decoded.view(record.id, &encode(&record)).unwrap();
        assert_eq!(second.last_active, record.last_active);
        assert_ne!(second.last_active, first.last_active);
    }
}
