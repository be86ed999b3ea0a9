//! The node's one error type. The gateway maps each variant to a status code and envelope code once.

use sled::transaction::{ConflictableTransactionError, TransactionError};

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of the request is unacceptable; the message names the field.
    #[error("{field}: {reason}")]
    Invalid {
        /// The offending field, as the client named it.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No valid credentials, or a revoked session.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but not allowed to do this. Owned when another node gave the reason.
    #[error("{0}")]
    Forbidden(std::borrow::Cow<'static, str>),
    /// The named thing does not exist (or is hidden from the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request collides with existing state.
    #[error("{0}")]
    Conflict(String),
    /// A per-user limit on live resources was reached.
    #[error("{0}")]
    LimitReached(&'static str),
    /// Too many failed attempts at something guessable (an account's password); wait and retry.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// How long until the attempts are allowed again.
        retry_after_secs: u64,
    },
    /// A body or file is larger than allowed; the message names the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Another node (or the federation layer) could not be reached or refused to answer.
    #[error("{0}")]
    Unavailable(String),
    /// Another process (a running node) holds the data directory's store.
    #[error("{0} is in use by another process (a running node?)")]
    InUse(String),
    /// The embedded store failed.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    /// A stored record could not be decoded: the data dir is damaged or from an incompatible version.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Anything else that is the node's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of node operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn forbidden(why: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::Forbidden(why.into())
    }

    /// Whether this node failed (storage, a damaged record, a bug, a node it relies on), rather than
    /// refusing the request: a peer that sent the request should retry it later.
    pub(crate) fn is_local_failure(&self) -> bool {
        matches!(
            self,
            Self::Storage(_) | Self::Corrupt(_) | Self::Internal(_) | Self::Unavailable(_)
        )
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<TransactionError<Error>> for Error {
    fn from(err: TransactionError<Error>) -> Self {
        match err {
            TransactionError::Abort(err) => err,
            TransactionError::Storage(err) => Self::Storage(err),
        }
    }
}

impl From<Error> for ConflictableTransactionError<Error> {
    fn from(err: Error) -> Self {
        ConflictableTransactionError::Abort(err)
    }
}
