//! Calls of conversations hosted elsewhere. The host reports every change of a call to the home nodes
//! of its remote participants; this node keeps the latest state it heard of, so its users can read the
//! call and signal each other (and the host's users) without asking the host, and tells them of the
//! change with the same frames the host's own users get.

use protocol::api::CallStatus;
use protocol::federation::{CallEvent, CallUpdate};

use super::Calls;
use crate::conversations::records::{self as conversations, MAX_PARTICIPANTS};
use crate::storage::keys;
use crate::{Error, Result, contacts, users};

impl Calls {
    /// Keeps the host's state of a call and tells this node's participants. The caller has checked that
    /// the sending node hosts the call's conversation. A late report never revives an ended call.
    pub(crate) async fn apply_update(&self, update: CallUpdate) -> Result<()> {
        let CallUpdate { call, event } = update;
        let rung = match &event {
            CallEvent::Ringing { users, .. } => users.len(),
            _ => 0,
        };
        if call.participants.len() > MAX_PARTICIPANTS || rung > MAX_PARTICIPANTS {
            return Err(Error::invalid("participants", format!("at most {MAX_PARTICIPANTS}")));
        }
        let _guard = self.writes.lock().await;
        if let Some(known) = self.find(call.id)? {
            if known.conversation_id != call.conversation_id {
                return Err(Error::forbidden("the call belongs to another conversation"));
            }
            if known.status == CallStatus::Ended && call.status != CallStatus::Ended {
                return Ok(());
            }
        }
        // Only this node's members of the conversation are listed and rung: the host speaks for its
        // conversation, not for who lives here.
        let mut members_here = Vec::new();
        for participant in &call.participants {
            let user = participant.user_id;
            if users::records::get_user(&self.store, user)?.is_some()
                && conversations::participant(&self.store, call.conversation_id, user)?.is_some()
            {
                members_here.push(user);
            }
        }
        self.save(&call)?;
        let t = &self.store.trees;
        t.convtimecall_call.insert(
            keys::call_time(call.conversation_id.as_bytes(), call.created_at, call.id),
            &[],
        )?;
        for user in &members_here {
            t.usertimecall_call
                .insert(keys::call_time(user.as_bytes(), call.created_at, call.id), &[])?;
        }
        self.store.commit().await?;
        let event = match event {
            CallEvent::Ringing { caller, users } => {
                let mut rung = Vec::new();
                for user in users {
                    if members_here.contains(&user) && !contacts::has_blocked(&self.store, user, caller)? {
                        rung.push(user);
                    }
                }
                CallEvent::Ringing { caller, users: rung }
            }
            other => other,
        };
        self.notify_local(&call, &event);
        Ok(())
    }
}
