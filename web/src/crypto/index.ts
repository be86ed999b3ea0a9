/**
 * End-to-end encryption for the web client, byte-for-byte compatible with `protocol::crypto` (the Rust
 * node, CLI and SDK): Ed25519 identity keys (X25519 in their Montgomery form for agreement), X25519
 * prekeys and ratchet keys, HKDF-SHA256 and HMAC-SHA256 for derivation, ChaCha20-Poly1305 for
 * messages, and safety numbers to check identities. Pure computation, no I/O and no Node-only APIs.
 */

export { type KeyBundle, type KeyBundleJson, keyBundleToJson, parseKeyBundle } from "./bundle.js";
export { type DhKeyPair, dhKeyPairFromSecret, generateDhKeyPair } from "./dh.js";
export { fromBase64, fromHex, toBase64, toHex } from "./encoding.js";
export {
  type DeviceCiphertextJson,
  type IncomingContent,
  fromDeviceCiphertext,
  plaintextToText,
  readMessage,
  readMessageEvent,
  textToPlaintext,
  toDeviceCiphertext,
} from "./envelope.js";
export { CryptoError, type CryptoErrorDetail, type CryptoErrorKind } from "./error.js";
export { SafetyNumber, userStableId } from "./fingerprint.js";
export { HEADER_VERSION, type MessageHeader, type PreKeyInfo, decodeHeader, encodeHeader } from "./header.js";
export { IdentityKeyPair } from "./identity.js";
export { verifySignedPreKey } from "./keys.js";
export {
  type OneTimePreKeyJson,
  OneTimePreKeyPair,
  type OneTimePreKeyUpload,
  type SignedPreKeyJson,
  SignedPreKeyPair,
  type SignedPreKeyUpload,
} from "./prekey.js";
export { type RandomSource, systemRandom } from "./random.js";
export { DEFAULT_SESSION_CONFIG, type EncryptedMessage, type SessionConfig } from "./ratchet.js";
export { Session, type SessionJson, type SessionOptions } from "./session.js";
export {
  type Decrypted,
  KEPT_SESSIONS,
  type PreKeyStore,
  SessionRecord,
  type SessionRecordJson,
} from "./session-record.js";
