//! Delivered and read marks: per message, or everything up to a message at once.

use chrono::Utc;
use libp2p::PeerId;
use protocol::api::{DeliveryState, Message, ReadUpTo, ReadUpToRequest, Receipt, Timestamp};
use protocol::federation::{Event, ReceiptNotice};
use protocol::ws::{ReceiptEvent, ServerFrame};
use protocol::{ConversationId, MessageId, UserId};

use super::Messages;
use super::records::MessageRecord;
use super::records::ReceiptRecord;
use super::write::{dequeue, message_by_id};
use crate::conversations::records as conversations;
use crate::federation::Destination;
use crate::realtime::Push;
use crate::remote::homes;
use crate::storage::{decode, encode, keys};
use crate::{Actor, Error, Result};

impl Messages {
    /// The receipt stored under `key` (a message and a user), empty when there is none.
    fn receipt_at(&self, key: &[u8]) -> Result<ReceiptRecord> {
        Ok(self
            .store
            .trees
            .messageuser_receipt
            .get(key)?
            .map(|b| decode(&b))
            .transpose()?
            .unwrap_or_default())
    }

    /// How far `message` has got, as the caller sees it (see [`DeliveryState`]): one scan of the
    /// message's receipts.
    pub fn delivery_state(&self, actor: &Actor, message: &Message) -> Result<DeliveryState> {
        let own = message.sender_id == actor.user_id;
        if !own {
            let receipt = self.receipt_at(&keys::receipt(message.id, actor.user_id))?;
            return Ok(match receipt.read_at {
                Some(_) => DeliveryState::Read,
                None => DeliveryState::Delivered,
            });
        }
        let mut state = DeliveryState::Sent;
        for entry in self.store.trees.messageuser_receipt.scan_prefix(message.id.as_bytes()) {
            let (key, value) = entry?;
            // The sender's own other devices mark it too; they are not its recipients.
            if keys::id_at(&key, 16).map(UserId::from_bytes) == Some(actor.user_id) {
                continue;
            }
            let receipt: ReceiptRecord = decode(&value)?;
            if receipt.read_at.is_some() {
                return Ok(DeliveryState::Read);
            }
            if receipt.delivered_at.is_some() {
                state = DeliveryState::Delivered;
            }
        }
        Ok(state)
    }

    /// Records that the caller's device has the message: it leaves the device's queue, and the sender
    /// hears of the first delivery to this user.
    pub async fn mark_delivered(&self, actor: &Actor, id: MessageId) -> Result<Receipt> {
        self.mark(actor, id, false).await
    }

    /// Records that the caller read the message (which implies delivery) and tells the sender.
    pub async fn mark_read(&self, actor: &Actor, id: MessageId) -> Result<Receipt> {
        self.mark(actor, id, true).await
    }

    /// Stores that the user of `key` has the message (and, with `read`, has read it); returns the
    /// receipt as stored, and whether this was its first delivery and its first read. Most marks are
    /// a user's first of the message, so storing a new receipt is tried first: one walk down the tree,
    /// where reading the receipt and then swapping it takes two.
    fn record_receipt(&self, key: &[u8], now: Timestamp, read: bool) -> Result<(ReceiptRecord, bool, bool)> {
        let tree = &self.store.trees.messageuser_receipt;
        let fresh = ReceiptRecord {
            delivered_at: Some(now),
            read_at: read.then_some(now),
        };
        if tree.compare_and_swap(key, None::<&[u8]>, Some(encode(&fresh)))?.is_ok() {
            return Ok((fresh, true, read));
        }
        let (mut first_delivery, mut first_read) = (false, false);
        let updated = tree.update_and_fetch(key, |old| {
            let mut receipt: ReceiptRecord = old.and_then(|b| decode(b).ok()).unwrap_or_default();
            first_delivery = receipt.delivered_at.is_none();
            first_read = read && receipt.read_at.is_none();
            receipt.delivered_at.get_or_insert(now);
            if read {
                receipt.read_at.get_or_insert(now);
            }
            Some(encode(&receipt))
        })?;
        let receipt = updated.map(|b| decode(&b)).transpose()?.unwrap_or_default();
        Ok((receipt, first_delivery, first_read))
    }

    async fn mark(&self, actor: &Actor, id: MessageId, read: bool) -> Result<Receipt> {
        let record = message_by_id(&self.store, id)?;
        let hosting = conversations::require_member(&self.store, record.conversation_id, actor.user_id)?;
        if dequeue(&self.store, actor.device_id, &record)? {
            self.delivered.inc();
        }
        let now = Utc::now();
        let (receipt, first_delivery, first_read) =
            self.record_receipt(&keys::receipt(id, actor.user_id), now, read)?;
        if record.sender_id != actor.user_id && (first_delivery || first_read) {
            self.relay_receipt(hosting.host.as_ref(), &record, actor.user_id, first_read, now)?;
        }
        // A delivery receipt is not flushed: the store writes it within its flush interval, and one a
        // crash loses only brings the message back to the device, which drops it by id and
        // acknowledges it again. A flush per receipt would double the disk writes per message.
        if read {
            self.store.commit().await?;
        }
        if record.sender_id != actor.user_id {
            let receipt_event = |reader: bool| ReceiptEvent {
                timestamp: now,
                user_id: actor.user_id,
                conversation_id: record.conversation_id,
                message_id: id,
                reader_id: reader.then_some(actor.user_id),
                recipient_id: (!reader).then_some(actor.user_id),
            };
            if first_delivery {
                self.hub
                    .send_to_user(record.sender_id, &ServerFrame::MessageDelivered(receipt_event(false)));
            }
            if first_read {
                self.hub
                    .send_to_user(record.sender_id, &ServerFrame::MessageRead(receipt_event(true)));
            }
        }
        Ok(Receipt {
            message_id: id,
            user_id: actor.user_id,
            delivered_at: receipt.delivered_at,
            read_at: receipt.read_at,
        })
    }

    /// Marks every message of a conversation up to `message_id` (or up to the newest) read by the caller,
    /// takes them out of this device's queue, and tells each sender once, naming its newest message read.
    pub async fn read_up_to(
        &self,
        actor: &Actor,
        conversation: ConversationId,
        request: ReadUpToRequest,
    ) -> Result<ReadUpTo> {
        let (in_conversation, me) = conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let through = match request.message_id {
            Some(id) => {
                let record = message_by_id(&self.store, id)?;
                if record.conversation_id != conversation {
                    return Err(Error::invalid("message_id", "is not a message of this conversation"));
                }
                record.seq
            }
            None => conversations::activity(&self.store, conversation)?.last_seq,
        };
        let now = Utc::now();
        let mut marked = 0;
        let mut newest_per_sender: Vec<(UserId, MessageRecord)> = Vec::new();
        let from = me.read_through.max(me.cleared_through).saturating_add(1);
        let range = self
            .store
            .trees
            .convseq_message
            .range(keys::id_seq(conversation.as_bytes(), from)..=keys::id_seq(conversation.as_bytes(), through));
        for entry in range {
            let record: MessageRecord = decode(&entry?.1)?;
            if dequeue(&self.store, actor.device_id, &record)? {
                self.delivered.inc();
            }
            if record.sender_id == actor.user_id {
                continue;
            }
            let key = keys::receipt(record.id, actor.user_id);
            let mut receipt = self.receipt_at(&key)?;
            if receipt.read_at.is_none() {
                receipt.delivered_at.get_or_insert(now);
                receipt.read_at = Some(now);
                self.store.trees.messageuser_receipt.insert(key, encode(&receipt))?;
                marked += 1;
                match newest_per_sender
                    .iter_mut()
                    .find(|(sender, _)| *sender == record.sender_id)
                {
                    Some(slot) => slot.1 = record,
                    None => newest_per_sender.push((record.sender_id, record)),
                }
            }
        }
        {
            let _guard = self.locks.lock(conversation).await;
            if let Some(mut me) = conversations::participant(&self.store, conversation, actor.user_id)? {
                me.read_through = me.read_through.max(through);
                conversations::put_participant(&self.store, conversation, actor.user_id, &me)?;
            }
        }
        for (_, record) in &newest_per_sender {
            self.relay_receipt(in_conversation.host.as_ref(), record, actor.user_id, true, now)?;
        }
        self.store.commit().await?;
        for (sender, record) in newest_per_sender {
            let event = ReceiptEvent {
                timestamp: now,
                user_id: actor.user_id,
                conversation_id: conversation,
                message_id: record.id,
                reader_id: Some(actor.user_id),
                recipient_id: None,
            };
            self.hub.send_to_user(sender, &ServerFrame::MessageRead(event));
        }
        Ok(ReadUpTo {
            read_through: through,
            marked,
        })
    }

    /// Queues a receipt of a local user for another node: the `host` of the message's conversation, or
    /// (when this node hosts it) the sender's home node. The caller commits.
    fn relay_receipt(
        &self,
        host: Option<&Destination>,
        record: &MessageRecord,
        user: UserId,
        read: bool,
        at: Timestamp,
    ) -> Result<()> {
        let to = match host {
            Some(host) => host.clone(),
            None => match homes::get(&self.store, record.sender_id)? {
                Some(home) => home.destination(),
                None => return Ok(()),
            },
        };
        let notice = ReceiptNotice {
            conversation_id: record.conversation_id,
            message_id: record.id,
            user_id: user,
            read,
            at,
        };
        self.outbox.push(&to, &Event::Receipt(notice)).map(drop)
    }

    /// Applies a receipt from another node: from the reader's home node when this node hosts the
    /// conversation (then passed on to the sender's home node if it is remote), or from the host.
    pub(crate) fn apply_relayed_receipt(&self, peer: PeerId, notice: &ReceiptNotice) -> Result<Vec<Push>> {
        let record = message_by_id(&self.store, notice.message_id)?;
        if record.conversation_id != notice.conversation_id {
            return Err(Error::invalid("conversation_id", "is not the message's conversation"));
        }
        let conversation =
            conversations::get(&self.store, record.conversation_id)?.ok_or(Error::NotFound("conversation"))?;
        let entitled = match &conversation.host {
            Some(host) => host.peer == peer,
            None => homes::get(&self.store, notice.user_id)?.is_some_and(|home| home.peer_id == peer),
        };
        if !entitled {
            return Err(Error::forbidden("a node speaks only for its own users' receipts"));
        }
        if conversations::participant(&self.store, record.conversation_id, notice.user_id)?.is_none() {
            return Err(Error::forbidden("the reader is not a participant"));
        }
        let key = keys::receipt(record.id, notice.user_id);
        let mut receipt = self.receipt_at(&key)?;
        let first = if notice.read {
            receipt.read_at.is_none()
        } else {
            receipt.delivered_at.is_none()
        };
        receipt.delivered_at.get_or_insert(notice.at);
        if notice.read {
            receipt.read_at.get_or_insert(notice.at);
        }
        self.store.trees.messageuser_receipt.insert(key, encode(&receipt))?;
        if !first {
            return Ok(Vec::new());
        }
        if conversation.host.is_none() {
            self.relay_receipt(None, &record, notice.user_id, notice.read, notice.at)?;
        }
        let event = ReceiptEvent {
            timestamp: notice.at,
            user_id: notice.user_id,
            conversation_id: record.conversation_id,
            message_id: record.id,
            reader_id: notice.read.then_some(notice.user_id),
            recipient_id: (!notice.read).then_some(notice.user_id),
        };
        let frame = if notice.read {
            ServerFrame::MessageRead(event)
        } else {
            ServerFrame::MessageDelivered(event)
        };
        Ok(vec![Push::User(record.sender_id, frame)])
    }
}
