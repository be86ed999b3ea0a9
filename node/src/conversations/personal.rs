//! Each member's own view of a conversation: mute, pin, archive, favourite, and "delete for me".

use chrono::Utc;
use protocol::ConversationId;
use protocol::api::{Conversation, MuteRequest};

use super::Conversations;
use super::records::{ParticipantRecord, activity, forever, put_participant, require_participant, view};
use crate::{Actor, Error, Result};

/// A change to a member's personal flags.
#[derive(Debug, Clone, Copy)]
pub enum PersonalChange {
    /// Set or clear the pin.
    Pin(bool),
    /// Set or clear the archive flag.
    Archive(bool),
    /// Set or clear the favourite flag.
    Favorite(bool),
}

impl Conversations {
    async fn personal(
        &self,
        actor: &Actor,
        id: ConversationId,
        change: impl FnOnce(&mut ParticipantRecord) -> Result<()>,
    ) -> Result<Conversation> {
        let _guard = self.locks.lock(id).await;
        let (record, mut me) = require_participant(&self.store, id, actor.user_id)?;
        change(&mut me)?;
        put_participant(&self.store, id, actor.user_id, &me)?;
        self.store.commit().await?;
        Ok(view(&record, activity(&self.store, id)?, &me))
    }

    /// Mutes notifications until a time in the future, or indefinitely.
    pub async fn mute(&self, actor: &Actor, id: ConversationId, request: MuteRequest) -> Result<Conversation> {
        let until = match request.until {
            Some(until) if until <= Utc::now() => return Err(Error::invalid("until", "must be in the future")),
            Some(until) => until,
            None => forever(),
        };
        self.personal(actor, id, |me| {
            me.muted_until = Some(until);
            Ok(())
        })
        .await
    }

    /// Lifts a mute.
    pub async fn unmute(&self, actor: &Actor, id: ConversationId) -> Result<Conversation> {
        self.personal(actor, id, |me| {
            me.muted_until = None;
            Ok(())
        })
        .await
    }

    /// Pins, archives or favourites a conversation for the caller (or undoes it).
    pub async fn set_flag(&self, actor: &Actor, id: ConversationId, change: PersonalChange) -> Result<Conversation> {
        self.personal(actor, id, |me| {
            match change {
                PersonalChange::Pin(on) => me.pinned = on,
                PersonalChange::Archive(on) => me.archived = on,
                PersonalChange::Favorite(on) => me.favorite = on,
            }
            Ok(())
        })
        .await
    }

    /// Clears the history for the caller and hides the conversation until a newer message arrives.
    pub(super) async fn delete_for_me(&self, actor: &Actor, id: ConversationId) -> Result<()> {
        let last = activity(&self.store, id)?.last_seq;
        self.personal(actor, id, |me| {
            me.cleared_through = last.max(1);
            me.read_through = me.read_through.max(last);
            Ok(())
        })
        .await
        .map(drop)
    }
}
