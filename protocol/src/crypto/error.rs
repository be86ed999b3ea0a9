//! The one error type of the end-to-end cryptography.

/// Shorthand for results of the cryptography.
pub type CryptoResult<T, E = CryptoError> = std::result::Result<T, E>;

/// Why a cryptographic operation was refused. Each variant's message is what it means.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The bytes are not a valid (or are a weak) Ed25519 identity public key.
    #[error("identity key is not a valid Ed25519 public key")]
    InvalidIdentityKey,
    /// The signed prekey in a bundle was not signed by the bundle's identity key.
    #[error("the signed prekey's signature does not verify against the identity key")]
    BadSignedPreKeySignature,
    /// A Diffie-Hellman agreement with the peer's key gave the all-zero output: the peer's key has
    /// low order and contributes nothing, so the result would be predictable.
    #[error("a peer's X25519 key is of low order and gives a predictable shared secret")]
    WeakKey,
    /// The initial message names a signed prekey other than the one supplied to answer it.
    #[error("the message was built for signed prekey {expected}, not {supplied}")]
    SignedPreKeyMismatch {
        /// The id named by the message.
        expected: u32,
        /// The id of the key supplied.
        supplied: u32,
    },
    /// The initial message used a one-time prekey that was not supplied (or another one was).
    #[error("the message used one-time prekey {expected:?}, but {supplied:?} was supplied")]
    OneTimePreKeyMismatch {
        /// The id named by the message, if any.
        expected: Option<u32>,
        /// The id of the key supplied, if any.
        supplied: Option<u32>,
    },
    /// A session can only be answered from a message whose header carries the X3DH fields.
    #[error("the message does not start a session (its header has no X3DH fields)")]
    NotAnInitialMessage,
    /// The header's X3DH fields belong to another session than the one asked to decrypt it.
    #[error("the message starts a different session; answer it with Session::respond")]
    SessionMismatch,
    /// The header bytes are not a header this version understands.
    #[error("malformed message header: {0}")]
    InvalidHeader(&'static str),
    /// The header was written by a newer (or unknown) protocol version.
    #[error("unsupported message header version {0}")]
    UnsupportedVersion(u8),
    /// The ciphertext or its header failed authentication: it was tampered with, or it was not
    /// encrypted for this session. The session state is unchanged.
    #[error("message failed authentication (tampered with, or not for this session)")]
    DecryptionFailed,
    /// The message's key was already used or has been discarded: a replay, or a message older than
    /// the skipped keys kept. Each message key decrypts once.
    #[error("message key already used or discarded (a replayed or expired message)")]
    DuplicateMessage,
    /// Accepting the message would mean deriving and keeping more skipped message keys than the
    /// session's configured bound allows in one step.
    #[error("message is {skipped} messages ahead of its chain; at most {max} may be skipped")]
    TooManySkippedMessages {
        /// How many keys would have to be skipped.
        skipped: u64,
        /// The configured bound.
        max: u32,
    },
    /// A chain reached the largest message number the header can carry.
    #[error("message counter exhausted; start a new session")]
    CounterOverflow,
    /// A batch of one-time prekey ids would run past `u32::MAX`.
    #[error("one-time prekey ids would overflow")]
    PreKeyIdOverflow,
    /// The session has no sending chain yet (a responder must receive before it sends).
    #[error("the session cannot send before it has received a message")]
    NoSendingChain,
    /// A key derivation was asked for an impossible length (a bug, never caused by input).
    #[error("key derivation failed")]
    KeyDerivation,
    /// The AEAD refused to encrypt (a plaintext beyond its length limit).
    #[error("encryption failed (plaintext too long)")]
    EncryptionFailed,
    /// Persisted state could not be encoded.
    #[error("could not encode state: {0}")]
    StateEncoding(String),
    /// Persisted state could not be decoded.
    #[error("could not decode state: {0}")]
    StateDecoding(String),
}
