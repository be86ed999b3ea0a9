use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::webhooks::WebhookEvent;
use crate::{UserId, WebhookId};

/// What a hook's URL must look like, white space around it aside: `http(s)://`, a host name whose last
/// label starts with a letter (so it is never read as an IPv4 address) or a dotted IPv4 address, an
/// optional port, then printable ASCII. The node checks it, and the OpenAPI document states it.
pub const WEBHOOK_URL_PATTERN: &str = concat!(
    r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*https?://",
    r"(?:(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*",
    r"|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))",
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"(?:[/?#][!-~]*)?",
    r"[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$",
);

/// `POST /v1/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: see [`WEBHOOK_URL_PATTERN`].
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, format = "webhook-url"))]
    pub url: String,
    /// What to deliver.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub events: Vec<WebhookEvent>,
    /// Signs every delivery; 16 to 256 characters. Never shown again.
    #[cfg_attr(feature = "openapi", schema(min_length = 16, max_length = 256, format = "opaque"))]
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
