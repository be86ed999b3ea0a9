use serde::{Deserialize, Serialize};

use super::{DeviceCiphertext, Timestamp, UserProfile};
use crate::{BroadcastId, ClientMessageId, ConversationId, MessageId, MessageType, UserId};

/// `POST /v1/broadcasts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateBroadcastRequest {
    /// At most 100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// At most 500 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
}

/// `PUT /v1/broadcasts/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateBroadcastRequest {
    /// A new name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    /// A new description; empty clears it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
}

/// A broadcast list: its owner sends one DM to each recipient at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Broadcast {
    /// The list.
    pub id: BroadcastId,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its owner, the only user who sees or uses it.
    pub owner_id: UserId,
    /// How many recipients it has.
    pub recipient_count: usize,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The caller's broadcast lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BroadcastList {
    /// The lists, by name.
    pub broadcasts: Vec<Broadcast>,
}

/// `GET /v1/broadcasts/search?query=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct BroadcastSearchQuery {
    /// Text to find in names (case-insensitive).
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 100))]
    pub query: String,
}

/// `POST /v1/broadcasts/{id}/recipients`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddRecipientRequest {
    /// The user to add.
    pub user_id: UserId,
}

/// `POST` and `DELETE /v1/broadcasts/{id}/recipients/bulk`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkRecipientsRequest {
    /// At most 500 users.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub user_ids: Vec<UserId>,
}

/// How many recipients a bulk change touched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkResult {
    /// Users added or removed.
    pub changed: usize,
    /// The list's size afterwards.
    pub recipient_count: usize,
}

/// One recipient of a broadcast list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recipient {
    /// Their public profile.
    #[serde(flatten)]
    pub profile: UserProfile,
    /// When they were added.
    pub added_at: Timestamp,
}

/// `GET /v1/broadcasts/{id}/recipients`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientList {
    /// The recipients, by username.
    pub recipients: Vec<Recipient>,
}

/// `GET /v1/broadcasts/{id}/recipients/count`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientCount {
    /// How many recipients the list has.
    pub count: usize,
}

/// `GET /v1/broadcasts/{id}/recipients/{user_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientCheck {
    /// Whether the user is on the list.
    pub is_recipient: bool,
}

/// `POST /v1/broadcasts/{id}/messages`: one ciphertext per device of each recipient; each recipient
/// gets the message in their DM with the sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BroadcastMessageRequest {
    /// The copies, for devices of the list's recipients.
    pub ciphertexts: Vec<DeviceCiphertext>,
    /// `text` when absent.
    #[serde(default)]
    pub message_type: MessageType,
    /// Idempotency key (at most 80 characters); each DM's copy uses it with `:<recipient id>` appended.
    pub client_message_id: ClientMessageId,
}

/// One DM a broadcast produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BroadcastDelivery {
    /// The recipient.
    pub user_id: UserId,
    /// The DM.
    pub conversation_id: ConversationId,
    /// The message in it.
    pub message_id: MessageId,
    /// Its place in the DM.
    pub sequence_number: u64,
}

/// What a broadcast send did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BroadcastSent {
    /// One entry per recipient reached.
    pub delivered: Vec<BroadcastDelivery>,
    /// Recipients not reached (they blocked the sender, or got no ciphertext).
    pub skipped: Vec<UserId>,
}
