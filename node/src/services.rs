//! Every domain service, assembled once at start-up and shared (behind an `Arc`) by the gateway.

use std::sync::Arc;

use crate::admin::{Admin, LocalOperatorKey};
use crate::auth::Auth;
use crate::avatars::Avatars;
use crate::broadcasts::Broadcasts;
use crate::calls::Calls;
use crate::contacts::Contacts;
use crate::conversations::Conversations;
use crate::federation::{self, DeniedNodes, Destination, PeerInfo};
use crate::files::Files;
use crate::keys::Keys;
use crate::locks::ConversationLocks;
use crate::messages::Messages;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::presence::Presence;
use crate::realtime::Hub;
use crate::remote::Remote;
use crate::storage::Store;
use crate::tasks::Tasks;
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
    /// Published device keys (and other nodes' devices' keys, asked of their home nodes).
    pub keys: Keys,
    /// Conversations and membership.
    pub conversations: Arc<Conversations>,
    /// Messages, queues, receipts.
    pub messages: Arc<Messages>,
    /// Broadcast lists.
    pub broadcasts: Broadcasts,
    /// Calls and their signaling.
    pub calls: Arc<Calls>,
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
    /// Other nodes and their users; holds the network handle once `start_federation` has run.
    remote: Arc<Remote>,
    /// Events for other nodes, delivered once federation runs.
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) store: Store,
    /// Every task the node spawns.
    pub(crate) tasks: Tasks,
    /// What the local operator presents (see `admin`).
    pub(crate) operator_key: LocalOperatorKey,
    /// Other nodes whose traffic is refused.
    pub(crate) denied: DeniedNodes,
    /// Counters and timings for Prometheus.
    pub metrics: Arc<Metrics>,
}

impl Services {
    /// Opens (or creates) the data dir and builds every service on it.
    pub fn open(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|err| crate::Error::Internal(format!("creating data dir {}: {err}", config.data_dir.display())))?;
        let config = Arc::new(config);
        let store = Store::open(&config.data_dir, config.store_cache_bytes)?;
        crate::messages::retire_queue_index(&store)?;
        crate::messages::load_totals(&store)?;
        let identity = NodeIdentity::load_or_create(&config.data_dir)?;
        let operator_key = LocalOperatorKey::issue(&config.data_dir)?;
        let denied = crate::admin::load_denied_nodes(&store, &config.federation.denied_peers)?;
        let peer_id = identity.libp2p_keypair().public().to_peer_id();
        let node = federation::local_name(&config.federation, &peer_id)
            .map_err(|err| crate::Error::Internal(err.to_string()))?;
        let remote = Arc::new(Remote::new(
            store.clone(),
            Destination { node, peer: peer_id },
            config.federation.lookups,
        ));
        let tasks = Tasks::default();
        let outbox = Arc::new(Outbox::new(
            store.clone(),
            identity.signing_key().clone(),
            config.federation.outbox_max_backoff,
            tasks.clone(),
        ));
        let hub = Arc::new(Hub::new(config.max_connections_per_user, config.connection_buffer));
        let locks = Arc::new(ConversationLocks::new());
        let auth = Arc::new(Auth::new(store.clone(), config.clone(), hub.clone())?);
        let webhooks = Arc::new(Webhooks::new(store.clone(), config.clone(), tasks.clone()));
        let conversations = Arc::new(Conversations::new(
            store.clone(),
            hub.clone(),
            locks.clone(),
            webhooks.clone(),
            outbox.clone(),
            remote.clone(),
        ));
        let messages = Arc::new(Messages::new(
            store.clone(),
            config.allow_unencrypted,
            locks,
            hub.clone(),
            webhooks.clone(),
            outbox.clone(),
            remote.clone(),
        ));
        let metrics = Arc::new(Metrics::new(
            store.commit_seconds.clone(),
            messages.delivered.clone(),
            outbox.delivery_seconds.clone(),
        ));
        Ok(Self {
            users: Users::new(
                store.clone(),
                auth.clone(),
                outbox.clone(),
                webhooks.clone(),
                hub.clone(),
                remote.clone(),
            ),
            webhooks,
            avatars: Avatars::open(&config.data_dir)?,
            keys: Keys::new(store.clone(), remote.clone()),
            contacts: Contacts::new(store.clone(), hub.clone(), remote.clone()),
            broadcasts: Broadcasts::new(store.clone(), conversations.clone(), messages.clone(), hub.clone()),
            conversations,
            messages,
            presence: Presence::new(store.clone(), hub.clone(), remote.clone(), tasks.clone()),
            calls: Arc::new(Calls::new(
                store.clone(),
                hub.clone(),
                config.clone(),
                outbox.clone(),
                remote.clone(),
            )),
            files: Files::new(store.clone(), config.clone(), remote.clone())?,
            config,
            identity,
            auth,
            hub,
            remote,
            outbox,
            store,
            tasks,
            operator_key,
            denied,
            metrics,
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
    /// address and spawns its event loop (inside a tokio runtime), then hands the network to every
    /// service that reaches other nodes and starts answering their requests. Kept apart from `open` so
    /// nodes that do not federate (most tests) bind no UDP port. Keep the returned handle to keep the
    /// swarm running.
    pub fn start_federation(self: &Arc<Self>) -> std::result::Result<federation::Handle, federation::Error> {
        self.start_federation_over(federation::quic_or_tcp)
    }

    /// Joins the federation as [`Services::start_federation`] does, over the transport `transport`
    /// builds for the node key: simulations run real nodes over an in-memory network this way.
    pub fn start_federation_over(
        self: &Arc<Self>,
        transport: impl FnOnce(&libp2p::identity::Keypair) -> federation::Transport,
    ) -> std::result::Result<federation::Handle, federation::Error> {
        let network = federation::start(
            self.identity.clone(),
            self.remote.local().node.clone(),
            self.config.federation.clone(),
            federation::Shared {
                store: self.store.clone(),
                denied: self.denied.clone(),
                counters: self.metrics.federation.clone(),
            },
            transport,
            &self.tasks,
        )?;
        if !self.remote.connect(network.client.clone()) {
            return Err(federation::Error::Start("it is already running".into()));
        }
        self.tasks.spawn(crate::inbound::serve(self.clone(), network.inbound));
        self.calls.federate(network.client.clone(), &self.tasks);
        self.outbox.start(network.client);
        Ok(network.handle)
    }

    /// Runs `task` as the node's own work: [`Services::halt`] drops it with the rest, and the handle
    /// then yields `None`. Whoever runs several nodes in one process spawns each node's work so.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<Option<F::Output>>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Stops the node as a power loss would: every task it spawned (the federation's event loop, outbox
    /// workers, requests being answered) is dropped where it stands, nothing is flushed, and nothing
    /// spawned later runs. What was committed stays; reopening the data directory is a restart.
    pub fn halt(&self) {
        self.tasks.halt();
    }

    /// What operators do: accounts, registration tokens, statistics, denied nodes, the audit log.
    pub fn admin(&self) -> Admin<'_> {
        Admin::new(self)
    }

    /// The federation client, when federation runs.
    pub fn federation(&self) -> Option<&federation::Client> {
        self.remote.network()
    }

    /// The nodes this node knows of, with the events queued for each. The queues are counted here, in
    /// the caller's task, so a long outbox never stalls the event loop.
    pub async fn federation_peers(&self) -> Result<Vec<PeerInfo>, federation::Error> {
        let client = self.federation().ok_or(federation::Error::Stopped)?;
        let mut peers = client.peers().await?;
        for peer in &mut peers {
            if let Some(name) = peer.name.as_deref().and_then(|name| name.parse().ok()) {
                peer.outbox_depth = self.outbox.depth(&name);
            }
        }
        Ok(peers)
    }

    /// Events waiting in the outbox for every other node together: a gauge to watch (simulations sample
    /// it every second), cheaper than [`Services::federation_peers`], which asks the network too.
    pub fn outbox_depth(&self) -> u64 {
        self.outbox.total_depth()
    }

    /// Moves a conversation whose host is gone to this node (see `conversations::rehome`), then takes
    /// here what this node had queued for the old host about it.
    pub async fn take_over_conversation(
        &self,
        actor: &crate::Actor,
        id: protocol::ConversationId,
    ) -> Result<protocol::api::Conversation> {
        let (_, from) = self.conversations.take_over(actor, id).await?;
        self.messages.take_queued_here(id, &from.node).await?;
        self.conversations.get(actor, id)
    }

    /// Deletes the caller's account and everything it owns on this node.
    pub async fn delete_account(&self, actor: &crate::Actor) -> Result<()> {
        self.erase_account(actor.user_id).await
    }

    /// Deletes an account and everything it owns on this node (see `Users::delete`), its uploaded
    /// files included: the one deletion its owner (in any dialect) and operators share.
    pub(crate) async fn erase_account(&self, user: protocol::UserId) -> Result<()> {
        self.users.delete(user).await?;
        self.files.forget_user(user).await
    }

    /// Every metric in the Prometheus text format, for the operator's `/metrics`.
    pub fn metrics_text(&self) -> String {
        self.metrics.render(self)
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
