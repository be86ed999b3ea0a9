//! Reading calls: one call, a user's calls and the live or missed ones, with their durations.

use chrono::Utc;
use protocol::CallId;
use protocol::api::{Call, CallDuration, CallList, CallListQuery, CallStatus, UserCallsQuery};

use crate::conversations::records as conversations;
use crate::storage::keys;
use crate::{Actor, Error, Result, validate};

use super::{Calls, duration};

impl Calls {
    /// One call, with its duration so far.
    pub fn get(&self, actor: &Actor, id: CallId) -> Result<Call> {
        let mut call = self.visible(actor, id)?;
        call.duration = duration(&call, Utc::now());
        Ok(call)
    }

    pub(super) fn calls_under(
        &self,
        tree: &sled::Tree,
        owner: &[u8; 16],
        skip: usize,
        limit: usize,
    ) -> Result<Vec<Call>> {
        let now = Utc::now();
        let mut calls = Vec::new();
        for entry in tree.scan_prefix(owner).rev().skip(skip).take(limit) {
            let (key, _) = entry?;
            let Some(id) = key.len().checked_sub(16).and_then(|at| keys::id_at(&key, at)) else {
                continue;
            };
            let mut call = self.load(CallId::from_bytes(id))?;
            call.duration = duration(&call, now);
            calls.push(call);
        }
        Ok(calls)
    }

    /// A conversation's calls, newest first.
    pub fn list(&self, actor: &Actor, query: CallListQuery) -> Result<CallList> {
        conversations::require_participant(&self.store, query.conversation_id, actor.user_id)?;
        let limit = validate::limit(query.limit, 20, 100)?;
        let page = validate::page(query.page)?;
        let calls = self.calls_under(
            &self.store.trees.convtimecall_call,
            query.conversation_id.as_bytes(),
            (page - 1) * limit,
            limit,
        )?;
        Ok(CallList { calls })
    }

    pub(super) fn own_calls(&self, actor: &Actor) -> Result<Vec<Call>> {
        self.calls_under(&self.store.trees.usertimecall_call, actor.user_id.as_bytes(), 0, 1000)
    }

    /// The caller's calls, newest first (the last 1000).
    pub fn of_user(&self, actor: &Actor, query: UserCallsQuery) -> Result<CallList> {
        if query.user_id.is_some_and(|user| user != actor.user_id) {
            return Err(Error::forbidden("you can only list your own calls"));
        }
        Ok(CallList {
            calls: self.own_calls(actor)?,
        })
    }

    /// The caller's calls that have not ended.
    pub fn active(&self, actor: &Actor) -> Result<CallList> {
        let calls = self
            .own_calls(actor)?
            .into_iter()
            .filter(|c| c.status != CallStatus::Ended)
            .collect();
        Ok(CallList { calls })
    }

    /// Ended calls that rang for the caller and that the caller never joined.
    pub fn missed(&self, actor: &Actor) -> Result<CallList> {
        let calls = self
            .own_calls(actor)?
            .into_iter()
            .filter(|c| {
                c.status == CallStatus::Ended
                    && c.initiator_id != actor.user_id
                    && c.participants
                        .iter()
                        .any(|p| p.user_id == actor.user_id && p.joined_at.is_none())
            })
            .collect();
        Ok(CallList { calls })
    }

    /// Connected seconds so far.
    pub fn duration(&self, actor: &Actor, id: CallId) -> Result<CallDuration> {
        let call = self.visible(actor, id)?;
        Ok(CallDuration {
            duration: duration(&call, Utc::now()),
        })
    }
}
