//! Operator views of the federation layer: this node as the DHT knows it, and the nodes it knows.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::extract::Auth;
use crate::reply::{ApiResult, ok};
use crate::{ApiError, AppState};

/// This node in the federation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederationNode {
    /// The node's name in the DHT.
    name: String,
    /// Its libp2p PeerId (base58).
    peer_id: String,
    /// Multiaddrs its swarm listens on.
    listen_addresses: Vec<String>,
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
    /// Addresses it was seen at.
    addresses: Vec<String>,
    /// Messages queued for it (0 until cross-node delivery exists).
    outbox_depth: u64,
}

/// The known nodes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FederationPeers {
    /// Sorted by name, then PeerId.
    peers: Vec<FederationPeer>,
}

fn client(state: &AppState) -> Result<&node::federation::Client, ApiError> {
    state.services.federation().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FEDERATION_OFF",
            "federation is not running",
        )
    })
}

fn stopped(err: node::federation::Error) -> ApiError {
    tracing::error!(error = %err, "federation did not answer");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "FEDERATION_OFF",
        "federation is not running",
    )
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
    let peers = client(&state)?.peers().await.map_err(stopped)?;
    ok(FederationPeers {
        peers: peers
            .into_iter()
            .map(|peer| FederationPeer {
                name: peer.name,
                peer_id: peer.peer_id,
                connected: peer.connected,
                addresses: peer.addresses,
                outbox_depth: peer.outbox_depth,
            })
            .collect(),
    })
}
