//! Receiving: one `message:new` event decrypted, stored, and its one-time prekey spent. The
//! [`Listener`](crate::Listener) drives this for every event the WebSocket brings.

use protocol::Base64Bytes;
use protocol::crypto::MessageHeader;
use protocol::ws::MessageEvent;

use super::Client;
use crate::error::{Error, Result};
use crate::history::StoredMessage;
use crate::prekeys::PreKeys;
use crate::profile::PREKEYS;
use crate::sessions::SessionRecord;

impl Client {
    /// Decrypts one `message:new` event for this device, stores it and returns it; `None` when it
    /// was already stored (a replay). Checks the initiator's identity key of an initial message
    /// against the key the node publishes for the sending device.
    pub async fn receive(&self, event: &MessageEvent) -> Result<Option<StoredMessage>> {
        let history = &self.inner.history;
        if history.contains(event.conversation_id, event.message_id)? {
            return Ok(None);
        }
        if !event.encrypted {
            return self.receive_in_clear(event).await;
        }
        let header = event
            .header
            .as_ref()
            .ok_or_else(|| Error::Protocol(format!("message {} has no ratchet header", event.message_id)))?;
        let decoded = MessageHeader::decode(&header.0)?;
        if let Some(prekey) = decoded.prekey {
            self.verify_identity(event.sender_id, event.sender_device_id, prekey.identity_key)
                .await?;
        }
        let profile = &self.inner.profile;
        let (stored, used_one_time) = {
            let _guard = profile.lock().await?;
            // Another holder of the profile may have taken it while this one waited for the lock.
            if history.contains(event.conversation_id, event.message_id)? {
                return Ok(None);
            }
            let name = SessionRecord::file_name(event.sender_device_id);
            let mut record = profile
                .read_packed::<SessionRecord>(&name)?
                .unwrap_or_else(|| SessionRecord::new(event.sender_id, event.sender_device_id));
            if record.user_id != event.sender_id {
                return Err(Error::Protocol(format!(
                    "device {} belongs to another user than the sender",
                    event.sender_device_id
                )));
            }
            let mut prekeys: PreKeys = profile.read_packed(PREKEYS)?.unwrap_or_default();
            let decrypted = record
                .decrypt(&self.inner.identity, &prekeys, &header.0, &event.content.0)?
                .ok_or(Error::NoSession {
                    device: event.sender_device_id,
                    message: event.message_id,
                })?;
            let stored = received(event, true, decrypted.plaintext);
            // The message first: if the process dies before the session is saved, the replayed copy
            // is recognised as received, and the stale session still decrypts the next message.
            history.append(&stored)?;
            profile.write_packed(&name, &record)?;
            if let Some(id) = decrypted.used_one_time
                && prekeys.remove_one_time(id)
            {
                profile.write_packed(PREKEYS, &prekeys)?;
            }
            (stored, decrypted.used_one_time)
        };
        if used_one_time.is_some()
            && let Err(err) = self.refill_one_time_prekeys().await
        {
            tracing::warn!(%err, "could not top up one-time prekeys");
        }
        Ok(Some(stored))
    }

    /// Stores a message its sender sent in the clear, marked so, as it came: there is nothing to
    /// decrypt or verify.
    async fn receive_in_clear(&self, event: &MessageEvent) -> Result<Option<StoredMessage>> {
        let body = event
            .body
            .as_ref()
            .ok_or_else(|| Error::Protocol(format!("message {} is in the clear without a body", event.message_id)))?;
        let stored = received(event, false, body.clone().into_bytes());
        let _guard = self.inner.profile.lock().await?;
        if self.inner.history.contains(event.conversation_id, event.message_id)? {
            return Ok(None);
        }
        self.inner.history.append(&stored)?;
        Ok(Some(stored))
    }
}

/// What this device keeps of a message it received, with its content.
fn received(event: &MessageEvent, encrypted: bool, plaintext: Vec<u8>) -> StoredMessage {
    StoredMessage {
        message_id: event.message_id,
        conversation_id: event.conversation_id,
        sequence_number: event.sequence_number,
        sender_id: event.sender_id,
        sender_device_id: event.sender_device_id,
        client_message_id: event.client_message_id.clone(),
        message_type: event.message_type,
        created_at: event.created_at,
        outgoing: false,
        encrypted,
        plaintext: Base64Bytes(plaintext),
    }
}
