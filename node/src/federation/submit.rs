//! Sending into a conversation, wherever it is hosted. A conversation this node hosts takes the message
//! directly (devices of remote participants are looked up at their home nodes first). One hosted
//! elsewhere gets it by `Request::Submit` to its host, which orders it and relays it back through its
//! outbox like every other message; the sender's answer waits for the host's acknowledgement, so an
//! unreachable host is an error the client retries with the same `client_message_id`.

use std::collections::HashMap;

use libp2p::PeerId;
use protocol::ConversationId;
use protocol::api::{
    AddContactRequest, AddParticipantRequest, Contact, Conversation, CreateConversationRequest, DeviceCiphertext,
    ForwardMessageRequest, Message, Participant, SendMessageRequest, UserRef,
};
use protocol::federation::{Request, Response, Submission, SubmittedCopy};
use protocol::{DeviceId, MessageId, UserId};

use super::acting::{acting_for, refusal};
use super::homes;
use crate::conversations::{self, HostRef};
use crate::{Actor, Error, Result, Services, users};

impl Services {
    /// Names every user of a request by id, looking handles up (at their home nodes when remote).
    async fn resolve_refs(&self, refs: &mut [UserRef]) -> Result<()> {
        for named in refs {
            if let UserRef::Handle(handle) = named {
                *named = UserRef::Id(self.resolve_handle(handle).await?.user.user_id);
            }
        }
        Ok(())
    }

    /// Adds a contact named by id or handle (a user of any node).
    pub async fn add_contact(&self, actor: &Actor, mut request: AddContactRequest) -> Result<Contact> {
        self.resolve_refs(std::slice::from_mut(&mut request.contact_user_id))
            .await?;
        let user = request
            .contact_user_id
            .id()
            .ok_or_else(|| Error::invalid("contact_user_id", "unknown user"))?;
        self.contacts.add(actor, user).await
    }

    /// Creates a conversation whose participants may be named by handle, on any node.
    pub async fn create_conversation(
        &self,
        actor: &Actor,
        mut request: CreateConversationRequest,
    ) -> Result<(Conversation, bool)> {
        self.resolve_refs(&mut request.participants).await?;
        self.conversations.create(actor, request).await
    }

    /// Adds a participant named by id or handle to a conversation this node hosts.
    pub async fn add_participant(
        &self,
        actor: &Actor,
        id: ConversationId,
        mut request: AddParticipantRequest,
    ) -> Result<Participant> {
        self.resolve_refs(std::slice::from_mut(&mut request.user_id)).await?;
        self.conversations.add_participant(actor, id, request).await
    }

    /// Posts a message (`POST /v1/messages`, WebSocket `message:send`).
    pub async fn send_message(&self, actor: &Actor, request: SendMessageRequest) -> Result<Message> {
        self.dispatch(actor, request, None).await
    }

    /// Forwards a message the caller can read into another conversation.
    pub async fn forward_message(
        &self,
        actor: &Actor,
        source: MessageId,
        request: ForwardMessageRequest,
    ) -> Result<Message> {
        let send = self.messages.forwarding(actor, source, request)?;
        self.dispatch(actor, send, Some(source)).await
    }

    async fn dispatch(
        &self,
        actor: &Actor,
        request: SendMessageRequest,
        forwarded_from: Option<MessageId>,
    ) -> Result<Message> {
        let record =
            conversations::get(&self.store, request.conversation_id)?.ok_or(Error::NotFound("conversation"))?;
        if let Some(host) = &record.host {
            conversations::require_participant(&self.store, record.id, actor.user_id)?;
            return self.submit(actor, host, request, forwarded_from).await;
        }
        let owners = self
            .remote_owners(request.conversation_id, &request.ciphertexts)
            .await?;
        self.messages
            .store_message(actor, request, forwarded_from, &owners)
            .await
    }

    /// The owners of a message's recipient devices that live on other nodes.
    pub(crate) async fn remote_owners(
        &self,
        conversation: ConversationId,
        copies: &[DeviceCiphertext],
    ) -> Result<HashMap<DeviceId, UserId>> {
        let mut owners = HashMap::new();
        let mut remote_members: Option<Vec<UserId>> = None;
        for copy in copies {
            let device = copy.recipient_device_id;
            if users::get_device(&self.store, device)?.is_some() {
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
            if let Some(owner) = self.remote_device_owner(device, candidates).await? {
                owners.insert(device, owner);
            }
        }
        Ok(owners)
    }

    async fn submit(
        &self,
        actor: &Actor,
        host: &HostRef,
        request: SendMessageRequest,
        forwarded_from: Option<MessageId>,
    ) -> Result<Message> {
        let submission = Submission {
            conversation_id: request.conversation_id,
            sender_id: actor.user_id,
            sender_device_id: actor.device_id,
            client_message_id: request.client_message_id,
            message_type: request.message_type,
            copies: request.ciphertexts.into_iter().map(SubmittedCopy::from).collect(),
            reply_to: request.reply_to,
            mentions: request.mentions,
            forwarded_from,
        };
        let request = Request::Submit(Box::new(submission));
        self.ask_for_user(&host.destination()?, request, submitted).await
    }

    /// Takes a message of `peer`'s user for a conversation this node hosts.
    pub(crate) async fn accept_submission(&self, peer: PeerId, submission: Box<Submission>) -> Response {
        match self.take_submission(peer, *submission).await {
            Ok(message) => Response::Submitted(Box::new(message)),
            Err(err) => refusal(&err),
        }
    }

    async fn take_submission(&self, peer: PeerId, submission: Submission) -> Result<Message> {
        let actor = acting_for(&self.store, peer, submission.sender_id, submission.sender_device_id)?;
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
            reply_to: submission.reply_to,
            mentions: submission.mentions,
        };
        let owners = self
            .remote_owners(request.conversation_id, &request.ciphertexts)
            .await?;
        self.messages
            .store_message(&actor, request, submission.forwarded_from, &owners)
            .await
    }
}

/// Reads a host's answer to a submitted message or change: the message as it now stands.
pub(super) fn submitted(answer: Response) -> std::result::Result<Message, Box<Response>> {
    match answer {
        Response::Submitted(message) => Ok(*message),
        other => Err(Box::new(other)),
    }
}
