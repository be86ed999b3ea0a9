//! Sending: one ciphertext per recipient device, starting sessions from claimed bundles as needed,
//! posted once and retried with the same idempotency key.

use std::time::Duration;

use protocol::api::{DeviceCiphertext, Message, PublicDeviceList, SendMessageRequest};
use protocol::crypto::Session;
use protocol::{Base64Bytes, ClientMessageId, ConversationId, DeviceId, MessageType, UserId};
use reqwest::Method;

use super::Client;
use crate::error::{Error, Result};
use crate::history::StoredMessage;
use crate::profile::TRUST;
use crate::sessions::SessionRecord;
use crate::trust::{Trust, Verdict};

/// Attempts at posting one message when the node is unreachable or answers 5xx.
const SEND_ATTEMPTS: u32 = 4;

/// The outcome of a send.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// The message as stored in this device's history.
    pub message: StoredMessage,
    /// The devices it was encrypted for.
    pub recipients: Vec<DeviceId>,
    /// Active devices of participants that could not be encrypted for (no published keys).
    pub skipped: Vec<DeviceId>,
}

impl Client {
    /// Encrypts `plaintext` as a `text` message for every device in the conversation (the other
    /// participants' active devices and this user's other devices) and posts it.
    pub async fn send(&self, conversation: ConversationId, plaintext: impl AsRef<[u8]>) -> Result<SentMessage> {
        self.send_message(
            conversation,
            MessageType::Text,
            ClientMessageId::random(),
            plaintext.as_ref(),
        )
        .await
    }

    /// [`Client::send`] with an explicit message type and idempotency key: posting the same
    /// `client_message_id` again returns the original message instead of a duplicate.
    pub async fn send_message(
        &self,
        conversation: ConversationId,
        message_type: MessageType,
        client_message_id: ClientMessageId,
        plaintext: &[u8],
    ) -> Result<SentMessage> {
        let mut targets = Vec::new();
        let mut skipped = Vec::new();
        for participant in self.participants(conversation).await? {
            let devices: PublicDeviceList = self
                .call(
                    Method::GET,
                    &format!("/users/{}/devices", participant.user_id),
                    &[],
                    None,
                )
                .await?;
            for device in devices.devices {
                if device.id == self.device_id() {
                    continue;
                }
                if device.has_active_keys {
                    targets.push((participant.user_id, device.id));
                } else {
                    skipped.push(device.id);
                }
            }
        }
        let ciphertexts = self.encrypt_for(&targets, plaintext, &mut skipped).await?;
        let recipients = ciphertexts.iter().map(|c| c.recipient_device_id).collect();
        let request = SendMessageRequest {
            conversation_id: conversation,
            ciphertexts,
            message_type,
            client_message_id,
            body: None,
            reply_to: None,
            mentions: Vec::new(),
        };
        let stored = self.post(&request).await?;
        let message = self.remember_sent(stored, true, plaintext)?;
        Ok(SentMessage {
            message,
            recipients,
            skipped,
        })
    }

    /// Posts `text` in the clear: one copy for the whole conversation, which the node (and anyone with
    /// its data) can read, for conversations with users of clients that do not encrypt (the other API
    /// dialects). Every participant's device receives it, keys or not.
    pub async fn send_in_clear(&self, conversation: ConversationId, text: &str) -> Result<SentMessage> {
        let request = SendMessageRequest {
            conversation_id: conversation,
            ciphertexts: Vec::new(),
            message_type: MessageType::Text,
            client_message_id: ClientMessageId::random(),
            body: Some(text.to_owned()),
            reply_to: None,
            mentions: Vec::new(),
        };
        let stored = self.post(&request).await?;
        let message = self.remember_sent(stored, false, text.as_bytes())?;
        Ok(SentMessage {
            message,
            recipients: Vec::new(),
            skipped: Vec::new(),
        })
    }

    /// Posts a message, retrying with the same `client_message_id` while the node is unreachable.
    async fn post(&self, request: &SendMessageRequest) -> Result<Message> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.call(Method::POST, "/messages", &[], Some(request)).await {
                Ok(message) => return Ok(message),
                Err(err) if err.is_transient() && attempt < SEND_ATTEMPTS => {
                    tracing::debug!(%err, attempt, "send failed; retrying with the same client_message_id");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Keeps a message this device sent in its history.
    fn remember_sent(&self, stored: Message, encrypted: bool, plaintext: &[u8]) -> Result<StoredMessage> {
        let conversation = stored.conversation_id;
        let message = StoredMessage {
            message_id: stored.id,
            conversation_id: stored.conversation_id,
            sequence_number: stored.sequence_number,
            sender_id: self.user_id(),
            sender_device_id: self.device_id(),
            client_message_id: stored.client_message_id,
            message_type: stored.message_type,
            created_at: stored.created_at,
            outgoing: true,
            encrypted,
            plaintext: Base64Bytes(plaintext.to_vec()),
        };
        if !self.inner.history.contains(conversation, message.message_id)? {
            self.inner.history.append(&message)?;
        }
        Ok(message)
    }

    /// One ciphertext per target device, starting a session (from a freshly claimed bundle) with
    /// each device this device has none with. Sessions are saved before the message is posted, so a
    /// failed post costs the peer one skipped message key, never a reused one.
    async fn encrypt_for(
        &self,
        targets: &[(UserId, DeviceId)],
        plaintext: &[u8],
        skipped: &mut Vec<DeviceId>,
    ) -> Result<Vec<DeviceCiphertext>> {
        let profile = &self.inner.profile;
        let _guard = profile.lock().await?;
        let mut trust: Option<Trust> = None;
        let mut ciphertexts = Vec::with_capacity(targets.len());
        for &(user, device) in targets {
            let name = SessionRecord::file_name(device);
            let mut record = profile
                .read_packed::<SessionRecord>(&name)?
                .unwrap_or_else(|| SessionRecord::new(user, device));
            if record.user_id != user {
                return Err(Error::Protocol(format!("device {device} moved to another user")));
            }
            if record.is_empty() {
                let Some(bundle) = self.claim_bundle(user, device).await? else {
                    skipped.push(device);
                    continue;
                };
                let pins = match &mut trust {
                    Some(pins) => pins,
                    None => trust.insert(profile.read_json(TRUST)?.unwrap_or_default()),
                };
                if pins.check(user, device, &bundle.identity_key)? == Verdict::New {
                    pins.pin(user, device, bundle.identity_key);
                    profile.write_json(TRUST, pins)?;
                }
                record.add(Session::initiate(&self.inner.identity, &bundle)?);
            }
            let session = record
                .current_mut()
                .ok_or_else(|| Error::Protocol("a session vanished while encrypting".into()))?;
            let encrypted = session.encrypt(plaintext)?;
            profile.write_packed(&name, &record)?;
            ciphertexts.push(encrypted.into_device_ciphertext(device));
        }
        Ok(ciphertexts)
    }
}
