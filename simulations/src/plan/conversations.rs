//! Who talks to whom: conversations and their members, drawn by user popularity.

use std::ops::Range;

use rand::RngExt;
use rand::rngs::ChaCha12Rng;
use rand::seq::SliceRandom;

use super::weights::{Weighted, add_distinct, zipf};
use super::{ConversationKind, PlannedConversation};
use crate::scenario::{GroupSizeDistribution, Scenario};

/// Users' popularity, as tables to draw from everyone, from one node, or from every node but one.
struct Popularity {
    per_node: usize,
    /// Every user's weight, by user index.
    weight: Vec<f64>,
    /// Per node, its users' weights in order.
    on_node: Vec<Weighted>,
    /// Per node, the sum of its users' weights: drawing a node by it, then a user on it, is a draw from
    /// everyone.
    nodes: Weighted,
}

impl Popularity {
    /// Ranks users in a seeded random order (so popularity is not tied to node or index) and weighs
    /// rank `k` by Zipf.
    fn new(scenario: &Scenario, rng: &mut ChaCha12Rng) -> Self {
        let per_node = scenario.users().per_node;
        let count = scenario.user_count();
        let mut ranking: Vec<usize> = (0..count).collect();
        ranking.shuffle(rng);
        let by_rank = zipf(count, scenario.conversations().zipf_exponent);
        let mut weight = vec![0.0; count];
        for (rank, &user) in ranking.iter().enumerate() {
            weight[user] = by_rank[rank];
        }
        let on_node: Vec<Weighted> = weight
            .chunks(per_node)
            .map(|chunk| Weighted::new(chunk.iter().copied()))
            .collect();
        let nodes = Weighted::new(on_node.iter().map(Weighted::total));
        Self {
            per_node,
            weight,
            on_node,
            nodes,
        }
    }

    fn node_of(&self, user: usize) -> usize {
        user / self.per_node
    }

    fn users_of(&self, node: usize) -> Range<usize> {
        node * self.per_node..(node + 1) * self.per_node
    }

    fn on(&self, rng: &mut ChaCha12Rng, node: usize) -> usize {
        node * self.per_node + self.on_node[node].sample(rng)
    }

    fn anyone(&self, rng: &mut ChaCha12Rng) -> usize {
        let node = self.nodes.sample(rng);
        self.on(rng, node)
    }

    fn off(&self, rng: &mut ChaCha12Rng, node: usize) -> usize {
        let other = self.nodes.sample_except(rng, node);
        self.on(rng, other)
    }

    /// Adds `count` distinct members from `node`'s users, or from everyone.
    fn add_from(&self, rng: &mut ChaCha12Rng, node: Option<usize>, count: usize, members: &mut Vec<usize>) {
        match node {
            Some(node) => add_distinct(rng, self.users_of(node), &self.weight, count, members, |rng| {
                self.on(rng, node)
            }),
            None => add_distinct(rng, 0..self.weight.len(), &self.weight, count, members, |rng| {
                self.anyone(rng)
            }),
        }
    }
}

pub(super) fn generate(scenario: &Scenario, rng: &mut ChaCha12Rng) -> Vec<PlannedConversation> {
    let config = scenario.conversations();
    let popularity = Popularity::new(scenario, rng);
    let dms = cross_node_flags(rng, config.dms, config.cross_node_count(config.dms));
    let groups = cross_node_flags(rng, config.groups, config.cross_node_count(config.groups));
    let group_sizes = match config.group_size_distribution {
        GroupSizeDistribution::Uniform => None,
        GroupSizeDistribution::Zipf => Some(Weighted::new(zipf(
            config.group_size.max - config.group_size.min + 1,
            config.zipf_exponent,
        ))),
    };
    let mut conversations = Vec::with_capacity(dms.len() + groups.len());
    for cross_node in dms {
        let host = popularity.anyone(rng);
        let mut members = vec![host];
        if cross_node {
            members.push(popularity.off(rng, popularity.node_of(host)));
        } else {
            popularity.add_from(rng, Some(popularity.node_of(host)), 1, &mut members);
        }
        let index = conversations.len();
        conversations.push(PlannedConversation {
            index,
            kind: ConversationKind::Dm,
            members,
            host,
            cross_node,
        });
    }
    for cross_node in groups {
        let size = match &group_sizes {
            None => rng.random_range(config.group_size.min..=config.group_size.max),
            Some(table) => config.group_size.min + table.sample(rng),
        };
        let host = popularity.anyone(rng);
        let mut members = vec![host];
        if cross_node {
            members.push(popularity.off(rng, popularity.node_of(host)));
            popularity.add_from(rng, None, size - 2, &mut members);
        } else {
            popularity.add_from(rng, Some(popularity.node_of(host)), size - 1, &mut members);
        }
        let index = conversations.len();
        conversations.push(PlannedConversation {
            index,
            kind: ConversationKind::Group,
            members,
            host,
            cross_node,
        });
    }
    conversations
}

/// `total` flags, `cross` of them set, in a seeded random order.
fn cross_node_flags(rng: &mut ChaCha12Rng, total: usize, cross: usize) -> Vec<bool> {
    let mut flags: Vec<bool> = (0..total).map(|i| i < cross).collect();
    flags.shuffle(rng);
    flags
}
