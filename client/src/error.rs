//! The one error type of the SDK.

use std::io;
use std::path::PathBuf;

use protocol::crypto::CryptoError;
use protocol::{DeviceId, MessageId};

/// Shorthand for results of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an SDK call failed. Each variant's message says what happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The node answered with an error envelope (or a non-success status).
    #[error("the node refused the request ({status} {code}): {message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The envelope's machine-readable code, e.g. `VALIDATION_ERROR`.
        code: String,
        /// The envelope's human-readable reason.
        message: String,
    },
    /// The node could not be reached, or the connection broke mid-request.
    #[error("could not talk to the node: {0}")]
    Transport(#[source] reqwest::Error),
    /// The WebSocket could not be opened or broke.
    #[error("websocket: {0}")]
    WebSocket(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// An end-to-end cryptography operation was refused.
    #[error("end-to-end encryption: {0}")]
    Crypto(#[from] CryptoError),
    /// A file of the profile could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The node answered something this SDK does not understand.
    #[error("unexpected answer from the node: {0}")]
    Protocol(String),
    /// The profile directory is missing an account, belongs to another one, or holds a corrupt file.
    #[error("profile: {0}")]
    Profile(String),
    /// No user has this username on the node.
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// A device presented an identity key other than the one pinned for it (and published by the
    /// node): someone may be impersonating it, so nothing is encrypted for or accepted from it.
    #[error("the identity key of device {device} changed; refusing to talk to it")]
    IdentityChanged {
        /// The device.
        device: DeviceId,
    },
    /// An initial message carries an identity key other than the one the node publishes for its
    /// sending device.
    #[error("device {device} presented an identity key the node does not publish for it")]
    IdentityMismatch {
        /// The sending device.
        device: DeviceId,
    },
    /// An initial message names a prekey this device does not hold (already used, or never ours).
    #[error("the message names a {kind} prekey {id} this device does not hold")]
    UnknownPreKey {
        /// `signed` or `one-time`.
        kind: &'static str,
        /// The prekey id.
        id: u32,
    },
    /// No session with the sending device could decrypt the message.
    #[error("no session with device {device} decrypts message {message}")]
    NoSession {
        /// The sending device.
        device: DeviceId,
        /// The message.
        message: MessageId,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn profile(reason: impl Into<String>) -> Self {
        Self::Profile(reason.into())
    }

    /// Whether the node answered with this HTTP status.
    pub fn is_status(&self, status: u16) -> bool {
        matches!(self, Self::Http { status: s, .. } if *s == status)
    }

    /// Whether retrying later might succeed: the node was unreachable, or it answered 5xx or 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) | Self::WebSocket(_) => true,
            Self::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(err: reqwest::Error) -> Self {
        Self::Transport(err)
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(err: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::WebSocket(Box::new(err))
    }
}
