//! The plan: every random choice of a run, drawn from the scenario's seed alone, so engines of any kind
//! (in-process, containers) replay the same users, conversations, messages and faults, and two runs of
//! one scenario differ only by what the system under test does.
//!
//! The generator is rand's `ChaCha12Rng`, seeded with `seed_from_u64(seed)`: unlike `StdRng`, its
//! output is promised stable across versions and platforms. Conversations and messages each draw from
//! their own ChaCha stream, so changing the traffic section leaves who-talks-to-whom unchanged.

mod conversations;
mod messages;
mod timeline;
mod weights;

#[cfg(test)]
mod tests;

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::ChaCha12Rng;

pub use timeline::{FaultEvent, TimedFault};

use crate::scenario::Scenario;

/// The ChaCha stream for conversations.
const CONVERSATION_STREAM: u64 = 1;
/// The ChaCha stream for messages.
const MESSAGE_STREAM: u64 = 2;

/// One simulated user, registered on its node before traffic starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUser {
    /// Its position in [`Plan::users`], by which conversations and messages name it.
    pub index: usize,
    /// Its home node, by index in [`crate::Nodes::names`].
    pub node: usize,
    /// A valid Parley username (`u{node}_{i}`), unique in the run.
    pub username: String,
}

/// What kind of conversation: the node paths differ (a DM has no membership to fan out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    /// Two members.
    Dm,
    /// Three or more members.
    Group,
}

/// A conversation created before traffic starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedConversation {
    /// Its position in [`Plan::conversations`]: DMs first, then groups.
    pub index: usize,
    /// DM or group.
    pub kind: ConversationKind,
    /// Distinct user indices; the first is the creator.
    pub members: Vec<usize>,
    /// The creator, `members[0]`, whose node hosts the conversation.
    pub host: usize,
    /// Whether members span nodes (then on at least two); otherwise all are on the host's node.
    pub cross_node: bool,
}

/// One message to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedMessage {
    /// When to send it, from the start of the run.
    pub at: Duration,
    /// The sending user's index; a member of the conversation.
    pub sender: usize,
    /// The conversation's index.
    pub conversation: usize,
    /// Plaintext size in bytes.
    pub size: usize,
}

/// Everything the seed decides for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every user, `per_node` per node, node by node.
    pub users: Vec<PlannedUser>,
    /// Every conversation, DMs then groups.
    pub conversations: Vec<PlannedConversation>,
    /// Every message, in send order (by time, then sender).
    pub messages: Vec<PlannedMessage>,
    /// The fault timeline as start and end events in time order.
    pub faults: Vec<TimedFault>,
}

impl Plan {
    /// Draws the plan of `scenario`. The same scenario always gives the same plan.
    ///
    /// Users: `per_node` on each node, in node order. Conversations: creators are drawn by user
    /// popularity (Zipf over a seeded ranking of users); local ones take their other members from
    /// the creator's node, cross-node ones one member from another node and the rest from anyone,
    /// all by popularity. Messages: each member of at least one conversation sends as a Poisson
    /// process of rate `rate_per_user` from `start_after` to the end, each message to one of their
    /// conversations drawn by conversation popularity (Zipf over a seeded ranking of conversations).
    pub fn generate(scenario: &Scenario) -> Plan {
        let users = users(scenario);
        let conversations = conversations::generate(scenario, &mut rng(scenario.seed(), CONVERSATION_STREAM));
        let messages = messages::generate(scenario, &conversations, &mut rng(scenario.seed(), MESSAGE_STREAM));
        let faults = timeline(scenario);
        Plan {
            users,
            conversations,
            messages,
            faults,
        }
    }

    /// The copies planned message `message` owes: one per other member of its conversation (every
    /// simulated user has one device).
    pub fn copies_owed(&self, message: usize) -> usize {
        self.conversations[self.messages[message].conversation].members.len() - 1
    }
}

/// The fault timeline alone, for engines that need no users or messages (an export of the scenario).
pub(crate) fn timeline(scenario: &Scenario) -> Vec<TimedFault> {
    timeline::flatten(scenario.faults(), scenario.duration())
}

fn rng(seed: u64, stream: u64) -> ChaCha12Rng {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn users(scenario: &Scenario) -> Vec<PlannedUser> {
    let per_node = scenario.users().per_node;
    (0..scenario.user_count())
        .map(|index| {
            let (node, i) = (index / per_node, index % per_node);
            PlannedUser {
                index,
                node,
                username: format!("u{node}_{i}"),
            }
        })
        .collect()
}
