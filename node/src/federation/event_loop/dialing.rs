//! Reaching a peer to send it a request. The swarm dials with request-response's address book, which
//! keeps the last hundred peers' addresses only, and Kademlia's routing table, which keeps twenty per
//! distance: a node talking to more nodes than that (a federation of 300 in a simulation) failed its
//! requests to the others with "Failed to dial the requested peer". So the loop keeps every address it
//! learns, hands a peer's back to the swarm before a request when no connection is open, and, for a
//! peer it knows no address of, first asks the DHT where that peer is.

use libp2p::{PeerId, kad};
use protocol::federation::{Request, Response};
use tokio::sync::oneshot;

use super::{EventLoop, Pending};
use crate::federation::Error;

/// A request held while the DHT is asked where its peer is.
pub(super) struct HeldRequest {
    peer: PeerId,
    request: Request,
    reply: oneshot::Sender<Result<Response, Error>>,
}

impl EventLoop {
    /// Sends `request` to `peer` now if the swarm can reach it, otherwise once a DHT lookup of the
    /// peer ends (with whatever addresses it found; none makes the request fail as a dial failure).
    pub(super) fn send_request(
        &mut self,
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, Error>>,
    ) {
        if self.denied.contains(&peer) {
            let _ = reply.send(Err(Error::RequestFailed(
                "this node's operator denies that node".into(),
            )));
            return;
        }
        if self.swarm.is_connected(&peer) || self.remind_addresses(peer) {
            self.dispatch(peer, request, reply);
            return;
        }
        let query = self.swarm.behaviour_mut().kademlia.get_closest_peers(peer);
        self.finding.insert(query, HeldRequest { peer, request, reply });
    }

    /// Ends the lookup `query` if a request waits on it: the peer's addresses, if the DHT knew them,
    /// are kept and the request is sent.
    pub(super) fn on_closest_peers(&mut self, query: kad::QueryId, result: kad::GetClosestPeersResult) {
        let Some(HeldRequest { peer, request, reply }) = self.finding.remove(&query) else {
            return;
        };
        let found = match result {
            Ok(kad::GetClosestPeersOk { peers, .. }) | Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
        };
        let addresses = found
            .into_iter()
            .filter(|info| info.peer_id == peer)
            .flat_map(|info| info.addrs);
        self.peers.entry(peer).or_default().addresses.extend(addresses);
        self.remind_addresses(peer);
        self.dispatch(peer, request, reply);
    }

    fn dispatch(&mut self, peer: PeerId, request: Request, reply: oneshot::Sender<Result<Response, Error>>) {
        let id = self.swarm.behaviour_mut().request_response.send_request(&peer, request);
        self.pending_requests.insert(id, Pending::Client(reply));
    }

    /// Hands the swarm every address this loop knows for `peer`; false when it knows none.
    fn remind_addresses(&mut self, peer: PeerId) -> bool {
        let Some(known) = self.peers.get(&peer).filter(|known| !known.addresses.is_empty()) else {
            return false;
        };
        for address in known.addresses.clone() {
            self.swarm.add_peer_address(peer, address);
        }
        true
    }
}
