//! Checking a message before it is written: who may post, which devices receive a copy, what it may
//! refer to, and the limits every message meets, whether a client sent it here or its host relayed it
//! (the host is trusted with its conversation's order, not with this node's resources).

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use protocol::api::{ConversationKind, DeviceCiphertext, Role, SendMessageRequest};
use protocol::federation::{RelayedCopy, RelayedMessage};
use protocol::{ConversationId, DeviceId, MessageId, UserId};

use super::records::MessageRecord;
use super::write::message_by_id;
use super::{MAX_BODY_CHARS, MAX_CIPHERTEXT_BYTES, MAX_HEADER_BYTES, MAX_MENTIONS, MAX_RECIPIENT_DEVICES, Messages};
use crate::contacts;
use crate::conversations::records::{self as conversations, ConversationRecord, ParticipantRecord};
use crate::remote::homes;
use crate::users::records::{devices_of, get_device};
use crate::{Actor, Error, Result};

/// A conversation and the caller's place in it, as read under the conversation's lock
/// (`conversations::require_participant`).
pub(super) type Poster = (ConversationRecord, ParticipantRecord);

/// Who may post where: a participant, in a channel only an owner or admin, in a DM only when the other
/// side has not blocked the sender. Returns the conversation's members. Called under the conversation's
/// lock, where no removal can slip in before the write.
pub(super) fn may_post(store: &crate::storage::Store, poster: &Poster, actor: &Actor) -> Result<Vec<UserId>> {
    let (record, me) = poster;
    if record.kind == ConversationKind::Channel && me.role < Role::Admin {
        return Err(Error::forbidden("only owners and admins post in a channel"));
    }
    let members = conversations::member_ids(store, record.id)?;
    if record.kind == ConversationKind::Dm {
        for other in &members {
            if *other != actor.user_id {
                contacts::ensure_not_blocked_by(store, *other, actor.user_id)?;
            }
        }
    }
    Ok(members)
}

impl Messages {
    /// Checks a new message of a conversation this node hosts, under the conversation's lock, and
    /// builds its record (without a sequence number yet). Returns the conversation's members with it.
    pub(super) fn plan(
        &self,
        actor: &Actor,
        request: &SendMessageRequest,
        forwarded_from: Option<MessageId>,
        remote: &HashMap<DeviceId, UserId>,
        poster: &Poster,
    ) -> Result<(MessageRecord, Vec<UserId>)> {
        let conversation = request.conversation_id;
        let members = may_post(&self.store, poster, actor)?;
        let recipients = match &request.body {
            Some(body) => {
                self.check_clear(body, &request.ciphertexts)?;
                self.clear_recipients(&members, actor)?
            }
            None => self.recipients(&members, &request.ciphertexts, remote)?,
        };
        let (reply_to, mentions) = self.references(conversation, request)?;
        let record = MessageRecord {
            id: MessageId::time_ordered(),
            conversation_id: conversation,
            sender_id: actor.user_id,
            sender_device_id: actor.device_id,
            client_message_id: request.client_message_id.clone(),
            seq: 0,
            message_type: request.message_type,
            created_at: Utc::now(),
            updated_at: None,
            edited: false,
            deleted: false,
            recipients,
            reply_to,
            mentions,
            forwarded_from,
            in_clear: request.body.is_some(),
            body: request.body.clone(),
            queue_position: None,
        };
        Ok((record, members))
    }

    /// A message in the clear: allowed on this node, within limits, and with no ciphertexts beside it.
    pub(super) fn check_clear(&self, body: &str, ciphertexts: &[DeviceCiphertext]) -> Result<()> {
        if !self.allow_unencrypted {
            return Err(Error::forbidden(
                "this node accepts only end-to-end encrypted messages (it runs with --allow-unencrypted false)",
            ));
        }
        if !ciphertexts.is_empty() {
            return Err(Error::invalid("ciphertexts", "must be empty when a body is given"));
        }
        check_body(body)
    }

    /// Who receives a message in the clear here: every active device of this node's participants but
    /// the sending one. Other nodes' participants get it from their home nodes.
    fn clear_recipients(&self, members: &[UserId], actor: &Actor) -> Result<Vec<(UserId, DeviceId)>> {
        let mut recipients = Vec::new();
        for user in members {
            if homes::get(&self.store, *user)?.is_some() {
                continue;
            }
            for device in devices_of(&self.store, *user)? {
                if device.active && device.id != actor.device_id {
                    recipients.push((*user, device.id));
                }
            }
        }
        Ok(recipients)
    }

    /// Checks a message's copies: each names an active device of one of the conversation's `members`,
    /// once, within limits. Devices of other nodes' users are looked up in `remote` (device -> owner).
    pub(super) fn recipients(
        &self,
        members: &[UserId],
        copies: &[DeviceCiphertext],
        remote: &HashMap<DeviceId, UserId>,
    ) -> Result<Vec<(UserId, DeviceId)>> {
        if copies.len() > MAX_RECIPIENT_DEVICES {
            return Err(Error::invalid(
                "ciphertexts",
                format!("at most {MAX_RECIPIENT_DEVICES} recipient devices"),
            ));
        }
        let members: HashSet<UserId> = members.iter().copied().collect();
        let mut seen = HashSet::new();
        let mut recipients = Vec::with_capacity(copies.len());
        for (index, copy) in copies.iter().enumerate() {
            let field = |name: &str| format!("ciphertexts[{index}].{name}");
            if copy.ciphertext.is_empty() {
                return Err(Error::invalid(field("ciphertext"), "must not be empty"));
            }
            if copy.ciphertext.len() > MAX_CIPHERTEXT_BYTES {
                return Err(Error::invalid(
                    field("ciphertext"),
                    format!("must be at most {MAX_CIPHERTEXT_BYTES} bytes"),
                ));
            }
            if copy.header.as_ref().is_some_and(|h| h.len() > MAX_HEADER_BYTES) {
                return Err(Error::invalid(
                    field("header"),
                    format!("must be at most {MAX_HEADER_BYTES} bytes"),
                ));
            }
            if !seen.insert(copy.recipient_device_id) {
                return Err(Error::invalid(field("recipient_device_id"), "names a device twice"));
            }
            let device = copy.recipient_device_id;
            match get_device(&self.store, device)? {
                Some(local) if local.active && members.contains(&local.user_id) => {
                    recipients.push((local.user_id, local.id));
                }
                None if remote.get(&device).is_some_and(|owner| members.contains(owner)) => {
                    recipients.push((remote[&device], device));
                }
                _ => {
                    return Err(Error::invalid(
                        field("recipient_device_id"),
                        "is not an active device of a participant",
                    ));
                }
            }
        }
        Ok(recipients)
    }

    /// Checks what a message refers to: a reply names a message of the same conversation, mentions
    /// name participants.
    pub(super) fn references(
        &self,
        conversation: ConversationId,
        request: &SendMessageRequest,
    ) -> Result<(Option<MessageId>, Vec<UserId>)> {
        if let Some(reply_to) = request.reply_to {
            match message_by_id(&self.store, reply_to) {
                Ok(original) if original.conversation_id == conversation => {}
                Ok(_) | Err(Error::NotFound(_)) => {
                    return Err(Error::invalid("reply_to", "is not a message of this conversation"));
                }
                Err(err) => return Err(err),
            }
        }
        if request.mentions.len() > MAX_MENTIONS {
            return Err(Error::invalid("mentions", format!("at most {MAX_MENTIONS} users")));
        }
        let mut mentions = Vec::with_capacity(request.mentions.len());
        for user in &request.mentions {
            if conversations::participant(&self.store, conversation, *user)?.is_none() {
                return Err(Error::invalid("mentions", format!("user {user} is not a participant")));
            }
            if !mentions.contains(user) {
                mentions.push(*user);
            }
        }
        Ok((request.reply_to, mentions))
    }
}

/// The limits a local send must meet hold for a relayed one too: the host is trusted with its
/// conversation's order, not with this node's resources. (Its type and idempotency key were checked
/// when the event was decoded.)
pub(super) fn check_relayed(message: &RelayedMessage) -> Result<()> {
    if message.seq == 0 {
        return Err(Error::invalid("seq", "must be at least 1"));
    }
    if message.mentions.len() > MAX_MENTIONS {
        return Err(Error::invalid("mentions", format!("at most {MAX_MENTIONS}")));
    }
    if let Some(body) = &message.body {
        if !message.copies.is_empty() {
            return Err(Error::invalid("copies", "must be empty beside a body"));
        }
        check_body(body)?;
    }
    check_copies(&message.copies)
}

/// The limits of a body in the clear, wherever it comes from.
pub(super) fn check_body(body: &str) -> Result<()> {
    if body.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(Error::invalid(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Relayed copies are limited like submitted ones.
pub(super) fn check_copies(copies: &[RelayedCopy]) -> Result<()> {
    if copies.len() > MAX_RECIPIENT_DEVICES {
        return Err(Error::invalid("copies", format!("at most {MAX_RECIPIENT_DEVICES}")));
    }
    for copy in copies {
        if copy.ciphertext.is_empty() || copy.ciphertext.len() > MAX_CIPHERTEXT_BYTES {
            return Err(Error::invalid("copies", "a ciphertext is empty or too large"));
        }
        if copy
            .header
            .as_ref()
            .is_some_and(|header| header.len() > MAX_HEADER_BYTES)
        {
            return Err(Error::invalid("copies", "a header is too large"));
        }
    }
    Ok(())
}
