//! Every HTTP connection, WebSocket and sled file is a file descriptor, and distributions often start
//! a process with a soft limit of 1,024. The node raises its soft limit to the hard one where the OS
//! allows, and sizes its connection cap to what it then has.

/// Descriptors kept for what is not a client connection: sled's files, blobs, federation sockets.
const RESERVED: u64 = 256;

/// Raises the soft open-file limit to the hard limit; returns the limit now in force (`None` where
/// it cannot be read or is unlimited).
#[cfg(unix)]
pub(crate) fn raise() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %err, "could not raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
pub(crate) fn raise() -> Option<u64> {
    None
}

/// The connection cap that fits in `file_limit`, if the configured one does not.
pub(crate) fn connections_that_fit(configured: usize, file_limit: Option<u64>) -> usize {
    match file_limit {
        Some(limit) => {
            let fit = if limit > 2 * RESERVED {
                limit - RESERVED
            } else {
                limit / 2
            };
            let fit = usize::try_from(fit).unwrap_or(usize::MAX);
            configured.min(fit)
        }
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_node_own_files() {
        assert_eq!(connections_that_fit(10_000, Some(1024)), 768);
        assert_eq!(connections_that_fit(500, Some(1 << 20)), 500);
        assert_eq!(connections_that_fit(10_000, Some(100)), 50);
        assert_eq!(connections_that_fit(10_000, None), 10_000);
    }
}
