//! Telling live connections about message changes, once they are durable. New messages park their
//! frames in the hub until their flush (see `realtime::Push::Release`); deletions go to every
//! participant's connections.

use chrono::Utc;
use protocol::webhooks::WebhookEvent;
use protocol::ws::ServerFrame;
use protocol::{ConversationId, UserId};

use super::Messages;
use super::records::MessageRecord;
use crate::conversations::records as conversations;
use crate::realtime::{DeviceFrame, Push};
use crate::{Actor, Result};

impl Messages {
    /// Holds the frames of a message stored under `seq` until its flush, and says what releases them.
    pub(super) fn park(&self, record: &MessageRecord, frames: Vec<DeviceFrame>) -> Push {
        self.hub.park(record.conversation_id, record.seq, frames);
        Push::Release {
            conversation: record.conversation_id,
            seq: record.seq,
        }
    }

    pub(super) fn announce_deletion(&self, actor: &Actor, record: &MessageRecord) -> Result<()> {
        let frame = ServerFrame::MessageDeleted {
            timestamp: Utc::now(),
            user_id: actor.user_id,
            conversation_id: record.conversation_id,
            message_id: record.id,
            sequence_number: record.seq,
        };
        self.to_participants(record.conversation_id, &frame)
    }

    /// Queues a frame for every live connection of every participant of a conversation.
    pub(super) fn to_participants(&self, conversation: ConversationId, frame: &ServerFrame) -> Result<()> {
        for (user, _) in conversations::participants(&self.store, conversation)? {
            self.hub.send_to_user(user, frame);
        }
        Ok(())
    }

    /// Tells the members' webhooks of a new message: metadata only, never content.
    pub(super) fn announce_created(&self, record: &MessageRecord, members: Vec<UserId>) {
        let data = || {
            serde_json::json!({
                "message_id": record.id,
                "conversation_id": record.conversation_id,
                "sender_id": record.sender_id,
                "sender_device_id": record.sender_device_id,
                "sequence_number": record.seq,
                "message_type": record.message_type,
                "created_at": record.created_at,
            })
        };
        self.webhooks.emit(members, WebhookEvent::MessageCreated, data);
    }
}
