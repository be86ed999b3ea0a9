//! Parley's client SDK: one device of one account, end-to-end encrypted over a node's REST and
//! WebSocket API.
//!
//! A [`Client`] is opened on a profile directory, where the device keeps everything the node must
//! never see: its identity key, prekey secrets, Double Ratchet sessions and decrypted history (see
//! `profile.rs` for the layout). Sending encrypts once per recipient device, starting sessions from
//! key bundles as needed; a [`Listener`] decrypts what arrives, stores it, acknowledges it and hands
//! it out. A client reopened from the same directory continues its sessions.
//!
//! ```no_run
//! # async fn demo() -> client::Result<()> {
//! use client::{Client, Registration};
//! let registration = Registration::new("ann", "ann@example.org", "correct horse battery");
//! let ann = Client::register("ann-profile", "http://127.0.0.1:8080", registration).await?;
//! let bob = ann.find_user("bob").await?;
//! let dm = ann.open_dm(bob.id).await?;
//! ann.send(dm.id, "hello").await?;
//! let mut listener = ann.listen();
//! while let Some(message) = listener.next_message().await {
//!     println!("{:?}", message?.text());
//! }
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_code, missing_docs, unreachable_pub)]

mod client;
mod error;
mod history;
mod http;
mod listener;
mod operator;
mod prekeys;
mod profile;
mod sessions;
mod trust;

pub use client::Client;
pub use client::account::Registration;
pub use client::federation::FederationPeer;
pub use client::keys::{ONE_TIME_PREKEY_LOW_WATER, ONE_TIME_PREKEY_TARGET};
pub use client::send::SentMessage;
pub use error::{Error, Result};
pub use history::StoredMessage;
pub use http::Server;
pub use listener::{Event, Listener};
pub use operator::Operator;
