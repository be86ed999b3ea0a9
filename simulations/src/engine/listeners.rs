//! Each simulated user's live connection, as a client keeps it: subscribe, then fetch what was missed
//! since the highest sequence number seen in each conversation (what the WebSocket's resume does), then
//! take new messages as they come, skipping those the catch-up already gave. A connection ends when its
//! node crashes; the engine opens it again once the node is back.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use protocol::ConversationId;
use protocol::ws::{MessageEvent, ServerFrame};

use super::clients::SimUser;
use super::cluster::Cluster;
use super::names;
use super::recorder::Recorder;

/// What one user's client remembers across connections: the highest sequence number it has seen in
/// each of its conversations.
pub(crate) struct Inbox {
    index: usize,
    seen: Mutex<BTreeMap<ConversationId, u64>>,
}

impl Inbox {
    /// The inbox of user `index`, a member of `conversations`.
    pub(crate) fn new(index: usize, conversations: impl IntoIterator<Item = ConversationId>) -> Self {
        Self {
            index,
            seen: Mutex::new(conversations.into_iter().map(|id| (id, 0)).collect()),
        }
    }

    fn since(&self) -> BTreeMap<ConversationId, u64> {
        self.lock().clone()
    }

    fn take(&self, event: &MessageEvent, own: &SimUser, recorder: &Recorder) {
        {
            let mut seen = self.lock();
            let highest = seen.entry(event.conversation_id).or_default();
            *highest = (*highest).max(event.sequence_number);
        }
        if event.sender_id != own.actor.user_id
            && let Some(message) = names::message_index(&event.client_message_id)
        {
            recorder.delivered(message, self.index, event.sequence_number);
            if let Some(keys) = &own.keys {
                let header = event.header.as_ref().map_or(&[][..], |header| &header.0[..]);
                let opened = keys.decrypt(event.sender_device_id, header, &event.content.0);
                if !opened.is_ok_and(|text| names::is_plaintext_of(message, &text)) {
                    recorder.undecryptable(message, self.index);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConversationId, u64>> {
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Connects `inbox`'s user to its node and records what reaches it until the connection ends. Returns
/// `false` when the node is down.
pub(crate) async fn connect(cluster: &Cluster, user: &SimUser, inbox: Arc<Inbox>, recorder: Arc<Recorder>) -> bool {
    let actor = user.actor;
    let subscribed = cluster
        .on_node(user.node, move |services| async move {
            services.hub.subscribe(actor.user_id, actor.device_id, actor.session_id)
        })
        .await;
    let Some(Ok(mut subscription)) = subscribed else {
        return false;
    };
    // Catch up; a replay is bounded, so ask again until nothing new comes.
    let mut replayed = HashSet::new();
    loop {
        let (actor, since) = (user.actor, inbox.since());
        let missed = cluster
            .on_node(user.node, move |services| async move {
                services.messages.since(&actor, &since)
            })
            .await;
        let Some(Ok(missed)) = missed else {
            return false;
        };
        if missed.is_empty() {
            break;
        }
        for event in &missed {
            replayed.insert(event.message_id);
            inbox.take(event, user, &recorder);
        }
    }
    let user = user.clone();
    tokio::spawn(async move {
        while let Some(frame) = subscription.frames.recv().await {
            if let ServerFrame::MessageNew(event) = &*frame
                && !replayed.contains(&event.message_id)
            {
                inbox.take(event, &user, &recorder);
            }
        }
    });
    true
}
