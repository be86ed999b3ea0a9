//! Weighted choice: Zipf popularity and picking distinct members by it. rand_distr's Zipf samples a
//! rank, but members are drawn from subsets (one node's users, everyone but the creator's node), so
//! weights are kept as cumulative tables (one per node, one over nodes) that such subsets draw from.

use std::collections::HashSet;
use std::ops::Range;

use rand::RngExt;
use rand::rngs::ChaCha12Rng;

/// Weights of ranks 1..=n under a Zipf law of exponent `s`: rank `k` weighs `1 / k^s`, so `s = 0`
/// is uniform and larger `s` favours the first ranks more.
pub(crate) fn zipf(n: usize, s: f64) -> Vec<f64> {
    (1..=n).map(|rank| (rank as f64).powf(-s)).collect()
}

/// A table to draw an index with probability proportional to its weight, by binary search.
pub(crate) struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let cumulative = weights
            .into_iter()
            .scan(0.0, |sum, weight| {
                *sum += weight;
                Some(*sum)
            })
            .collect();
        Self { cumulative }
    }

    /// Sum of all weights.
    pub(crate) fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    /// Sum of the weights before index `i`.
    fn before(&self, i: usize) -> f64 {
        if i == 0 { 0.0 } else { self.cumulative[i - 1] }
    }

    /// An index, drawn by weight. The table must not be empty.
    pub(crate) fn sample(&self, rng: &mut ChaCha12Rng) -> usize {
        self.locate(rng.random::<f64>() * self.total())
    }

    /// An index other than `skip`, drawn by weight among the others: the draw is made on the line with
    /// `skip`'s stretch cut out, so no retry is needed however heavy `skip` is. The table needs two
    /// entries.
    pub(crate) fn sample_except(&self, rng: &mut ChaCha12Rng, skip: usize) -> usize {
        let skipped = self.cumulative[skip] - self.before(skip);
        let mut x = rng.random::<f64>() * (self.total() - skipped);
        if x >= self.before(skip) {
            x += skipped;
        }
        match self.locate(x) {
            // Only float rounding at the stretch's edge lands here; its neighbour is the right answer.
            i if i == skip && skip + 1 < self.cumulative.len() => skip + 1,
            i if i == skip => skip - 1,
            i => i,
        }
    }

    fn locate(&self, x: f64) -> usize {
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

/// Adds `count` members to `members`, none already there, from `pool`, a run of user indices. Members
/// are drawn one by one with `draw`, retrying a repeat, which is the natural "pick by popularity" order;
/// when repeats pile up (a small pool or a steep law) the rest is drawn at once by `weight` (every
/// user's), by weighted sampling without replacement (Efraimidis–Spirakis), so the call always ends.
/// `draw` must return users of the pool, and the pool must hold `count` users not yet members.
pub(crate) fn add_distinct(
    rng: &mut ChaCha12Rng,
    pool: Range<usize>,
    weight: &[f64],
    count: usize,
    members: &mut Vec<usize>,
    mut draw: impl FnMut(&mut ChaCha12Rng) -> usize,
) {
    let mut taken: HashSet<usize> = members.iter().copied().collect();
    let target = members.len() + count;
    let mut tries = 16 * count + 64;
    while members.len() < target && tries > 0 {
        tries -= 1;
        let user = draw(rng);
        if taken.insert(user) {
            members.push(user);
        }
    }
    if members.len() < target {
        let mut keyed: Vec<(f64, usize)> = pool
            .filter(|user| !taken.contains(user))
            .map(|user| (rng.random::<f64>().ln() / weight[user], user))
            .collect();
        keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        members.extend(keyed.into_iter().take(target - members.len()).map(|(_, user)| user));
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn draws_follow_the_weights() {
        let mut rng = ChaCha12Rng::seed_from_u64(1);
        let table = Weighted::new([1.0, 0.0, 3.0]);
        let mut counts = [0usize; 3];
        for _ in 0..40_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = counts[2] as f64 / counts[0] as f64;
        assert!((2.8..3.2).contains(&ratio), "{counts:?}");
    }

    #[test]
    fn sample_except_never_returns_the_skipped_index() {
        let mut rng = ChaCha12Rng::seed_from_u64(2);
        let table = Weighted::new(zipf(5, 8.0));
        for skip in 0..5 {
            for _ in 0..1_000 {
                assert_ne!(table.sample_except(&mut rng, skip), skip);
            }
        }
    }

    #[test]
    fn distinct_members_even_from_a_steep_small_pool() {
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let weight = zipf(10, 10.0);
        let table = Weighted::new(weight.iter().copied());
        let mut members = vec![4];
        add_distinct(&mut rng, 0..10, &weight, 9, &mut members, |rng| table.sample(rng));
        let mut sorted = members.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_eq!(members[0], 4);
    }
}
