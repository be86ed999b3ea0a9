//! [`Client`]: one device of one account, opened on its profile directory.
//!
//! The struct and what it is live here; what it does lives beside it, one job per file: `tokens`
//! (authenticated requests, token refresh), `account` (register, log in, reopen), `keys` (this
//! device's keys and its peers' identities), `conversations`, `federation`, `send` and `receive`.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use protocol::crypto::IdentityKeyPair;
use protocol::{DeviceId, IdentityPublicKey, UserId};

use crate::history::History;
use crate::http::Http;
use crate::profile::{Profile, Tokens};

pub(crate) mod account;
mod conversations;
pub(crate) mod federation;
pub(crate) mod keys;
mod receive;
pub(crate) mod send;
mod tokens;

/// One device of one account: its keys and sessions live in a profile directory, its account on a
/// node. Cheap to clone; clones share state, so a [`Listener`](crate::Listener) can run while the
/// same device sends.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    profile: Profile,
    http: Http,
    user_id: UserId,
    username: String,
    device_id: DeviceId,
    identity: IdentityKeyPair,
    tokens: RwLock<Tokens>,
    history: History,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.http.base())
            .field("user_id", &self.inner.user_id)
            .field("username", &self.inner.username)
            .field("device_id", &self.inner.device_id)
            .field("profile", &self.inner.profile.dir())
            .finish_non_exhaustive()
    }
}

impl Client {
    fn assemble(
        profile: Profile,
        http: Http,
        user_id: UserId,
        username: String,
        device_id: DeviceId,
        identity: IdentityKeyPair,
        tokens: Tokens,
    ) -> Self {
        let history = History::new(profile.dir());
        Self {
            inner: Arc::new(Inner {
                profile,
                http,
                user_id,
                username,
                device_id,
                identity,
                tokens: RwLock::new(tokens),
                history,
            }),
        }
    }

    /// The account.
    pub fn user_id(&self) -> UserId {
        self.inner.user_id
    }

    /// The account's username.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// This device.
    pub fn device_id(&self) -> DeviceId {
        self.inner.device_id
    }

    /// The node's base URL.
    pub fn server(&self) -> &str {
        self.inner.http.base()
    }

    /// The profile directory.
    pub fn profile_dir(&self) -> &Path {
        self.inner.profile.dir()
    }

    /// This device's identity public key.
    pub fn identity_key(&self) -> IdentityPublicKey {
        self.inner.identity.public_key()
    }
}
