use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::webhooks::WebhookEvent;
use crate::{UserId, WebhookId};

/// `POST /v1/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// What to deliver.
    pub events: Vec<WebhookEvent>,
    /// Signs every delivery; 16 to 256 characters. Never shown again.
    pub secret: String,
}

/// A registered hook (without its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// The hook.
    pub id: WebhookId,
    /// Its owner.
    pub owner_id: UserId,
    /// Where deliveries go.
    pub url: String,
    /// What is delivered.
    pub events: Vec<WebhookEvent>,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// `GET /v1/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    /// The caller's hooks.
    pub webhooks: Vec<Webhook>,
}

/// How a delivery ended (so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Still being tried.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One delivery's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// Matches the payload's `delivery_id`.
    pub id: String,
    /// The event delivered.
    pub event: WebhookEvent,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status_code: Option<u16>,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When the event happened.
    pub created_at: Timestamp,
    /// When the last attempt ended.
    pub updated_at: Timestamp,
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDeliveryList {
    /// The last 100 deliveries.
    pub deliveries: Vec<WebhookDelivery>,
}
