//! A conversation moved here from a host that is gone (`conversations::rehome`): what this node had
//! queued for that host about it, its own users' sends and changes, is taken here, in the order it was
//! queued, as the host would have taken it; each send that was `pending` is placed and its sender's
//! devices hear `message:sequenced`. Receipts queued for the old host are dropped: the marks are kept
//! here already, and the next one a reader makes goes out as usual.

use protocol::ConversationId;
use protocol::federation::{Event, NodeName, Submission};

use super::Messages;
use super::pending::refuse;
use super::write::message_by_id;
use crate::realtime::Push;
use crate::storage::WriteSet;
use crate::{Actor, Result};

impl Messages {
    /// Takes here what was queued for the conversation's former host `from` (see the module's doc).
    /// Each piece is kept before the queue lets go of it, so a crash on the way leaves the rest queued
    /// for another try (`Conversations::take_over` again).
    pub async fn take_queued_here(&self, conversation: ConversationId, from: &NodeName) -> Result<()> {
        let mut set = WriteSet::new(&self.store);
        let queued = self.outbox.take_queued(&mut set, from, |event| {
            crate::conversations::concerns(&self.store, event, conversation)
        })?;
        for (_, event) in queued {
            let outcome = match event {
                Event::Submission(submission) => self.place_own(submission).await,
                Event::QueuedChange(request) => {
                    let actor = Actor::without_session(request.user_id, request.device_id);
                    self.make_change(&actor, request).await.map(drop)
                }
                _ => Ok(()),
            };
            match outcome {
                Err(err) if err.is_local_failure() => return Err(err),
                Err(err) => {
                    tracing::warn!(%conversation, error = %err, "refused queued work on taking a conversation over")
                }
                Ok(()) => {}
            }
        }
        set.apply()?;
        self.store.commit().await
    }

    /// Places a send of one of this node's users that waited for the former host.
    async fn place_own(&self, submission: Submission) -> Result<()> {
        let actor = Actor::without_session(submission.sender_id, submission.sender_device_id);
        let pending_id = submission.message_id;
        let placed = match self.place_submission(&actor, submission).await {
            Ok(placed) => placed,
            Err(err) if err.is_local_failure() => return Err(err),
            Err(err) => {
                if let Some(id) = pending_id {
                    refuse(&self.store, id, &err.to_string())?;
                }
                return Err(err);
            }
        };
        let frames = self.sequenced(&message_by_id(&self.store, placed.id)?)?;
        self.store.commit().await?;
        for (user, device, frame) in frames {
            self.hub.push(&Push::Device(user, device, frame));
        }
        Ok(())
    }
}
