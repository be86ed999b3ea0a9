//! Operator views of the federation layer: this node as the DHT knows it, and the nodes it knows.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Auth;
use crate::reply::{ApiResult, ok};
use crate::schemas::ErrorEnvelope;
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(node))
        .routes(routes!(peers))
        .routes(routes!(resolve))
}

/// This node in the federation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederationNode {
    /// The node's name in the DHT.
    name: String,
    /// Its libp2p PeerId (base58).
    peer_id: String,
    /// Multiaddrs its swarm listens on.
    listen_addresses: Vec<String>,
    /// Lookups of other nodes' names sent to the DHT since the node started (a node it is connected
    /// to is looked up without one).
    name_lookups: u64,
    /// Whether other nodes can dial it, as the bootstrap nodes' AutoNAT probes found: `private` means
    /// behind NAT or a firewall, reachable through the relays among its listen addresses (`/p2p-circuit`).
    reachability: Reachability,
}

/// Whether other nodes can dial this one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Reachability {
    /// Not probed yet, or no bootstrap node probes.
    Unknown,
    /// Dialled back by a bootstrap node.
    Public,
    /// Not dialled back: reachable through relays only.
    Private,
}

impl From<node::federation::Reachability> for Reachability {
    fn from(reachability: node::federation::Reachability) -> Self {
        match reachability {
            node::federation::Reachability::Unknown => Self::Unknown,
            node::federation::Reachability::Public => Self::Public,
            node::federation::Reachability::Private => Self::Private,
        }
    }
}

/// A node this node knows of.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederationPeer {
    /// Its name, once learnt (bootstrap nodes have none).
    name: Option<String>,
    /// Its PeerId (base58).
    peer_id: String,
    /// Whether a connection is open now.
    connected: bool,
    /// Whether every open connection to it goes through a relay (both nodes behind NAT, and hole
    /// punching not done yet or not possible between them).
    relayed: bool,
    /// Addresses it was seen at.
    addresses: Vec<String>,
    /// Events (messages, receipts, membership changes) queued for it.
    outbox_depth: u64,
}

/// The known nodes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederationPeers {
    /// Sorted by name, then PeerId.
    peers: Vec<FederationPeer>,
}

fn federation_off() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "FEDERATION_OFF",
        "federation is not running",
    )
}

fn client(state: &AppState) -> Result<&node::federation::Client, ApiError> {
    state.services.federation().ok_or_else(federation_off)
}

fn stopped(err: node::federation::Error) -> ApiError {
    tracing::error!(error = %err, "federation did not answer");
    federation_off()
}

/// # `GET /v1/federation/node`
#[utoipa::path(
    get,
    path = "/v1/federation/node",
    tag = "federation",
    summary = "This node's name, PeerId and listen addresses",
    responses(
        (status = 200, description = "This node", body = FederationNode),
        (status = 503, description = "Federation is not running"),
    ),
)]
pub(crate) async fn node(State(state): State<AppState>, Auth(_actor): Auth) -> ApiResult<FederationNode> {
    let local = client(&state)?.local_node().await.map_err(stopped)?;
    ok(FederationNode {
        name: local.name,
        peer_id: local.peer_id,
        listen_addresses: local.listen_addresses,
        name_lookups: local.name_lookups,
        reachability: local.reachability.into(),
    })
}

/// # `GET /v1/federation/peers`
#[utoipa::path(
    get,
    path = "/v1/federation/peers",
    tag = "federation",
    summary = "The nodes this node knows of",
    responses(
        (status = 200, description = "Known nodes", body = FederationPeers),
        (status = 503, description = "Federation is not running"),
    ),
)]
pub(crate) async fn peers(State(state): State<AppState>, Auth(_actor): Auth) -> ApiResult<FederationPeers> {
    client(&state)?;
    let peers = state.services.federation_peers().await.map_err(stopped)?;
    ok(FederationPeers {
        peers: peers
            .into_iter()
            .map(|peer| FederationPeer {
                name: peer.name,
                peer_id: peer.peer_id,
                connected: peer.connected,
                relayed: peer.relayed,
                addresses: peer.addresses,
                outbox_depth: peer.outbox_depth,
            })
            .collect(),
    })
}

/// A user found through a handle.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederatedUser {
    /// The user's home node.
    node: String,
    /// Whether that is this node.
    local: bool,
    /// The user on its home node.
    user_id: protocol::UserId,
    /// Unique on its home node.
    username: String,
    /// Shown to others.
    display_name: String,
    /// Its active devices, which a sender encrypts for.
    devices: Vec<FederatedDevice>,
    /// Present and true when the home node did not answer in time: this is the copy this node keeps.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stale: bool,
}

/// A device of a user found through a handle.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederatedDevice {
    /// The device.
    device_id: protocol::DeviceId,
    /// Whether it has published an identity key and a signed prekey.
    has_active_keys: bool,
}

/// # `GET /v1/federation/users/{handle}`
///
/// Resolves `username@node-name` through the DHT and the user's home node (or a local username).
#[utoipa::path(
    get,
    path = "/v1/federation/users/{handle}",
    tag = "federation",
    summary = "Resolve a handle to a user of any node",
    params(("handle" = String, Path, format = "handle", description = "`username@node-name`, or a local username")),
    responses(
        (status = 200, description = "The user and its devices", body = FederatedUser),
        (status = 404, description = "No such user on that node, or no such node", body = ErrorEnvelope),
        (status = 422, description = "The handle is not `username@node-name`", body = ErrorEnvelope),
        (status = 503, description = "Federation is not running, or the node could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    crate::extract::Path(handle): crate::extract::Path<String>,
) -> ApiResult<FederatedUser> {
    let resolved = state.services.users.resolve_handle(&handle).await?;
    ok(FederatedUser {
        node: resolved.node,
        local: resolved.local,
        user_id: resolved.user.user_id,
        username: resolved.user.username,
        display_name: resolved.user.display_name,
        devices: resolved
            .user
            .devices
            .into_iter()
            .map(|device| FederatedDevice {
                device_id: device.device_id,
                has_active_keys: device.has_active_keys,
            })
            .collect(),
        stale: resolved.stale,
    })
}
