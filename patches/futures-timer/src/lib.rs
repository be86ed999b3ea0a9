//! `futures_timer::Delay` on tokio's timer.
//!
//! libp2p times its connections, identify rounds, DHT queries and every bounded stream with
//! `futures_timer::Delay`. The real crate keeps one global timer thread and wakes it (a futex
//! system call and a context switch) for every delay created, reset or dropped. A node opens several
//! per request; a simulation of 1,000 nodes spent about a fifth of its CPU time in those wake-ups
//! and in the timer thread. Parley runs every swarm on tokio, whose timer wheel registers a delay
//! without waking anything, so this crate gives libp2p the same API on top of it. It also puts
//! libp2p's timers on tokio's clock, the one the rest of the node uses.
//!
//! A delay must be polled inside a tokio runtime (it may be created anywhere).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// A future that completes once its deadline has passed, and stays complete until reset.
pub struct Delay {
    deadline: Instant,
    /// Made on the first poll, where a runtime is known to be present.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Delay {
    /// A delay that fires `duration` from now.
    pub fn new(duration: Duration) -> Self {
        Self {
            deadline: Instant::now() + duration,
            sleep: None,
        }
    }

    /// Fires `duration` from now instead, whether or not the delay had fired.
    pub fn reset(&mut self, duration: Duration) {
        self.deadline = Instant::now() + duration;
        if let Some(sleep) = &mut self.sleep {
            sleep.as_mut().reset(self.deadline);
        }
    }
}

impl Future for Delay {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let deadline = this.deadline;
        this.sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)))
            .as_mut()
            .poll(cx)
    }
}

impl fmt::Debug for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delay").field("deadline", &self.deadline).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Far beyond any deadline here: a delay that has not fired by then never would.
    const NEVER: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn fires_after_its_deadline_and_stays_fired() {
        let started = Instant::now();
        let mut delay = Delay::new(Duration::from_millis(50));
        tokio::time::timeout(NEVER, &mut delay).await.expect("fired");
        assert!(started.elapsed() >= Duration::from_millis(50));
        tokio::time::timeout(Duration::ZERO, &mut delay)
            .await
            .expect("still fired");
    }

    #[tokio::test]
    async fn reset_moves_the_deadline_before_and_after_firing() {
        let started = Instant::now();
        let mut delay = Delay::new(NEVER * 2);
        delay.reset(Duration::from_millis(20));
        tokio::time::timeout(NEVER, &mut delay)
            .await
            .expect("fired at the new deadline");
        assert!(started.elapsed() >= Duration::from_millis(20));
        let reset = Instant::now();
        delay.reset(Duration::from_millis(30));
        tokio::time::timeout(NEVER, &mut delay).await.expect("fired again");
        assert!(reset.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn a_delay_made_outside_a_runtime_fires_inside_one() {
        let delay = std::thread::spawn(|| Delay::new(Duration::from_millis(10)))
            .join()
            .expect("made on a plain thread");
        tokio::time::timeout(NEVER, delay).await.expect("fired");
    }

    #[test]
    fn is_unpin_and_sendable_as_libp2p_needs() {
        fn needs<T: Unpin + Send + Sync + 'static>() {}
        needs::<Delay>();
    }
}
