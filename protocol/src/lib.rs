//! Parley's wire vocabulary: the identifiers, REST bodies and WebSocket frames that clients and the
//! gateway exchange, the requests and signed events nodes exchange over federation, and the end-to-end
//! cryptography clients run over them (X3DH, the Double Ratchet, safety numbers). Nothing here performs I/O, so every consumer agrees on one shape.
#![deny(unsafe_code, missing_docs)]

pub mod api;
pub mod binary;
mod bytes;
mod client_message_id;
pub mod crypto;
pub mod federation;
mod ids;
mod keys;
mod message_type;
#[cfg(feature = "openapi")]
mod openapi;
pub mod webhooks;
pub mod ws;

pub use bytes::{Base64Bytes, DecodeError};
pub use client_message_id::{ClientMessageId, InvalidClientMessageId};
pub use ids::{BroadcastId, CallId, ConversationId, DeviceId, IdentityKeyId, MessageId, SessionId, UserId, WebhookId};
pub use ids::{FileId, UploadId};
pub use keys::{
    IdentityPublicKey, KeyError, PreKeyPublic, PreKeySignature, verify_self_signature, verify_signed_prekey,
};
pub use message_type::{MessageType, UnknownMessageType};
