//! Session records: one per logged-in device, holding the hash of its current refresh token and of the
//! ones it replaced, so that a replayed old token is recognised as theft and ends the session.

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
