//! Every domain service, assembled once at start-up and shared (behind an `Arc`) by the gateway.

use std::sync::Arc;

use crate::auth::Auth;
use crate::avatars::Avatars;
use crate::broadcasts::Broadcasts;
use crate::calls::Calls;
use crate::contacts::Contacts;
use crate::conversations::Conversations;
use crate::federation::outbox::{Destination, Outbox};
use crate::files::Files;
use crate::keys::Keys;
use crate::locks::ConversationLocks;
use crate::messages::Messages;
use crate::presence::Presence;
use crate::realtime::Hub;
use crate::storage::Store;
use crate::users::Users;
use crate::webhooks::Webhooks;
use crate::{Config, NodeIdentity, Result};

/// The node's services.
pub struct Services {
    /// Operator settings.
    pub config: Arc<Config>,
    /// The node's own keypair.
    pub identity: NodeIdentity,
    /// Accounts, logins, sessions.
    pub auth: Arc<Auth>,
    /// Profiles, settings, devices.
    pub users: Users,
    /// Contacts and blocks.
    pub contacts: Contacts,
    /// Published device keys.
    pub keys: Keys,
    /// Conversations and membership.
    pub conversations: Arc<Conversations>,
    /// Messages, queues, receipts.
    pub messages: Arc<Messages>,
    /// Broadcast lists.
    pub broadcasts: Broadcasts,
    /// Calls and their signaling.
    pub calls: Calls,
    /// Encrypted file blobs and resumable uploads.
    pub files: Files,
    /// Typing and presence.
    pub presence: Presence,
    /// Avatar pictures.
    pub avatars: Avatars,
    /// Webhook registrations and deliveries.
    pub webhooks: Arc<Webhooks>,
    /// Live connections.
    pub hub: Arc<Hub>,
    /// The federation handle, once `start_federation` has run.
    federation: std::sync::OnceLock<crate::federation::Client>,
    /// This node's name in the federation.
    pub(crate) node_name: protocol::federation::NodeName,
    /// Events for other nodes, delivered once federation runs.
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) store: Store,
}

impl Services {
    /// Opens (or creates) the data dir and builds every service on it.
    pub fn open(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|err| crate::Error::Internal(format!("creating data dir {}: {err}", config.data_dir.display())))?;
        let config = Arc::new(config);
        let store = Store::open(&config.data_dir)?;
        let identity = NodeIdentity::load_or_create(&config.data_dir)?;
        let peer_id = identity.libp2p_keypair().public().to_peer_id();
        let node_name = crate::federation::local_name(&config.federation, &peer_id)
            .map_err(|err| crate::Error::Internal(err.to_string()))?;
        let local = Destination {
            node: node_name.clone(),
            peer: peer_id,
        };
        let outbox = Arc::new(Outbox::new(
            store.clone(),
            identity.signing_key().clone(),
            local,
            config.federation.outbox_max_backoff,
        ));
        let hub = Arc::new(Hub::new(config.max_connections_per_user, config.connection_buffer));
        let locks = Arc::new(ConversationLocks::new());
        let auth = Arc::new(Auth::new(store.clone(), config.clone(), hub.clone())?);
        let webhooks = Arc::new(Webhooks::new(store.clone(), config.clone()));
        let conversations = Arc::new(Conversations::new(
            store.clone(),
            locks.clone(),
            webhooks.clone(),
            outbox.clone(),
        ));
        let messages = Arc::new(Messages::new(
            store.clone(),
            locks,
            hub.clone(),
            webhooks.clone(),
            outbox.clone(),
        ));
        Ok(Self {
            users: Users::new(store.clone(), auth.clone(), webhooks.clone(), hub.clone()),
            webhooks,
            avatars: Avatars::new(&config.data_dir),
            keys: Keys::new(store.clone()),
            contacts: Contacts::new(store.clone(), hub.clone()),
            broadcasts: Broadcasts::new(store.clone(), conversations.clone(), messages.clone(), hub.clone()),
            conversations,
            messages,
            presence: Presence::new(store.clone(), hub.clone(), outbox.clone()),
            calls: Calls::new(store.clone(), hub.clone(), config.clone()),
            files: Files::new(store.clone(), config.clone())?,
            config,
            identity,
            auth,
            hub,
            federation: std::sync::OnceLock::new(),
            node_name,
            outbox,
            store,
        })
    }

    /// Background work, run until the task is dropped: webhook deliveries, and periodic upkeep (the
    /// erasure of messages past their retention, the cancelling of abandoned uploads).
    pub async fn run_background(self: Arc<Self>) {
        let upkeep = async {
            let mut every = tokio::time::interval(self.config.maintenance_interval);
            loop {
                every.tick().await;
                if let Err(err) = self.messages.purge_expired().await {
                    tracing::error!(error = %err, "retention purge failed");
                }
                match self.files.expire_idle_uploads(self.config.upload_idle_timeout).await {
                    Ok(0) => {}
                    Ok(expired) => tracing::info!(expired, "abandoned uploads cancelled"),
                    Err(err) => tracing::error!(error = %err, "expiring abandoned uploads failed"),
                }
            }
        };
        tokio::join!(upkeep, self.webhooks.clone().run());
    }

    /// Joins the federation: builds the libp2p swarm on the node key, listens on `config.federation`'s
    /// address and spawns its event loop (inside a tokio runtime). Kept apart from `open` so nodes that
    /// do not federate (most tests) bind no UDP port. Keep the returned handle to keep the swarm running.
    pub fn start_federation(self: &Arc<Self>) -> Result<crate::federation::Handle> {
        let (client, handle) = crate::federation::start(self).map_err(|err| crate::Error::Internal(err.to_string()))?;
        self.federation
            .set(client.clone())
            .map_err(|_| crate::Error::Conflict("federation is already running".into()))?;
        crate::federation::call_updates::start(self, client.clone());
        self.outbox.start(client);
        Ok(handle)
    }

    /// The federation client, when federation runs.
    pub fn federation(&self) -> Option<&crate::federation::Client> {
        self.federation.get()
    }

    /// Deletes the caller's account and everything it owns on this node (see `Users::delete_me`), its
    /// uploaded files included.
    pub async fn delete_account(&self, actor: &crate::Actor) -> Result<()> {
        self.users.delete_me(actor).await?;
        self.files.forget_user(actor.user_id).await
    }

    /// Whether the store answers; backs `/health`.
    pub fn health(&self) -> Result<()> {
        self.store.check()
    }

    /// Flushes everything to disk; called on shutdown.
    pub fn flush(&self) -> Result<()> {
        self.store.flush_blocking()
    }
}
