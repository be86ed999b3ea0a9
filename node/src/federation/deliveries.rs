//! The receiving side of `Request::Deliver`: each envelope is checked against the sending node's key
//! (its PeerId), then applied in order. Refusals are final and reported per event; a storage failure
//! fails the whole batch so the sender retries it (applying an event twice changes nothing). Frames for
//! local devices leave only after the batch is durable.

use libp2p::PeerId;
use protocol::federation::{Envelope, Event, Response, public_key_of};

use super::inbound::error;
use crate::realtime::Push;
use crate::{Error, Services};

pub(crate) async fn accept(services: &Services, peer: PeerId, envelopes: Vec<Envelope>) -> Response {
    let Some(origin) = public_key_of(&peer.to_bytes()) else {
        return error("bad_request", "only nodes with Ed25519 keys may deliver");
    };
    let mut applied = 0u32;
    let mut rejected = Vec::new();
    let mut pushes: Vec<Push> = Vec::new();
    for envelope in envelopes {
        let event = match envelope.open(&origin) {
            Ok(event) => event,
            Err(err) => {
                rejected.push(format!("envelope: {err}"));
                continue;
            }
        };
        let outcome = match &event {
            Event::Conversation(state) => services
                .conversations
                .apply_state(peer, state, &envelope)
                .await
                .map(|()| Vec::new()),
            Event::Message(message) => services.messages.apply_relayed(peer, message, &envelope),
            Event::Receipt(notice) => services.messages.apply_relayed_receipt(peer, notice),
            Event::Changed(change) => services.messages.apply_relayed_change(peer, change).await,
            _ => Err(Error::invalid("event", "unsupported")),
        };
        match outcome {
            Ok(frames) => {
                applied += 1;
                pushes.extend(frames);
            }
            Err(err @ (Error::Storage(_) | Error::Corrupt(_) | Error::Internal(_) | Error::Unavailable(_))) => {
                tracing::error!(%peer, error = %err, "applying a delivery failed");
                return error("internal", "the node could not store the delivery; retry later");
            }
            Err(err) => {
                tracing::warn!(%peer, error = %err, "refused a relayed event");
                rejected.push(err.to_string());
            }
        }
    }
    if let Err(err) = services.store.commit().await {
        tracing::error!(%peer, error = %err, "committing a delivery failed");
        return error("internal", "the node could not store the delivery; retry later");
    }
    for push in &pushes {
        services.hub.push(push);
    }
    Response::Accepted { applied, rejected }
}
