//! Webhook payloads and their signatures. A node signs each delivery's body with the hook's secret;
//! receivers check `X-Signature: sha256=<hex HMAC-SHA256(secret, body)>` before trusting it.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::api::Timestamp;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";

/// Events a hook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEvent {
    /// A message was stored in a conversation the hook's owner takes part in (metadata only).
    #[serde(rename = "message.created")]
    MessageCreated,
    /// The hook's owner changed their profile.
    #[serde(rename = "user.updated")]
    UserUpdated,
    /// A conversation the hook's owner takes part in changed its details or settings.
    #[serde(rename = "conversation.updated")]
    ConversationUpdated,
}

/// The body of one delivery. `data` holds identifiers and metadata, never message content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// Unique per delivery; receivers deduplicate retries by it.
    pub delivery_id: String,
    /// What happened.
    pub event: WebhookEvent,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The event's metadata.
    pub data: serde_json::Value,
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so construction cannot fail for a byte slice.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    mac
}

/// The `X-Signature` value for a body.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let digest = mac(secret, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Checks an `X-Signature` value in constant time.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    bytes.is_some_and(|bytes| mac(secret, body).verify_slice(&bytes).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_and_body() {
        let signature = sign(b"secret", b"{\"a\":1}");
        assert!(signature.starts_with("sha256=") && signature.len() == 71);
        assert!(verify(b"secret", b"{\"a\":1}", &signature));
        assert!(!verify(b"other", b"{\"a\":1}", &signature));
        assert!(!verify(b"secret", b"{\"a\":2}", &signature));
        assert!(!verify(b"secret", b"{\"a\":1}", "sha256=zz"));
    }

    #[test]
    fn the_signature_matches_rfc_4231_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
