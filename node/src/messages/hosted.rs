//! Changes to messages of conversations this node hosts: storing a new one under the next sequence
//! number, editing, deleting and erasing. Each is written here, relayed to the home nodes of remote
//! participants through the outbox, and announced to local connections once durable.

use std::collections::HashMap;

use chrono::Utc;
use protocol::api::{DeviceCiphertext, EditMessageRequest, Message, Role, SendMessageRequest};
use protocol::federation::{Change, Event, MessageChange, NodeName};
use protocol::ws::ServerFrame;
use protocol::{Base64Bytes, DeviceId, MessageId, UserId};

use super::Messages;
use super::records::{MessageRecord, encode_copy};
use super::views::{relayed_copies, relayed_message};
use super::write::{
    DeviceCopy, NewMessage, Sequence, erase, message_by_id, put_record, sent_with, soft_delete, write_message,
};
use crate::conversations::records as conversations;
use crate::remote::homes;
use crate::storage::{Store, TreeId, WriteSet, keys};
use crate::{Actor, Error, Result};

impl Messages {
    /// Stores a message of a conversation this node hosts and fans it out: to local devices over
    /// WebSocket, and through the outbox to the home node of every remote participant (with the copies
    /// of that node's devices, whose owners `remote` names). Resending a `client_message_id` answers with
    /// the original message.
    pub(super) async fn store_message(
        &self,
        actor: &Actor,
        request: SendMessageRequest,
        forwarded_from: Option<MessageId>,
        remote: &HashMap<DeviceId, UserId>,
        id: Option<MessageId>,
    ) -> Result<Message> {
        let conversation = request.conversation_id;
        let guard = self.locks.lock(conversation).await;
        let poster = conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let dedup = keys::idempotency(conversation, actor.user_id, &request.client_message_id);
        if let Some(id) = sent_with(&self.store, &dedup)? {
            drop(guard);
            // The original may still be on its way to disk: answer only once it is durable.
            self.store.commit().await?;
            return self.view(&message_by_id(&self.store, id)?, actor.device_id);
        }
        let (mut record, members) = self.plan(actor, &request, forwarded_from, remote, &poster)?;
        if let Some(id) = id {
            record.id = id;
        }
        let homes = homes::of_members(&self.store, &members)?;
        let remote_user = |user: &UserId| homes.values().any(|(_, users)| users.contains(user));
        // This node's recipient devices, with their ciphertexts (none for a message in the clear).
        let local: Vec<(UserId, DeviceId, Option<&DeviceCiphertext>)> = match record.in_clear {
            true => record
                .recipients
                .iter()
                .map(|(user, device)| (*user, *device, None))
                .collect(),
            false => request
                .ciphertexts
                .iter()
                .zip(&record.recipients)
                .filter(|(_, (user, _))| !remote_user(user))
                .map(|(copy, (user, device))| (*user, *device, Some(copy)))
                .collect(),
        };
        let message = NewMessage {
            record: &record,
            sequence: Sequence::Next,
            copies: local
                .iter()
                .map(|(_, device, copy)| DeviceCopy {
                    device: *device,
                    ciphertext: copy.map(|copy| &copy.ciphertext),
                    header: copy.and_then(|copy| copy.header.as_ref()),
                })
                .collect(),
            origin: None,
        };
        let seq = write_message(&self.store, &self.outbox, &message, |stored| {
            homes
                .values()
                .map(|(to, users)| {
                    let envelope = self
                        .outbox
                        .seal(&relayed_message(stored, &request.ciphertexts, users))?;
                    Ok((to.clone(), envelope))
                })
                .collect()
        })?;
        record.seq = seq;
        let frames = local
            .iter()
            .map(|(user, device, copy)| {
                let event = record.to_event(
                    copy.map(|copy| copy.ciphertext.clone()).unwrap_or_default(),
                    copy.and_then(|copy| copy.header.clone()),
                );
                (*user, *device, ServerFrame::MessageNew(event))
            })
            .collect();
        let release = self.park(&record, frames);
        // Group commit: the lock only orders the writes. Concurrent sends flush together, and each send
        // answers once a flush covering it returns.
        drop(guard);
        self.store.commit().await?;
        self.hub.push(&release);
        for (destination, _) in homes.values() {
            self.outbox.wake(&destination.node);
        }
        self.announce_created(&record, members);
        self.view_with(&record, actor.device_id, None)
    }

    /// Queues, in the write set of the change itself, the news that a message of a hosted conversation
    /// changed for the home node of every remote participant; `change` builds the event for the users of
    /// one node. A crash keeps the change and its news together or neither. Returns the nodes to wake
    /// once the set is committed.
    pub(super) fn relay_change(
        &self,
        set: &mut WriteSet<'_>,
        record: &MessageRecord,
        by: UserId,
        change: impl Fn(&[UserId]) -> Change,
    ) -> Result<Vec<NodeName>> {
        let members = conversations::member_ids(&self.store, record.conversation_id)?;
        let mut woken = Vec::new();
        for (destination, users) in homes::of_members(&self.store, &members)?.values() {
            let event = Event::Changed(MessageChange {
                conversation_id: record.conversation_id,
                message_id: record.id,
                by,
                at: Utc::now(),
                change: change(users),
            });
            self.outbox.push_into(set, destination, self.outbox.seal(&event)?)?;
            woken.push(destination.node.clone());
        }
        Ok(woken)
    }

    /// Applies a change's write set and makes it durable, then wakes the outbox for the nodes that
    /// are to hear of it.
    pub(super) async fn commit_change(&self, set: WriteSet<'_>, woken: Vec<NodeName>) -> Result<()> {
        set.apply()?;
        self.store.commit().await?;
        for node in &woken {
            self.outbox.wake(node);
        }
        Ok(())
    }

    /// Replaces a message's copies (sender only) and tells each recipient device, here directly and on
    /// other nodes through the outbox (`remote` names the owners of other nodes' devices).
    pub(super) async fn edit_here(
        &self,
        actor: &Actor,
        id: MessageId,
        request: EditMessageRequest,
        remote: &HashMap<DeviceId, UserId>,
    ) -> Result<Message> {
        let record = self.changeable(actor, id)?;
        only_the_sender(&record, actor.user_id, "edit")?;
        let _guard = self.locks.lock(record.conversation_id).await;
        // Read again under the lock: a delete may have won the race.
        let mut record = message_by_id(&self.store, id)?;
        still_editable(&record)?;
        if record.in_clear {
            return self.edit_clear(actor, record, request).await;
        }
        if request.body.is_some() {
            return Err(Error::invalid(
                "body",
                "this message is end-to-end encrypted: send new ciphertexts",
            ));
        }
        let members = conversations::member_ids(&self.store, record.conversation_id)?;
        let recipients = self.recipients(&members, &request.ciphertexts, remote)?;
        let mut set = WriteSet::new(&self.store);
        for (_, device) in &record.recipients {
            set.remove(
                TreeId::deviceconvseq_ciphertext,
                keys::copy(*device, record.conversation_id, record.seq),
            );
        }
        for (copy, (_, device)) in request.ciphertexts.iter().zip(&recipients) {
            if remote.contains_key(device) {
                continue;
            }
            set.insert(
                TreeId::deviceconvseq_ciphertext,
                keys::copy(*device, record.conversation_id, record.seq),
                encode_copy(&copy.ciphertext, copy.header.as_ref()),
            );
        }
        record.recipients = recipients;
        record.edited = true;
        record.updated_at = Some(Utc::now());
        put_record(&mut set, &record);
        let woken = self.relay_change(&mut set, &record, actor.user_id, |users| Change::Edited {
            copies: relayed_copies(&record, &request.ciphertexts, users),
            body: None,
        })?;
        self.commit_change(set, woken).await?;
        for (copy, (user, device)) in request.ciphertexts.iter().zip(&record.recipients) {
            let event = record.to_event(copy.ciphertext.clone(), copy.header.clone());
            self.hub
                .send_to_device(*user, *device, &ServerFrame::MessageUpdated(event));
        }
        self.view(&record, actor.device_id)
    }

    /// Replaces the body of a message in the clear; the caller holds the conversation's lock.
    async fn edit_clear(
        &self,
        actor: &Actor,
        mut record: MessageRecord,
        request: EditMessageRequest,
    ) -> Result<Message> {
        let body = request
            .body
            .ok_or_else(|| Error::invalid("body", "this message was sent in the clear: send its new body"))?;
        self.check_clear(&body, &request.ciphertexts)?;
        record.body = Some(body);
        record.edited = true;
        record.updated_at = Some(Utc::now());
        let mut set = WriteSet::new(&self.store);
        put_record(&mut set, &record);
        let woken = self.relay_change(&mut set, &record, actor.user_id, |_| Change::Edited {
            copies: Vec::new(),
            body: record.body.clone(),
        })?;
        self.commit_change(set, woken).await?;
        for (user, device) in &record.recipients {
            let event = record.to_event(Base64Bytes::default(), None);
            self.hub
                .send_to_device(*user, *device, &ServerFrame::MessageUpdated(event));
        }
        self.view(&record, actor.device_id)
    }

    /// Soft-deletes a message (sender only): its content is erased, its slot stays.
    pub(super) async fn delete_here(&self, actor: &Actor, id: MessageId) -> Result<Message> {
        let record = self.changeable(actor, id)?;
        only_the_sender(&record, actor.user_id, "delete")?;
        let _guard = self.locks.lock(record.conversation_id).await;
        let mut record = message_by_id(&self.store, id)?;
        if !record.deleted {
            let mut set = WriteSet::new(&self.store);
            soft_delete(&mut set, &mut record, Utc::now());
            let woken = self.relay_change(&mut set, &record, actor.user_id, |_| Change::Deleted)?;
            self.commit_change(set, woken).await?;
            self.announce_deletion(actor, &record)?;
        }
        self.view_with(&record, actor.device_id, None)
    }

    /// Erases a message entirely (its sender, or an owner or admin of the conversation).
    pub(super) async fn erase_here(&self, actor: &Actor, id: MessageId) -> Result<()> {
        let record = self.changeable(actor, id)?;
        may_erase(&self.store, &record, actor.user_id)?;
        let _guard = self.locks.lock(record.conversation_id).await;
        let record = message_by_id(&self.store, id)?;
        let mut set = WriteSet::new(&self.store);
        erase(&mut set, &record)?;
        let woken = self.relay_change(&mut set, &record, actor.user_id, |_| Change::Erased)?;
        self.commit_change(set, woken).await?;
        self.announce_deletion(actor, &record)
    }
}

/// The sender alone edits and deletes a message (`what` it would do). The host's rule, which a
/// member's node also checks on its copy before queueing a change for the host (`change_queue`).
pub(super) fn only_the_sender(record: &MessageRecord, user: UserId, what: &str) -> Result<()> {
    match record.sender_id == user {
        true => Ok(()),
        false => Err(Error::forbidden(format!("only the sender can {what} a message"))),
    }
}

/// A deleted message takes no edit.
pub(super) fn still_editable(record: &MessageRecord) -> Result<()> {
    match record.deleted {
        true => Err(Error::Conflict("a deleted message cannot be edited".into())),
        false => Ok(()),
    }
}

/// The sender, owners and admins erase a message.
pub(super) fn may_erase(store: &Store, record: &MessageRecord, user: UserId) -> Result<()> {
    let (_, me) = conversations::require_participant(store, record.conversation_id, user)?;
    match record.sender_id == user || me.role >= Role::Admin {
        true => Ok(()),
        false => Err(Error::forbidden(
            "only the sender, owners and admins can erase a message",
        )),
    }
}
