/**
 * The one error type of the end-to-end cryptography, mirroring `CryptoError` in
 * `protocol/src/crypto/error.rs` kind for kind, so a failure reads the same in the web client as in
 * the Rust SDK. The few kinds Rust has no counterpart for (bad base64, bad JSON shapes, an unknown
 * prekey) are marked below.
 */

/** Why an operation was refused, with the facts a caller may want to show or branch on. */
export type CryptoErrorDetail =
  | { readonly kind: "InvalidIdentityKey" }
  | { readonly kind: "BadSignedPreKeySignature" }
  | { readonly kind: "WeakKey" }
  | { readonly kind: "SignedPreKeyMismatch"; readonly expected: number; readonly supplied: number }
  | {
      readonly kind: "OneTimePreKeyMismatch";
      readonly expected: number | undefined;
      readonly supplied: number | undefined;
    }
  | { readonly kind: "NotAnInitialMessage" }
  | { readonly kind: "SessionMismatch" }
  | { readonly kind: "InvalidHeader"; readonly reason: string }
  | { readonly kind: "UnsupportedVersion"; readonly version: number }
  | { readonly kind: "DecryptionFailed" }
  | { readonly kind: "DuplicateMessage" }
  | { readonly kind: "TooManySkippedMessages"; readonly skipped: number; readonly max: number }
  | { readonly kind: "CounterOverflow" }
  | { readonly kind: "PreKeyIdOverflow" }
  | { readonly kind: "NoSendingChain" }
  | { readonly kind: "StateDecoding"; readonly reason: string }
  // Web only: Rust rejects these in serde before its crypto sees them.
  | { readonly kind: "InvalidEncoding"; readonly reason: string }
  // Web only: `Error::UnknownPreKey` of the Rust client SDK (`client/src/error.rs`).
  | { readonly kind: "UnknownPreKey"; readonly prekeyKind: "signed" | "one-time"; readonly id: number };

/** The kinds, for `switch` and comparisons. */
export type CryptoErrorKind = CryptoErrorDetail["kind"];

function optionalId(id: number | undefined): string {
  return id === undefined ? "None" : `Some(${id})`;
}

function describe(detail: CryptoErrorDetail): string {
  switch (detail.kind) {
    case "InvalidIdentityKey":
      return "identity key is not a valid Ed25519 public key";
    case "BadSignedPreKeySignature":
      return "the signed prekey's signature does not verify against the identity key";
    case "WeakKey":
      return "a peer's X25519 key is of low order and gives a predictable shared secret";
    case "SignedPreKeyMismatch":
      return `the message was built for signed prekey ${detail.expected}, not ${detail.supplied}`;
    case "OneTimePreKeyMismatch":
      return (
        `the message used one-time prekey ${optionalId(detail.expected)}, ` +
        `but ${optionalId(detail.supplied)} was supplied`
      );
    case "NotAnInitialMessage":
      return "the message does not start a session (its header has no X3DH fields)";
    case "SessionMismatch":
      return "the message starts a different session; answer it with Session.respond";
    case "InvalidHeader":
      return `malformed message header: ${detail.reason}`;
    case "UnsupportedVersion":
      return `unsupported message header version ${detail.version}`;
    case "DecryptionFailed":
      return "message failed authentication (tampered with, or not for this session)";
    case "DuplicateMessage":
      return "message key already used or discarded (a replayed or expired message)";
    case "TooManySkippedMessages":
      return `message is ${detail.skipped} messages ahead of its chain; at most ${detail.max} may be skipped`;
    case "CounterOverflow":
      return "message counter exhausted; start a new session";
    case "PreKeyIdOverflow":
      return "one-time prekey ids would overflow";
    case "NoSendingChain":
      return "the session cannot send before it has received a message";
    case "StateDecoding":
      return `could not decode state: ${detail.reason}`;
    case "InvalidEncoding":
      return `invalid encoding: ${detail.reason}`;
    case "UnknownPreKey":
      return `the message names ${detail.prekeyKind} prekey ${detail.id}, which this device does not hold`;
  }
}

/** A refused cryptographic operation. A failed decryption never changes the session it was tried on. */
export class CryptoError extends Error {
  override readonly name = "CryptoError";
  readonly detail: CryptoErrorDetail;

  constructor(detail: CryptoErrorDetail) {
    super(describe(detail));
    this.detail = detail;
  }

  get kind(): CryptoErrorKind {
    return this.detail.kind;
  }
}
