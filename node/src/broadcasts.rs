//! Broadcast lists: private to their owner, who sends one message that reaches each recipient as a DM.
//! The content is encrypted per device by the client, so a broadcast carries every recipient's copies
//! and the node files each user's copies into that user's DM with the owner.

use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    Broadcast, BroadcastDelivery, BroadcastList, BroadcastMessageRequest, BroadcastSearchQuery, BroadcastSent,
    BulkResult, ConversationKind, CreateBroadcastRequest, CreateConversationRequest, DeviceCiphertext, Recipient,
    RecipientCheck, RecipientCount, RecipientList, SendMessageRequest, Timestamp, UpdateBroadcastRequest,
};
use protocol::{BroadcastId, ClientMessageId, UserId};
use serde::{Deserialize, Serialize};

use crate::conversations::Conversations;
use crate::messages::Messages;
use crate::realtime::Hub;
use crate::storage::{Store, decode, encode, keys};
use crate::{Actor, Error, Result, contacts, users, validate};

/// Most recipients a list may hold.
pub(crate) const MAX_RECIPIENTS: usize = 1000;
/// Most users one bulk change may name.
pub(crate) const MAX_BULK: usize = 500;
/// Longest idempotency key of a broadcast, so that each DM's key (this one with `:<recipient id>`, 37
/// more characters, appended) still fits [`ClientMessageId::MAX_CHARS`].
const MAX_CLIENT_ID_CHARS: usize = 80;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BroadcastRecord {
    id: BroadcastId,
    owner_id: UserId,
    name: String,
    description: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RecipientRecord {
    added_at: Timestamp,
}

/// The broadcasts service.
pub struct Broadcasts {
    store: Store,
    conversations: Arc<Conversations>,
    messages: Arc<Messages>,
    hub: Arc<Hub>,
}

impl Broadcasts {
    pub(crate) fn new(store: Store, conversations: Arc<Conversations>, messages: Arc<Messages>, hub: Arc<Hub>) -> Self {
        Self {
            store,
            conversations,
            messages,
            hub,
        }
    }

    /// A list of the caller's; anyone else's is reported as not found.
    fn own(&self, actor: &Actor, id: BroadcastId) -> Result<BroadcastRecord> {
        let record: Option<BroadcastRecord> = self
            .store
            .trees
            .broadcastid_broadcast
            .get(id.as_bytes())?
            .map(|b| decode(&b))
            .transpose()?;
        match record {
            Some(record) if record.owner_id == actor.user_id => Ok(record),
            _ => Err(Error::NotFound("broadcast")),
        }
    }

    fn count(&self, id: BroadcastId) -> usize {
        self.store
            .trees
            .broadcastuser_recipient
            .scan_prefix(id.as_bytes())
            .count()
    }

    fn view(&self, record: &BroadcastRecord) -> Broadcast {
        Broadcast {
            id: record.id,
            name: record.name.clone(),
            description: record.description.clone(),
            owner_id: record.owner_id,
            recipient_count: self.count(record.id),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }

    fn save(&self, record: &BroadcastRecord) -> Result<()> {
        self.store
            .trees
            .broadcastid_broadcast
            .insert(record.id.as_bytes(), encode(record))?;
        self.store
            .trees
            .ownerbroadcast_broadcast
            .insert(keys::join(&[record.owner_id.as_bytes(), record.id.as_bytes()]), &[])?;
        Ok(())
    }

    /// Creates a list.
    pub async fn create(&self, actor: &Actor, request: CreateBroadcastRequest) -> Result<Broadcast> {
        let now = Utc::now();
        let record = BroadcastRecord {
            id: BroadcastId::random(),
            owner_id: actor.user_id,
            name: validate::text("name", &request.name, 1, 100)?,
            description: validate::optional_text("description", request.description.as_deref(), 500)?,
            created_at: now,
            updated_at: now,
        };
        self.save(&record)?;
        self.store.commit().await?;
        Ok(self.view(&record))
    }

    /// One of the caller's lists.
    pub fn get(&self, actor: &Actor, id: BroadcastId) -> Result<Broadcast> {
        Ok(self.view(&self.own(actor, id)?))
    }

    /// Renames or redescribes a list.
    pub async fn update(&self, actor: &Actor, id: BroadcastId, request: UpdateBroadcastRequest) -> Result<Broadcast> {
        let mut record = self.own(actor, id)?;
        if let Some(name) = &request.name {
            record.name = validate::text("name", name, 1, 100)?;
        }
        if request.description.is_some() {
            record.description = validate::optional_text("description", request.description.as_deref(), 500)?;
        }
        record.updated_at = Utc::now();
        self.save(&record)?;
        self.store.commit().await?;
        Ok(self.view(&record))
    }

    /// Deletes a list and its recipients (the DMs it produced stay).
    pub async fn delete(&self, actor: &Actor, id: BroadcastId) -> Result<()> {
        let record = self.own(actor, id)?;
        let t = &self.store.trees;
        for entry in t.broadcastuser_recipient.scan_prefix(id.as_bytes()) {
            t.broadcastuser_recipient.remove(entry?.0)?;
        }
        t.ownerbroadcast_broadcast
            .remove(keys::join(&[record.owner_id.as_bytes(), id.as_bytes()]))?;
        t.broadcastid_broadcast.remove(id.as_bytes())?;
        self.store.commit().await
    }

    /// The caller's lists, by name.
    pub fn list(&self, actor: &Actor) -> Result<BroadcastList> {
        let mut broadcasts = Vec::new();
        for entry in self
            .store
            .trees
            .ownerbroadcast_broadcast
            .scan_prefix(actor.user_id.as_bytes())
        {
            let (key, _) = entry?;
            let Some(id) = keys::id_at(&key, 16).map(BroadcastId::from_bytes) else {
                continue;
            };
            broadcasts.push(self.get(actor, id)?);
        }
        broadcasts.sort_by_key(|b| b.name.to_lowercase());
        Ok(BroadcastList { broadcasts })
    }

    /// The caller's lists whose name contains the query.
    pub fn search(&self, actor: &Actor, query: BroadcastSearchQuery) -> Result<BroadcastList> {
        let needle = validate::text("query", &query.query, 1, 100)?.to_lowercase();
        let mut list = self.list(actor)?;
        list.broadcasts.retain(|b| b.name.to_lowercase().contains(&needle));
        Ok(list)
    }

    fn add(&self, id: BroadcastId, owner: UserId, user: UserId) -> Result<bool> {
        if user == owner {
            return Err(Error::Conflict("the user owns the list".into()));
        }
        users::records::get_user(&self.store, user)?.ok_or(Error::NotFound("user"))?;
        let tree = &self.store.trees.broadcastuser_recipient;
        let key = keys::broadcast_recipient(id, user);
        if tree.contains_key(&key)? {
            return Ok(false);
        }
        if self.count(id) >= MAX_RECIPIENTS {
            return Err(Error::Conflict(format!(
                "a broadcast list holds at most {MAX_RECIPIENTS} recipients"
            )));
        }
        tree.insert(key, encode(&RecipientRecord { added_at: Utc::now() }))?;
        Ok(true)
    }

    /// Adds a recipient.
    pub async fn add_recipient(&self, actor: &Actor, id: BroadcastId, user: UserId) -> Result<Broadcast> {
        let record = self.own(actor, id)?;
        if !self.add(id, actor.user_id, user)? {
            return Err(Error::Conflict("user is already a recipient".into()));
        }
        self.store.commit().await?;
        Ok(self.view(&record))
    }

    /// Removes a recipient.
    pub async fn remove_recipient(&self, actor: &Actor, id: BroadcastId, user: UserId) -> Result<()> {
        self.own(actor, id)?;
        if self
            .store
            .trees
            .broadcastuser_recipient
            .remove(keys::broadcast_recipient(id, user))?
            .is_none()
        {
            return Err(Error::NotFound("recipient"));
        }
        self.store.commit().await
    }

    fn bulk_size(users: &[UserId]) -> Result<()> {
        if users.is_empty() || users.len() > MAX_BULK {
            return Err(Error::invalid("user_ids", format!("must name 1 to {MAX_BULK} users")));
        }
        Ok(())
    }

    /// Adds many recipients; users already on the list are skipped. An unknown user (404) or the owner
    /// (409) refuses the whole request before anything is written, as each would alone.
    pub async fn bulk_add(&self, actor: &Actor, id: BroadcastId, user_ids: &[UserId]) -> Result<BulkResult> {
        self.own(actor, id)?;
        Self::bulk_size(user_ids)?;
        for user in user_ids {
            if *user == actor.user_id {
                return Err(Error::Conflict("the user owns the list".into()));
            }
            users::records::get_user(&self.store, *user)?.ok_or(Error::NotFound("user"))?;
        }
        let mut changed = 0;
        for user in user_ids {
            changed += usize::from(self.add(id, actor.user_id, *user)?);
        }
        self.store.commit().await?;
        Ok(BulkResult {
            changed,
            recipient_count: self.count(id),
        })
    }

    /// Removes many recipients; users not on the list are skipped.
    pub async fn bulk_remove(&self, actor: &Actor, id: BroadcastId, user_ids: &[UserId]) -> Result<BulkResult> {
        self.own(actor, id)?;
        Self::bulk_size(user_ids)?;
        let mut changed = 0;
        for user in user_ids {
            changed += usize::from(
                self.store
                    .trees
                    .broadcastuser_recipient
                    .remove(keys::broadcast_recipient(id, *user))?
                    .is_some(),
            );
        }
        self.store.commit().await?;
        Ok(BulkResult {
            changed,
            recipient_count: self.count(id),
        })
    }

    fn recipient_ids(&self, id: BroadcastId) -> Result<Vec<(UserId, RecipientRecord)>> {
        let mut list = Vec::new();
        for entry in self.store.trees.broadcastuser_recipient.scan_prefix(id.as_bytes()) {
            let (key, value) = entry?;
            let Some(user) = keys::id_at(&key, 16).map(UserId::from_bytes) else {
                continue;
            };
            list.push((user, decode(&value)?));
        }
        Ok(list)
    }

    /// A list's recipients, by username.
    pub fn recipients(&self, actor: &Actor, id: BroadcastId) -> Result<RecipientList> {
        self.own(actor, id)?;
        let mut recipients = Vec::new();
        for (user, record) in self.recipient_ids(id)? {
            if let Some(user) = users::records::get_user(&self.store, user)? {
                recipients.push(Recipient {
                    profile: user.profile(&self.hub),
                    added_at: record.added_at,
                });
            }
        }
        recipients.sort_by(|a, b| a.profile.username.cmp(&b.profile.username));
        Ok(RecipientList { recipients })
    }

    /// How many recipients a list has.
    pub fn recipient_count(&self, actor: &Actor, id: BroadcastId) -> Result<RecipientCount> {
        self.own(actor, id)?;
        Ok(RecipientCount { count: self.count(id) })
    }

    /// Whether a user is on a list.
    pub fn is_recipient(&self, actor: &Actor, id: BroadcastId, user: UserId) -> Result<RecipientCheck> {
        self.own(actor, id)?;
        Ok(RecipientCheck {
            is_recipient: self
                .store
                .trees
                .broadcastuser_recipient
                .contains_key(keys::broadcast_recipient(id, user))?,
        })
    }

    /// Sends one message to every recipient, each in their DM with the caller. Every ciphertext must be
    /// for a device of a recipient; recipients without copies, or who blocked the caller, are skipped.
    pub async fn send(
        &self,
        actor: &Actor,
        id: BroadcastId,
        request: BroadcastMessageRequest,
    ) -> Result<BroadcastSent> {
        self.own(actor, id)?;
        if request.client_message_id.as_str().chars().count() > MAX_CLIENT_ID_CHARS {
            return Err(Error::invalid(
                "client_message_id",
                format!("must be at most {MAX_CLIENT_ID_CHARS} characters"),
            ));
        }
        let recipients = self.recipient_ids(id)?;
        let mut copies: Vec<(UserId, Vec<DeviceCiphertext>)> =
            recipients.iter().map(|(user, _)| (*user, Vec::new())).collect();
        for (index, copy) in request.ciphertexts.into_iter().enumerate() {
            let owner = users::records::get_device(&self.store, copy.recipient_device_id)?.map(|device| device.user_id);
            match copies.iter_mut().find(|(user, _)| Some(*user) == owner) {
                Some((_, list)) => list.push(copy),
                None => {
                    return Err(Error::invalid(
                        format!("ciphertexts[{index}].recipient_device_id"),
                        "is not a device of a recipient of this list",
                    ));
                }
            }
        }
        let mut sent = BroadcastSent {
            delivered: Vec::new(),
            skipped: Vec::new(),
        };
        for (user, ciphertexts) in copies {
            if ciphertexts.is_empty() || contacts::has_blocked(&self.store, user, actor.user_id)? {
                sent.skipped.push(user);
                continue;
            }
            let dm = CreateConversationRequest {
                kind: ConversationKind::Dm,
                subject: None,
                description: None,
                participants: vec![user.into()],
                settings: None,
            };
            let (conversation, _) = self.conversations.create(actor, dm).await?;
            let message = self
                .messages
                .send(
                    actor,
                    SendMessageRequest {
                        conversation_id: conversation.id,
                        ciphertexts,
                        message_type: request.message_type,
                        client_message_id: per_recipient(&request.client_message_id, user)?,
                        body: None,
                        reply_to: None,
                        mentions: Vec::new(),
                    },
                )
                .await?;
            sent.delivered.push(BroadcastDelivery {
                user_id: user,
                conversation_id: conversation.id,
                message_id: message.id,
                sequence_number: message.sequence_number,
            });
        }
        Ok(sent)
    }
}

/// The idempotency key of one recipient's DM copy of a broadcast.
fn per_recipient(id: &ClientMessageId, user: UserId) -> Result<ClientMessageId> {
    ClientMessageId::new(format!("{id}:{user}")).map_err(|err| Error::invalid("client_message_id", err.to_string()))
}
