//! Exponential backoff with jitter, for everything that retries against another machine (webhook
//! receivers, other nodes): the wait doubles per failure up to a cap, and each wait is drawn from its
//! upper half so that many retriers that failed together do not retry together.

use std::time::Duration;

use rand::RngExt;

/// The wait before retry number `attempt` (1 for the first retry): `first * 2^(attempt - 1)`, at most
/// `cap`, then jittered into `[wait / 2, wait]`.
pub(crate) fn delay(first: Duration, cap: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let wait = first.saturating_mul(1 << doublings).min(cap);
    wait.mul_f64(rand::rng().random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_stay_in_their_upper_half() {
        let (first, cap) = (Duration::from_millis(200), Duration::from_secs(5));
        for (attempt, full) in [(1, 200), (2, 400), (3, 800), (6, 5000), (40, 5000)] {
            let full = Duration::from_millis(full);
            let wait = delay(first, cap, attempt);
            assert!(wait >= full / 2 && wait <= full, "attempt {attempt}: {wait:?}");
        }
    }
}
