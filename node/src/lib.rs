//! A Parley node's core: storage in sled, the domain services the gateway calls, and the federation
//! with other nodes beneath them. Services speak `protocol` types so every edge shares one vocabulary;
//! storage records stay private to the domains that own them. The modules are private: this facade is
//! the whole public surface (`federation` is public as a namespace for the network's own types).
#![deny(unsafe_code, missing_docs, unreachable_pub)]

mod admin;
mod auth;
mod avatars;
mod backoff;
mod broadcasts;
mod calls;
mod config;
mod contacts;
mod conversations;
pub mod crash;
mod error;
pub mod federation;
mod files;
mod identity;
mod inbound;
mod keys;
mod locks;
mod messages;
mod metrics;
mod outbox;
mod presence;
mod realtime;
mod remote;
mod services;
mod storage;
mod tasks;
mod users;
pub mod validate;
mod webhooks;

pub use admin::{Admin, BackupSummary, OPERATOR_TOKEN_FILE, Operator, restore};
pub use auth::{Actor, Auth};
pub use avatars::Avatars;
pub use broadcasts::Broadcasts;
pub use calls::Calls;
pub use config::{
    Config, ConnectionLimits, DEFAULT_P2P_LISTEN, DEFAULT_STORE_CACHE_BYTES, FederationConfig, Lookups,
    PasswordHashing, RateLimits, Registration, TrustedProxy,
};
pub use contacts::Contacts;
pub use conversations::{Conversations, PersonalChange};
pub use error::{Error, Result};
pub use files::{Blob, Files};
pub use identity::NodeIdentity;
pub use keys::Keys;
pub use messages::{Messages, Taken};
pub use metrics::Metrics;
pub use presence::Presence;
pub use realtime::{Hub, Subscription};
pub use remote::ResolvedUser;
pub use services::Services;
pub use users::Users;
pub use webhooks::Webhooks;
