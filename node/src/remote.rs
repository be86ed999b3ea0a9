//! Other nodes, as the domain services meet them: where a remote user lives (`homes`), what its home
//! node says of it (`users`), and asking another node to act for one of this node's users (`asking`).
//! Every service that can reach beyond this node holds the one `Remote`, so the network handle arrives
//! in one place when federation starts, and a node without federation answers "unavailable" everywhere
//! instead of failing in a different way per service.

mod asking;
pub(crate) mod homes;
mod users;

use std::sync::OnceLock;

pub(crate) use asking::{acting_for, refusal, speaks_for};
pub use users::ResolvedUser;
pub(crate) use users::{describe_local, resolve_local, unavailable};

use crate::config::Lookups;
use crate::federation::{Client, Destination};
use crate::storage::Store;
use crate::{Error, Result};

/// This node's view of the others.
pub(crate) struct Remote {
    store: Store,
    local: Destination,
    network: OnceLock<Client>,
    lookups: Lookups,
}

impl Remote {
    pub(crate) fn new(store: Store, local: Destination, lookups: Lookups) -> Self {
        Self {
            store,
            local,
            network: OnceLock::new(),
            lookups,
        }
    }

    /// Hands over the network once federation runs; false when it already was.
    pub(crate) fn connect(&self, client: Client) -> bool {
        self.network.set(client).is_ok()
    }

    /// The network, when federation runs (best-effort signals skip quietly without it).
    pub(crate) fn network(&self) -> Option<&Client> {
        self.network.get()
    }

    /// The network, or the error a request needing another node gets without federation.
    pub(crate) fn require_network(&self) -> Result<&Client> {
        self.network()
            .ok_or_else(|| Error::Unavailable("federation is not running".into()))
    }

    /// How lookups of other nodes' users wait (sends into another node's conversation wait as long for
    /// the host to place them).
    pub(crate) fn lookups(&self) -> Lookups {
        self.lookups
    }

    /// This node, by name and PeerId.
    pub(crate) fn local(&self) -> &Destination {
        &self.local
    }
}
