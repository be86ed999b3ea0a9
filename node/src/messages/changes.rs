//! Edits, deletions and reactions of messages, wherever their conversation is hosted. The host changes its copy
//! and relays the change to every participant's home node through the outbox; a member on another node
//! queues it for the host (`change_queue`), or, from an older node, asks with `Request::ChangeMessage`,
//! and the host checks that the asking node is that member's home before applying the usual rules
//! (the sender edits and deletes; the sender, owners and admins erase).

use libp2p::PeerId;
use protocol::MessageId;
use protocol::api::{DeviceCiphertext, EditMessageRequest, Message, MessageState, ReactionList};
use protocol::federation::{ChangeRequest, RequestedChange, Response, SubmittedCopy};

use super::Messages;
use super::change_queue::Taken;
use super::records::MessageRecord;
use crate::conversations::records as conversations;
use crate::federation::Destination;
use crate::remote::{acting_for, refusal};
use crate::{Actor, Error, Result};

impl Messages {
    /// The host of the conversation of a message the caller can read, when another node hosts it.
    fn host_of_message(&self, actor: &Actor, id: MessageId) -> Result<Option<(Destination, MessageRecord)>> {
        let record = self.readable(actor, id)?;
        let host = conversations::get(&self.store, record.conversation_id)?.and_then(|conversation| conversation.host);
        Ok(host.map(|host| (host, record)))
    }

    /// Replaces a message's content (its sender only), on every participant's node. Queued for a host
    /// that does not answer in time: the message as it stands, `pending`.
    pub async fn edit(&self, actor: &Actor, id: MessageId, request: EditMessageRequest) -> Result<Message> {
        if let Some((host, record)) = self.host_of_message(actor, id)? {
            let copies = request.ciphertexts.into_iter().map(SubmittedCopy::from).collect();
            let change = RequestedChange::Edit {
                copies,
                body: request.body,
            };
            let taken = self.change_at_host(actor, &host, &record, change).await?;
            return self.changed_view(actor, id, taken);
        }
        let record = self.readable(actor, id)?;
        let owners = self.remote_owners(record.conversation_id, &request.ciphertexts).await?;
        self.edit_here(actor, id, request, &owners).await
    }

    /// Soft-deletes a message (its sender only), on every participant's node; queued as edits are.
    pub async fn delete(&self, actor: &Actor, id: MessageId) -> Result<Message> {
        match self.host_of_message(actor, id)? {
            Some((host, record)) => {
                let taken = self
                    .change_at_host(actor, &host, &record, RequestedChange::Delete)
                    .await?;
                self.changed_view(actor, id, taken)
            }
            None => self.delete_here(actor, id).await,
        }
    }

    /// Erases a message (its sender, owners and admins), on every participant's node; queued as
    /// edits are.
    pub async fn erase(&self, actor: &Actor, id: MessageId) -> Result<Taken> {
        match self.host_of_message(actor, id)? {
            Some((host, record)) => Ok(self
                .change_at_host(actor, &host, &record, RequestedChange::Erase)
                .await?
                .unwrap_or(Taken::Applied)),
            None => self.erase_here(actor, id).await.map(|()| Taken::Applied),
        }
    }

    /// Adds the caller's reaction to a message, on every participant's node; queued as edits are.
    pub async fn react(&self, actor: &Actor, id: MessageId, emoji: &str) -> Result<ReactionList> {
        self.change_reaction(actor, id, emoji, true).await
    }

    /// Removes the caller's reaction from a message, on every participant's node; queued as edits are.
    pub async fn unreact(&self, actor: &Actor, id: MessageId, emoji: &str) -> Result<ReactionList> {
        self.change_reaction(actor, id, emoji, false).await
    }

    async fn change_reaction(&self, actor: &Actor, id: MessageId, emoji: &str, add: bool) -> Result<ReactionList> {
        let Some((host, record)) = self.host_of_message(actor, id)? else {
            return match add {
                true => self.react_here(actor, id, emoji).await,
                false => self.unreact_here(actor, id, emoji).await,
            };
        };
        let emoji = emoji.to_owned();
        let change = match add {
            true => RequestedChange::React { emoji },
            false => RequestedChange::Unreact { emoji },
        };
        let taken = self.change_at_host(actor, &host, &record, change).await?;
        let mut reactions = self.reactions(actor, id)?;
        reactions.state = (taken == Some(Taken::Queued)).then_some(MessageState::Pending);
        Ok(reactions)
    }

    /// The message after a change to it at its host, or as it stands while the change is queued.
    fn changed_view(&self, actor: &Actor, id: MessageId, taken: Option<Taken>) -> Result<Message> {
        let mut message = self.get(actor, id)?;
        if taken == Some(Taken::Queued) {
            message.state = Some(MessageState::Pending);
        }
        Ok(message)
    }

    /// Applies a change asked by `peer` for one of its users to a message of a conversation hosted here.
    pub(crate) async fn accept_change(&self, peer: PeerId, request: ChangeRequest) -> Response {
        match self.take_change(peer, request).await {
            Ok(message) => Response::Submitted(Box::new(message)),
            Err(err) => refusal(&err),
        }
    }

    /// Applies a change one of `peer`'s users queued there for a conversation hosted here
    /// (`Event::QueuedChange`); the result goes back to every member's node as a relayed change.
    pub(crate) async fn take_queued_change(&self, peer: PeerId, request: ChangeRequest) -> Result<()> {
        self.take_change(peer, request).await.map(drop)
    }

    async fn take_change(&self, peer: PeerId, request: ChangeRequest) -> Result<Message> {
        let actor = acting_for(&self.store, peer, request.user_id, request.device_id)?;
        self.make_change(&actor, request).await
    }

    /// Makes a change `actor` asked for to a message of a conversation this node hosts.
    pub(super) async fn make_change(&self, actor: &Actor, request: ChangeRequest) -> Result<Message> {
        let actor = *actor;
        if self.host_of_message(&actor, request.message_id)?.is_some() {
            return Err(Error::NotFound("message"));
        }
        match request.change {
            RequestedChange::Edit { copies, body } => {
                let ciphertexts = copies.into_iter().map(DeviceCiphertext::from).collect();
                self.edit(&actor, request.message_id, EditMessageRequest { ciphertexts, body })
                    .await
            }
            RequestedChange::Delete => self.delete_here(&actor, request.message_id).await,
            RequestedChange::React { emoji } => {
                self.react_here(&actor, request.message_id, &emoji).await?;
                self.get(&actor, request.message_id)
            }
            RequestedChange::Unreact { emoji } => {
                self.unreact_here(&actor, request.message_id, &emoji).await?;
                self.get(&actor, request.message_id)
            }
            RequestedChange::Erase => {
                let before = self.get(&actor, request.message_id)?;
                self.erase_here(&actor, request.message_id).await?;
                Ok(before)
            }
        }
    }
}
