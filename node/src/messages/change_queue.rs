//! Changing a message of a conversation another node hosts without waiting on that node, as sends do
//! (`pending`). The change is checked here against this node's replica (who sent the message, the
//! caller's role, whether it is deleted, the caller's reactions), so what the host would refuse is
//! refused at once; then it is queued for the host (`Event::QueuedChange`) in the same outbox as the
//! caller's sends, so it reaches the host after them, in order, and is retried until the host takes
//! it. The host applies it as a direct request and relays the result to every member's node, this one
//! included; the caller waits a moment for that (`Lookups::timeout`) and gets the changed message, or,
//! when the host is slow or down, the message as it stands here marked `pending`.

use std::collections::HashMap;

use protocol::federation::{ChangeRequest, Event, RequestedChange};
use protocol::{MessageId, UserId};
use tokio::sync::oneshot;

use super::Messages;
use super::hosted::{may_erase, only_the_sender, still_editable};
use super::reactions::{check_emoji, reaction_to_add};
use super::records::MessageRecord;
use crate::federation::Destination;
use crate::storage::{WriteSet, keys};
use crate::{Actor, Error, Result};

/// Whether the host applied a change before the caller was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Applied by the host and relayed back: this node's copy shows it.
    Applied,
    /// Queued for the host: the change follows as an event once the host applied it.
    Queued,
}

/// Who waits for the host to relay a change back: per message and user, every caller waiting.
type Waiting = HashMap<(MessageId, UserId), Vec<oneshot::Sender<()>>>;
pub(super) type ChangeWaiters = std::sync::Mutex<Waiting>;

impl Messages {
    /// Queues `change` of `record` for `host`, after checking it against this node's replica; see the
    /// module's doc. `Ok(None)` when there is nothing to do (the reaction is there already).
    pub(super) async fn change_at_host(
        &self,
        actor: &Actor,
        host: &Destination,
        record: &MessageRecord,
        change: RequestedChange,
    ) -> Result<Option<Taken>> {
        if !self.check_remote_change(actor, record, &change)? {
            return Ok(None);
        }
        let request = ChangeRequest {
            user_id: actor.user_id,
            device_id: actor.device_id,
            message_id: record.id,
            change,
        };
        let envelope = self.outbox.seal(&Event::QueuedChange(request))?;
        let mut set = WriteSet::new(&self.store);
        self.outbox.push_into(&mut set, host, envelope)?;
        set.apply()?;
        let applied = self.await_change(record.id, actor.user_id);
        self.store.commit().await?;
        self.outbox.wake(&host.node);
        match self.host_answers(host, applied).await? {
            true => Ok(Some(Taken::Applied)),
            false => {
                self.prune_change_waiters(record.id, actor.user_id);
                Ok(Some(Taken::Queued))
            }
        }
    }

    /// The host's rules, on this node's copy: `false` when the change would do nothing.
    fn check_remote_change(&self, actor: &Actor, record: &MessageRecord, change: &RequestedChange) -> Result<bool> {
        let user = actor.user_id;
        match change {
            RequestedChange::Edit { .. } => {
                only_the_sender(record, user, "edit")?;
                still_editable(record).map(|()| true)
            }
            RequestedChange::Delete => only_the_sender(record, user, "delete").map(|()| !record.deleted),
            RequestedChange::Erase => may_erase(&self.store, record, user).map(|()| true),
            RequestedChange::React { emoji } => {
                Ok(reaction_to_add(&self.store, record, user, &check_emoji(emoji)?)?.is_some())
            }
            RequestedChange::Unreact { emoji } => {
                let key = keys::reaction(record.id, user, &check_emoji(emoji)?);
                match self.store.trees.messageuseremoji_reaction.contains_key(key)? {
                    true => Ok(true),
                    false => Err(Error::NotFound("reaction")),
                }
            }
        }
    }

    fn change_waiters(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.change_waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn await_change(&self, message: MessageId, by: UserId) -> oneshot::Receiver<()> {
        let (applied, waiting) = oneshot::channel();
        let mut waiters = self.change_waiters();
        let waiting_here = waiters.entry((message, by)).or_default();
        waiting_here.push(applied);
        waiting
    }

    /// Forgets the callers that stopped waiting for `by`'s change of `message`.
    fn prune_change_waiters(&self, message: MessageId, by: UserId) {
        let mut waiters = self.change_waiters();
        if let Some(waiting) = waiters.get_mut(&(message, by)) {
            waiting.retain(|waiter| !waiter.is_closed());
            if waiting.is_empty() {
                waiters.remove(&(message, by));
            }
        }
    }

    /// The host relayed a change `by` made to `message`: whoever waits for it hears so.
    pub(super) fn change_arrived(&self, message: MessageId, by: UserId) {
        for waiter in self.change_waiters().remove(&(message, by)).into_iter().flatten() {
            let _ = waiter.send(());
        }
    }
}
