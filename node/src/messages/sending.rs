//! Sending into a conversation, wherever it is hosted. A conversation this node hosts takes the message
//! directly (devices of remote participants are looked up at their home nodes first). One hosted
//! elsewhere takes it through this node's queue for its host (`pending`), which submits it
//! (`Event::Submission`); the host orders it and relays it back through its outbox like every other
//! message. The host also still answers a direct `Request::Submit`, as nodes before the queue sent.

use std::collections::HashMap;

use libp2p::PeerId;
use protocol::ConversationId;
use protocol::api::{DeviceCiphertext, ForwardMessageRequest, Message, SendMessageRequest};
use protocol::federation::{Response, Submission};
use protocol::{DeviceId, MessageId, UserId};

use super::Messages;
use super::write::sent_with;
use crate::conversations::records as conversations;
use crate::remote::{acting_for, homes, refusal};
use crate::storage::keys;
use crate::users::records::is_local_device;
use crate::{Actor, Error, Result};

impl Messages {
    /// Posts a message (`POST /v1/messages`, WebSocket `message:send`, broadcasts), wherever its
    /// conversation is hosted. Resending a `client_message_id` returns the original message.
    pub async fn send(&self, actor: &Actor, request: SendMessageRequest) -> Result<Message> {
        self.dispatch(actor, request, None).await
    }

    /// Forwards a message the caller can read into another conversation.
    pub async fn forward(&self, actor: &Actor, source: MessageId, request: ForwardMessageRequest) -> Result<Message> {
        let send = self.forwarding(actor, source, request)?;
        self.dispatch(actor, send, Some(source)).await
    }

    /// Builds the send of a forward: the caller must be able to read the original.
    pub(super) fn forwarding(
        &self,
        actor: &Actor,
        source: MessageId,
        request: ForwardMessageRequest,
    ) -> Result<SendMessageRequest> {
        let original = self.readable(actor, source)?;
        if original.deleted {
            return Err(Error::Conflict("a deleted message cannot be forwarded".into()));
        }
        // A message in the clear is forwarded as it is unless the caller sends new content.
        let body = match (&request.body, request.ciphertexts.is_empty()) {
            (None, true) if original.in_clear => original.body.clone(),
            _ => request.body,
        };
        Ok(SendMessageRequest {
            conversation_id: request.conversation_id,
            ciphertexts: request.ciphertexts,
            message_type: request.message_type.unwrap_or(original.message_type),
            client_message_id: request.client_message_id,
            body,
            reply_to: None,
            mentions: Vec::new(),
        })
    }

    async fn dispatch(
        &self,
        actor: &Actor,
        request: SendMessageRequest,
        forwarded_from: Option<MessageId>,
    ) -> Result<Message> {
        let hosting = conversations::hosting(&self.store, request.conversation_id)?;
        if let Some(host) = &hosting.host {
            conversations::ensure_participant(&self.store, request.conversation_id, actor.user_id)?;
            if let Some(body) = &request.body {
                self.check_clear(body, &request.ciphertexts)?;
            }
            return self.submit(actor, host, request, forwarded_from).await;
        }
        let owners = self
            .remote_owners(request.conversation_id, &request.ciphertexts)
            .await?;
        self.store_message(actor, request, forwarded_from, &owners, None).await
    }

    /// The owners of a message's recipient devices that live on other nodes.
    pub(super) async fn remote_owners(
        &self,
        conversation: ConversationId,
        copies: &[DeviceCiphertext],
    ) -> Result<HashMap<DeviceId, UserId>> {
        let mut owners = HashMap::new();
        let mut remote_members: Option<Vec<UserId>> = None;
        for copy in copies {
            let device = copy.recipient_device_id;
            if is_local_device(&self.store, device)? {
                continue;
            }
            let candidates = match &remote_members {
                Some(members) => members,
                None => {
                    let mut members = Vec::new();
                    for (user, _) in conversations::participants(&self.store, conversation)? {
                        if homes::get(&self.store, user)?.is_some() {
                            members.push(user);
                        }
                    }
                    remote_members.insert(members)
                }
            };
            if let Some(owner) = self.remote.device_owner(device, candidates).await? {
                owners.insert(device, owner);
            }
        }
        Ok(owners)
    }

    /// Takes a message of `peer`'s user for a conversation this node hosts.
    pub(crate) async fn accept_submission(&self, peer: PeerId, submission: Submission) -> Response {
        match self.take_submission(peer, submission).await {
            Ok(message) => Response::Submitted(Box::new(message)),
            Err(err) => refusal(&err),
        }
    }

    async fn take_submission(&self, peer: PeerId, submission: Submission) -> Result<Message> {
        let actor = acting_for(&self.store, peer, submission.sender_id, submission.sender_device_id)?;
        self.place_submission(&actor, submission).await
    }

    /// Orders a submitted message of `actor`'s in a conversation this node hosts.
    pub(super) async fn place_submission(&self, actor: &Actor, submission: Submission) -> Result<Message> {
        let record =
            conversations::get(&self.store, submission.conversation_id)?.ok_or(Error::NotFound("conversation"))?;
        if record.host.is_some() {
            return Err(Error::NotFound("conversation"));
        }
        let request = SendMessageRequest {
            conversation_id: submission.conversation_id,
            ciphertexts: submission.copies.into_iter().map(DeviceCiphertext::from).collect(),
            message_type: submission.message_type,
            client_message_id: submission.client_message_id,
            body: submission.body,
            reply_to: submission.reply_to,
            mentions: submission.mentions,
        };
        let owners = self
            .remote_owners(request.conversation_id, &request.ciphertexts)
            .await?;
        let id = submission.message_id;
        if let Some(id) = id
            && self.store.trees.messageid_convseq.contains_key(id.as_bytes())?
            && sent_with(
                &self.store,
                &keys::idempotency(request.conversation_id, actor.user_id, &request.client_message_id),
            )? != Some(id)
        {
            return Err(Error::Conflict("another message has this id".into()));
        }
        self.store_message(actor, request, submission.forwarded_from, &owners, id)
            .await
    }

    /// Takes a message queued at `peer` for a conversation this node hosts (`Event::Submission`), as a
    /// direct submission; its id is the one the submitting node gave it.
    pub(crate) async fn take_queued(&self, peer: PeerId, submission: Submission) -> Result<()> {
        self.take_submission(peer, submission).await.map(drop)
    }
}
