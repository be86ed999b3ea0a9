//! Reactions: one emoji per user per entry, visible to the participants. Emoji are metadata the node
//! sees, like message types; content stays encrypted.

use chrono::Utc;
use protocol::api::{Reaction, ReactionList};
use protocol::ws::{ReactionEvent, ServerFrame};
use protocol::{MessageId, UserId};

use protocol::federation::Change;

use super::Messages;
use super::records::MessageRecord;
use crate::realtime::Push;
use crate::storage::{Store, TreeId, WriteSet, encode, keys};
use crate::{Actor, Error, Result};

/// Most distinct emoji one user may put on one message.
pub(crate) const MAX_REACTIONS_PER_USER: usize = 20;

pub(super) fn check_emoji(emoji: &str) -> Result<String> {
    let emoji = emoji.trim();
    let len = emoji.chars().count();
    if len == 0 || len > 16 || emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("emoji", "must be one emoji of at most 16 characters"));
    }
    Ok(emoji.to_owned())
}

/// The key of `user`'s `emoji` reaction to the message, when adding it would be new (`None` when it is
/// there already): a deleted message takes none, and a user at most `MAX_REACTIONS_PER_USER`. The
/// host's rule, which a member's node also checks on its copy before queueing a reaction
/// (`change_queue`).
pub(super) fn reaction_to_add(
    store: &Store,
    record: &MessageRecord,
    user: UserId,
    emoji: &str,
) -> Result<Option<Vec<u8>>> {
    if record.deleted {
        return Err(Error::Conflict("a deleted message cannot be reacted to".into()));
    }
    let tree = &store.trees.messageuseremoji_reaction;
    let key = keys::reaction(record.id, user, emoji);
    if tree.contains_key(&key)? {
        return Ok(None);
    }
    let mine = tree
        .scan_prefix(keys::join(&[record.id.as_bytes(), user.as_bytes()]))
        .count();
    if mine >= MAX_REACTIONS_PER_USER {
        return Err(Error::invalid(
            "emoji",
            format!("at most {MAX_REACTIONS_PER_USER} reactions per message"),
        ));
    }
    Ok(Some(key))
}

impl Messages {
    /// A message's reactions, per emoji, most used first.
    pub(super) fn reactions_of(&self, message: MessageId) -> Result<Vec<Reaction>> {
        let mut reactions: Vec<Reaction> = Vec::new();
        for entry in self
            .store
            .trees
            .messageuseremoji_reaction
            .scan_prefix(message.as_bytes())
        {
            let (key, _) = entry?;
            let (Some(user), Some(emoji)) = (keys::id_at(&key, 16), key.get(32..)) else {
                continue;
            };
            let user = UserId::from_bytes(user);
            let emoji = String::from_utf8_lossy(emoji).into_owned();
            match reactions.iter_mut().find(|r| r.emoji == emoji) {
                Some(reaction) => {
                    reaction.count += 1;
                    reaction.user_ids.push(user);
                }
                None => reactions.push(Reaction {
                    emoji,
                    count: 1,
                    user_ids: vec![user],
                }),
            }
        }
        reactions.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.emoji.cmp(&b.emoji)));
        Ok(reactions)
    }

    /// A message's reactions, for a participant.
    pub fn reactions(&self, actor: &Actor, id: MessageId) -> Result<ReactionList> {
        self.readable(actor, id)?;
        Ok(ReactionList {
            reactions: self.reactions_of(id)?,
            state: None,
        })
    }

    /// Adds the caller's reaction (idempotent) and tells the participants.
    pub(super) async fn react_here(&self, actor: &Actor, id: MessageId, emoji: &str) -> Result<ReactionList> {
        let emoji = check_emoji(emoji)?;
        let record = self.changeable(actor, id)?;
        // The lock orders a reaction's write set after the message's own, as replaying them must.
        let _guard = self.locks.lock(record.conversation_id).await;
        if let Some(key) = reaction_to_add(&self.store, &record, actor.user_id, &emoji)? {
            let mut set = WriteSet::new(&self.store);
            set.insert(TreeId::messageuseremoji_reaction, key, encode(&Utc::now()));
            let added = Change::Reaction {
                emoji: emoji.clone(),
                added: true,
            };
            let woken = self.relay_change(&mut set, &record, actor.user_id, |_| added.clone())?;
            self.commit_change(set, woken).await?;
            self.announce_reaction(actor, record.conversation_id, id, emoji, true)?;
        }
        self.reactions(actor, id)
    }

    /// Removes the caller's reaction.
    pub(super) async fn unreact_here(&self, actor: &Actor, id: MessageId, emoji: &str) -> Result<ReactionList> {
        let record = self.changeable(actor, id)?;
        let emoji = check_emoji(emoji)?;
        let _guard = self.locks.lock(record.conversation_id).await;
        let key = keys::reaction(id, actor.user_id, &emoji);
        if !self.store.trees.messageuseremoji_reaction.contains_key(&key)? {
            return Err(Error::NotFound("reaction"));
        }
        let mut set = WriteSet::new(&self.store);
        set.remove(TreeId::messageuseremoji_reaction, key);
        let removed = Change::Reaction {
            emoji: emoji.clone(),
            added: false,
        };
        let woken = self.relay_change(&mut set, &record, actor.user_id, |_| removed.clone())?;
        self.commit_change(set, woken).await?;
        self.announce_reaction(actor, record.conversation_id, id, emoji, false)?;
        self.reactions(actor, id)
    }

    /// Applies a reaction relayed by the conversation's host; returns the frames for local members.
    pub(super) fn apply_relayed_reaction(
        &self,
        user: UserId,
        conversation: protocol::ConversationId,
        message: MessageId,
        emoji: &str,
        added: bool,
    ) -> Result<Vec<Push>> {
        crate::conversations::records::require_participant(&self.store, conversation, user)?;
        let emoji = check_emoji(emoji)?;
        let tree = &self.store.trees.messageuseremoji_reaction;
        let key = keys::reaction(message, user, &emoji);
        let changed = if added {
            tree.insert(key, encode(&Utc::now()))?.is_none()
        } else {
            tree.remove(key)?.is_some()
        };
        if !changed {
            return Ok(Vec::new());
        }
        let frame = ServerFrame::MessageReaction(ReactionEvent {
            timestamp: Utc::now(),
            user_id: user,
            conversation_id: conversation,
            message_id: message,
            emoji,
            added,
        });
        Ok(crate::conversations::records::participants(&self.store, conversation)?
            .into_iter()
            .map(|(member, _)| Push::User(member, frame.clone()))
            .collect())
    }

    fn announce_reaction(
        &self,
        actor: &Actor,
        conversation: protocol::ConversationId,
        message: MessageId,
        emoji: String,
        added: bool,
    ) -> Result<()> {
        let frame = ServerFrame::MessageReaction(ReactionEvent {
            timestamp: Utc::now(),
            user_id: actor.user_id,
            conversation_id: conversation,
            message_id: message,
            emoji,
            added,
        });
        self.to_participants(conversation, &frame)
    }
}
