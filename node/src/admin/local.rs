//! The local operator's credential: a token the node writes to its data directory each time it opens
//! it, so whoever can read that directory (the node's own user, root) may run `parley admin` against
//! the running node, and nobody else. A new token at each start means a copy taken earlier stops
//! working at the next restart.

use std::path::Path;

use crate::Result;
use crate::auth::tokens;
use crate::storage::write_whole;

/// The file in the data directory that holds the local operator's token (owner-readable only).
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";

/// The digest of the current local operator token.
pub(crate) struct LocalOperatorKey {
    digest: [u8; 32],
}

impl LocalOperatorKey {
    /// Writes a fresh token to the data directory. Only the store's holder calls it: the store is
    /// locked to one process, so two nodes never race to write it.
    pub(crate) fn issue(data_dir: &Path) -> Result<Self> {
        let token = tokens::opaque();
        write_whole(&data_dir.join(OPERATOR_TOKEN_FILE), token.as_bytes(), "operator-token")?;
        Ok(Self {
            digest: tokens::digest(&token),
        })
    }

    /// Compares digests, so the time taken says nothing about how much of the token was right.
    pub(crate) fn matches(&self, token: &str) -> bool {
        tokens::digest(token.trim()) == self.digest
    }
}
