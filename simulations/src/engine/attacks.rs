//! A hostile node inside the federation: it floods another node with requests, or sends it envelopes
//! that are forged (signed by another key) or that speak for conversations it does not host. The node
//! under attack must refuse all of it, and the rest of the run must not notice; the summary counts what
//! the target accepted, which should be nothing forged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use libp2p::PeerId;
use protocol::federation::{Envelope, Event, RelayedCopy, RelayedMessage, Request, Response};
use protocol::{Base64Bytes, ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};
use serde::Serialize;

use super::cluster::Cluster;

/// Flood requests outstanding at once.
const FLOOD_IN_FLIGHT: usize = 256;

/// What the attacks did and what the targets let through.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    flood_sent: AtomicU64,
    flood_refused: AtomicU64,
    forged_sent: AtomicU64,
    forged_accepted: AtomicU64,
}

/// The attacks' outcome in the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Attacks {
    /// Requests a flooding node sent.
    pub flood_requests: u64,
    /// Of those, answered with a refusal (`rate_limited`, `busy`) or not answered at all.
    pub flood_refused: u64,
    /// Forged or unauthorised envelopes sent.
    pub forged_sent: u64,
    /// Of those, applied by their target: anything but 0 is a security bug.
    pub forged_accepted: u64,
}

impl Tally {
    pub(crate) fn report(&self) -> Attacks {
        Attacks {
            flood_requests: self.flood_sent.load(Ordering::Relaxed),
            flood_refused: self.flood_refused.load(Ordering::Relaxed),
            forged_sent: self.forged_sent.load(Ordering::Relaxed),
            forged_accepted: self.forged_accepted.load(Ordering::Relaxed),
        }
    }
}

/// The PeerId of node `index` (from its key), unless it is down.
async fn peer_of(cluster: &Cluster, index: usize) -> Option<PeerId> {
    cluster
        .on_node(index, |services| async move {
            services.identity.libp2p_keypair().public().to_peer_id()
        })
        .await
}

/// Node `attacker` asks `target` to resolve a username `rate` times a second until aborted, without
/// waiting for answers (at most [`FLOOD_IN_FLIGHT`] outstanding, as the attacker's own node bounds them).
pub(crate) async fn flood(cluster: Arc<Cluster>, attacker: usize, target: usize, rate: f64, tally: Arc<Tally>) {
    let Some(peer) = peer_of(&cluster, target).await else {
        return;
    };
    let in_flight = Arc::new(tokio::sync::Semaphore::new(FLOOD_IN_FLIGHT));
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut asking = tokio::task::JoinSet::new();
    loop {
        every.tick().await;
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return;
        };
        tally.flood_sent.fetch_add(1, Ordering::Relaxed);
        let (cluster, tally) = (cluster.clone(), tally.clone());
        asking.spawn(async move {
            let asked = cluster
                .on_node(attacker, move |services| async move {
                    let client = services.federation()?.clone();
                    let request = Request::ResolveUser {
                        username: "flood".to_owned(),
                    };
                    Some(client.request(peer, request).await)
                })
                .await
                .flatten();
            if !matches!(asked, Some(Ok(Response::NotFound | Response::User(_)))) {
                tally.flood_refused.fetch_add(1, Ordering::Relaxed);
            }
            drop(slot);
        });
        while asking.try_join_next().is_some() {}
    }
}

/// Node `attacker` sends `count` envelopes to `target` that it may not send: half signed by a key that
/// is not its own, half signed by its own key but relaying a message of a conversation it does not host.
pub(crate) async fn forge(cluster: &Cluster, attacker: usize, target: usize, count: u32, tally: &Tally) {
    let Some(peer) = peer_of(cluster, target).await else {
        return;
    };
    for round in 0..count {
        let event = Event::Message(RelayedMessage {
            message_id: MessageId::random(),
            conversation_id: ConversationId::random(),
            seq: u64::from(round) + 1,
            sender_id: UserId::random(),
            sender_device_id: DeviceId::random(),
            client_message_id: ClientMessageId::random(),
            message_type: MessageType::Text,
            created_at: chrono::Utc::now(),
            reply_to: None,
            mentions: Vec::new(),
            forwarded_from: None,
            copies: vec![RelayedCopy {
                user_id: UserId::random(),
                device_id: DeviceId::random(),
                ciphertext: Base64Bytes(b"forged".to_vec()),
                header: None,
            }],
            body: None,
        });
        let own_key = round % 2 == 1;
        // A key that is not the attacker's: the target must see the signature does not match.
        let stranger = SigningKey::from_bytes(&[7; 32]);
        let sent = cluster
            .on_node(attacker, move |services| async move {
                let key = if own_key { own_signing_key(&services)? } else { stranger };
                let envelope = Envelope::seal(&event, &key).ok()?;
                let client = services.federation()?.clone();
                Some(
                    client
                        .request(
                            peer,
                            Request::Deliver {
                                envelopes: vec![envelope],
                            },
                        )
                        .await,
                )
            })
            .await
            .flatten();
        tally.forged_sent.fetch_add(1, Ordering::Relaxed);
        if let Some(Ok(Response::Accepted { applied, .. })) = sent
            && applied > 0
        {
            tally.forged_accepted.fetch_add(u64::from(applied), Ordering::Relaxed);
        }
    }
}

/// The node's own Ed25519 key, through its libp2p keypair (the node hands its key out no other way).
fn own_signing_key(services: &node::Services) -> Option<SigningKey> {
    let keypair = services.identity.libp2p_keypair().try_into_ed25519().ok()?;
    let secret: [u8; 32] = keypair.secret().as_ref().try_into().ok()?;
    Some(SigningKey::from_bytes(&secret))
}
