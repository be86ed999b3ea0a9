//! REST bodies under `/v1`, shaped after the reference API. Requests carry no acting user: the node takes
//! it from the access token, so fields such as `user_id` in key uploads are only checked, never trusted.

mod admin;
mod auth;
mod broadcasts;
mod calls;
mod contacts;
mod conversations;
mod envelope;
mod files;
mod keys;
mod messages;
mod users;
mod webhooks;

pub use admin::*;
pub use auth::*;
pub use broadcasts::*;
pub use calls::*;
pub use contacts::*;
pub use conversations::*;
pub use envelope::*;
pub use files::*;
pub use keys::*;
pub use messages::*;
pub use users::*;
pub use webhooks::*;

/// The default of flags that are true unless a sender says otherwise (`encrypted`), for serde.
pub fn yes() -> bool {
    true
}

/// Timestamps are UTC and serialise as RFC 3339.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
