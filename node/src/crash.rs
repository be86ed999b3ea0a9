//! Named points where the node can be made to die as a power cut would kill it: with
//! `PARLEY_CRASH_AT=<name>` in its environment the process aborts there, no destructor run, nothing
//! flushed. The crash-safety tests kill the real binary at each step of every write the node makes
//! outside sled (secrets, blobs) and check what it finds when it starts again. Otherwise a point
//! costs one comparison.

use std::sync::OnceLock;

/// The variable naming the point to die at.
pub const CRASH_AT: &str = "PARLEY_CRASH_AT";

pub(crate) fn point(name: &str) {
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    if CHOSEN.get_or_init(|| std::env::var(CRASH_AT).ok()).as_deref() == Some(name) {
        eprintln!("{CRASH_AT}={name}: aborting here");
        std::process::abort();
    }
}
