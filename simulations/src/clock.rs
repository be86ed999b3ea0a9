//! Whose time engine 1 keeps. On the simulated clock, tokio's clock is paused for the run and jumps to
//! the next timer whenever no task can run: link latencies, retries, pings, timeouts and the message
//! schedule all take their simulated time, while the work between them (crypto, sled, libp2p) takes
//! none. A lightly loaded run then goes faster than the wall clock, and an overloaded one slower,
//! without the overload showing in its latencies. Every timer of a node is tokio's (libp2p's too,
//! through `patches/futures-timer`), and work on the blocking pool (store flushes, password hashes)
//! holds the clock still until it finishes, so a flush is never overtaken by a timeout.

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::Error;

/// The clock a run of engine 1 keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// Simulated time: processing takes no time, and idle stretches none either. Needs a
    /// current-thread runtime (`Clock::runtime`), so the nodes share one core.
    #[default]
    Simulated,
    /// Wall time: the run takes as long as its scenario, processing delays show in latencies, and
    /// the nodes use every core.
    Wall,
}

impl Clock {
    /// A runtime this clock can run on.
    pub fn runtime(self) -> std::io::Result<Runtime> {
        match self {
            Clock::Simulated => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            Clock::Wall => Runtime::new(),
        }
    }

    /// Whether simulated time is wall time.
    pub(crate) fn is_wall(self) -> bool {
        self == Clock::Wall
    }
}

/// Holds tokio's clock paused while it lives, on the simulated clock.
pub(crate) struct Paused(bool);

impl Paused {
    /// Pauses the clock if `clock` is simulated; refuses a runtime that cannot pause.
    pub(crate) fn start(clock: Clock) -> Result<Self, Error> {
        if clock.is_wall() {
            return Ok(Self(false));
        }
        if Handle::current().runtime_flavor() != RuntimeFlavor::CurrentThread {
            return Err(Error::Engine(
                "the simulated clock needs a current-thread runtime (Clock::runtime builds one)".into(),
            ));
        }
        tokio::time::pause();
        Ok(Self(true))
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if self.0 {
            tokio::time::resume();
        }
    }
}
