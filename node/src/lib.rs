//! A Parley node's core: storage in sled and the domain services the gateway (and later federation)
//! call. Services speak `protocol` types so every edge shares one vocabulary; storage records stay
//! private to the services that own them.
#![deny(unsafe_code)]

pub mod auth;
pub mod avatars;
mod backoff;
pub mod broadcasts;
pub mod calls;
mod config;
pub mod contacts;
pub mod conversations;
mod error;
pub mod federation;
pub mod files;
mod identity;
mod inbound;
pub mod keys;
mod locks;
pub mod messages;
mod outbox;
pub mod presence;
pub mod realtime;
mod remote;
mod services;
mod storage;
pub mod users;
mod validate;
pub mod webhooks;

pub use auth::Actor;
pub use config::{Config, FederationConfig, RateLimits};
pub use error::{Error, Result};
pub use identity::NodeIdentity;
pub use remote::ResolvedUser;
pub use services::Services;
