use serde::{Deserialize, Serialize};

/// Every response body: `{ "success": true, "data": … }` or `{ "success": false, "error", "code" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Whether the request did what it asked.
    pub success: bool,
    /// The payload of a successful response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// A human-readable reason on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A stable machine-readable code on failure, e.g. `VALIDATION_ERROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl<T> Envelope<T> {
    /// A successful envelope around `data`.
    pub fn ok(data: T) -> Self {
        Self {
            success: true,
            data: Some(data),
            error: None,
            code: None,
        }
    }
}

/// A response that carries only a short message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageText {
    /// What happened.
    pub message: String,
}
