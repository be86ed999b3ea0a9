//! Requests from other nodes, as the event loop takes them: each peer's budget, the answers to this
//! node's own requests, and handing the rest to the node (`Inbound`) with the way back.

use libp2p::PeerId;
use libp2p::request_response::{self, ResponseChannel};
use protocol::federation::{Request, Response};

use super::{EventLoop, PEER_WINDOW, Pending};
use crate::federation::{Error, Inbound, InboundRequest, Reply, error_response};

impl EventLoop {
    /// Takes one request from a peer's budget; false when it is spent. A token bucket rather than a
    /// fixed window, so a busy but honest peer is slowed down smoothly instead of cut off for the rest
    /// of a minute (its outbox then sends fewer, larger batches).
    fn within_budget(&mut self, peer: PeerId) -> bool {
        let now = tokio::time::Instant::now();
        let capacity = f64::from(self.config.peer_requests_per_minute);
        let rate = capacity / PEER_WINDOW.as_secs_f64();
        if self.peer_budget.len() > 10_000 {
            self.peer_budget
                .retain(|_, (since, _)| now.duration_since(*since) < PEER_WINDOW);
        }
        let (since, tokens) = self.peer_budget.entry(peer).or_insert((now, capacity));
        *tokens = (*tokens + now.duration_since(*since).as_secs_f64() * rate).min(capacity);
        *since = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }

    pub(super) fn on_request_response(&mut self, event: request_response::Event<Request, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => self.on_inbound(peer, request, channel),
                request_response::Message::Response { request_id, response } => {
                    if let Response::NodeInfo(info) = &response {
                        self.learn_name(peer, info.name.clone());
                    }
                    if let Some(Pending::Client(reply)) = self.pending_requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, error = %error, "federation request failed");
                if let Some(Pending::Client(reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(Error::RequestFailed(error.to_string())));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                // Malformed or oversized payloads end here: the codec refused them; the stream is dropped.
                tracing::debug!(%peer, error = %error, "inbound federation request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_inbound(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        let refusal = if self.denied.contains(&peer) {
            Some(error_response("denied", "this node refuses your traffic"))
        } else if !self.within_budget(peer) {
            Some(error_response(
                "rate_limited",
                "too many requests this minute; slow down",
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.counters.request("in", request.kind(), refusal.outcome());
            let _ = self
                .swarm
                .behaviour_mut()
                .request_response
                .send_response(channel, refusal);
            return;
        }
        if let Request::Hello(info) = &request {
            // The name is the peer's own claim; its PeerId is authenticated by the connection.
            self.learn_name(peer, info.name.clone());
            let answer = Response::NodeInfo(crate::federation::node_info(self.name.clone()));
            let _ = self
                .swarm
                .behaviour_mut()
                .request_response
                .send_response(channel, answer);
            return;
        }
        let Ok(slot) = self.inbound_slots.clone().try_acquire_owned() else {
            let busy = error_response("busy", "too many requests in flight; retry later");
            let _ = self.swarm.behaviour_mut().request_response.send_response(channel, busy);
            return;
        };
        let reply = Reply {
            channel: Some(channel),
            answers: self.answers_tx.clone(),
            _slot: slot,
        };
        let name = self.peers.get(&peer).and_then(|known| known.name.clone());
        let request = InboundRequest {
            peer,
            name,
            request,
            reply,
        };
        if let Err(refused) = self.inbound.try_send(Inbound::Request(request)) {
            // Dropping the refused request's reply answers `busy`.
            tracing::warn!(%peer, error = %refused, "the node is not taking requests");
        }
    }
}
