//! When each message is sent, by whom, to which conversation, and how large it is.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha12Rng;
use rand::seq::SliceRandom;
use rand_distr::{Exp1, StandardNormal};

use super::weights::{Weighted, zipf};
use super::{PlannedConversation, PlannedMessage};
use crate::scenario::{Scenario, SizeDistribution, SizeRange};

pub(super) fn generate(
    scenario: &Scenario,
    conversations: &[PlannedConversation],
    rng: &mut ChaCha12Rng,
) -> Vec<PlannedMessage> {
    let traffic = scenario.traffic();
    let popularity = conversation_popularity(conversations.len(), scenario.conversations().zipf_exponent, rng);
    let mut member_of: Vec<Vec<usize>> = vec![Vec::new(); scenario.user_count()];
    for conversation in conversations {
        for &member in &conversation.members {
            member_of[member].push(conversation.index);
        }
    }
    let (start, end) = (traffic.start_after.as_secs_f64(), scenario.duration().as_secs_f64());
    let mut messages = Vec::new();
    for (sender, joined) in member_of.iter().enumerate().filter(|(_, joined)| !joined.is_empty()) {
        let choice = Weighted::new(joined.iter().map(|&conversation| popularity[conversation]));
        let mut t = start;
        loop {
            // Exponential gaps between sends make each user's sends a Poisson process.
            t += rng.sample::<f64, _>(Exp1) / traffic.rate_per_user;
            // Compared as a float first, so the conversion below cannot overflow.
            if t >= end {
                break;
            }
            let at = Duration::from_secs_f64(t).min(scenario.duration());
            if at == scenario.duration() {
                break;
            }
            let conversation = joined[choice.sample(rng)];
            let size = size(traffic.size, traffic.size_distribution, rng);
            messages.push(PlannedMessage {
                at,
                sender,
                conversation,
                size,
            });
        }
    }
    messages.sort_by_key(|message| (message.at, message.sender));
    messages
}

/// Each conversation's weight when a member picks where to post: Zipf over a seeded ranking, so a few
/// conversations are busy and most are quiet, as in real chat.
fn conversation_popularity(count: usize, exponent: f64, rng: &mut ChaCha12Rng) -> Vec<f64> {
    let mut ranking: Vec<usize> = (0..count).collect();
    ranking.shuffle(rng);
    let by_rank = zipf(count, exponent);
    let mut weight = vec![0.0; count];
    for (rank, conversation) in ranking.into_iter().enumerate() {
        weight[conversation] = by_rank[rank];
    }
    weight
}

fn size(bounds: SizeRange, distribution: SizeDistribution, rng: &mut ChaCha12Rng) -> usize {
    match distribution {
        SizeDistribution::Uniform => rng.random_range(bounds.min..=bounds.max),
        SizeDistribution::LogNormal { median, sigma } => {
            let normal: f64 = rng.sample(StandardNormal);
            let drawn = (median as f64).ln() + sigma * normal;
            // Clamped in float first, so the cast is exact and a huge draw cannot saturate.
            drawn.exp().round().clamp(bounds.min as f64, bounds.max as f64) as usize
        }
    }
}
