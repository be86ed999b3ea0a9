//! Named points where the node can be made to die as a power cut would kill it: with
//! `PARLEY_CRASH_AT=<name>` in its environment the process aborts there, no destructor run, nothing
//! flushed. The crash-safety tests kill the real binary at each step of every write the node makes
//! outside sled (secrets, blobs) and halfway through a write set (`storage::write_set`), and check
//! what they find when it starts again. Otherwise a point costs one comparison.

use std::sync::OnceLock;

/// The variable naming the point to die at.
pub const CRASH_AT: &str = "PARLEY_CRASH_AT";

pub(crate) fn point(name: &str) {
    point_after(name, || {});
}

/// A point where the disk may already hold some of the writes before it (sled writes its log out
/// whenever a buffer fills): `first` makes them durable, then the process dies.
pub(crate) fn point_after(name: &str, first: impl FnOnce()) {
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    if CHOSEN.get_or_init(|| std::env::var(CRASH_AT).ok()).as_deref() == Some(name) {
        first();
        eprintln!("{CRASH_AT}={name}: aborting here");
        std::process::abort();
    }
}
