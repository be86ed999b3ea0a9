/**
 * The message header, byte for byte as `protocol/src/crypto/header.rs`:
 *
 * ```text
 * offset size
 *  0      1   version (1)
 *  1      1   flags: bit 0 = X3DH fields follow, bit 1 = a one-time prekey id follows them
 *  2     32   sender's current ratchet public key (X25519)
 * 34      4   previous sending chain length, big-endian
 * 38      4   message number in the current sending chain, big-endian
 * -- only with flag bit 0, in the initiator's messages until it hears back --
 * 42     32   initiator's identity key (Ed25519)
 * 74     32   initiator's X3DH base (ephemeral) key (X25519)
 * 106     4   responder's signed prekey id, big-endian
 * 110     4   responder's one-time prekey id, big-endian (only with flag bit 1)
 * ```
 *
 * Decoding is strict (exact length, no unknown flags), so every accepted header has exactly one
 * encoding: the encoded bytes are authenticated as AEAD associated data, and re-encoding must not
 * change them.
 */

import { concatBytes, expectLength, isU32, u32ToBytes } from "./bytes.js";
import { CryptoError } from "./error.js";

/** The wire version written and read. */
export const HEADER_VERSION = 1;
const FLAG_PREKEY = 0b01;
const FLAG_ONE_TIME = 0b10;

/**
 * The X3DH fields of an initial message: who starts the session and with which of the responder's
 * prekeys. The initiator repeats them in every message until it receives a reply, so whichever of
 * its messages arrives first can start the session.
 */
export interface PreKeyInfo {
  /** The initiator's Ed25519 identity key. */
  readonly identityKey: Uint8Array;
  /** The initiator's ephemeral X3DH key (`EK_A`), which also names the session. */
  readonly baseKey: Uint8Array;
  readonly signedPreKeyId: number;
  /** Absent when the responder's bundle had no one-time prekey left. */
  readonly oneTimePreKeyId?: number | undefined;
}

/** A Double Ratchet header, sent in clear beside its ciphertext. */
export interface MessageHeader {
  readonly ratchetKey: Uint8Array;
  /** How many messages the sender sent in its previous sending chain. */
  readonly previousChainLength: number;
  /** This message's number in the current sending chain, from 0. */
  readonly messageNumber: number;
  /** Present while the initiator has not yet heard back. */
  readonly prekey?: PreKeyInfo | undefined;
}

function u32(value: number, what: string): Uint8Array {
  if (!isU32(value)) throw new CryptoError({ kind: "InvalidEncoding", reason: `${what} must be a u32` });
  return u32ToBytes(value);
}

/** The header's wire bytes: 42, 110 or 114 of them. */
export function encodeHeader(header: MessageHeader): Uint8Array {
  const { prekey } = header;
  let flags = 0;
  if (prekey !== undefined) {
    flags |= FLAG_PREKEY;
    if (prekey.oneTimePreKeyId !== undefined) flags |= FLAG_ONE_TIME;
  }
  const parts = [
    Uint8Array.of(HEADER_VERSION, flags),
    expectLength(header.ratchetKey, 32, "a ratchet key"),
    u32(header.previousChainLength, "the previous chain length"),
    u32(header.messageNumber, "the message number"),
  ];
  if (prekey !== undefined) {
    parts.push(
      expectLength(prekey.identityKey, 32, "an identity key"),
      expectLength(prekey.baseKey, 32, "a base key"),
      u32(prekey.signedPreKeyId, "a signed prekey id"),
    );
    if (prekey.oneTimePreKeyId !== undefined) parts.push(u32(prekey.oneTimePreKeyId, "a one-time prekey id"));
  }
  return concatBytes(...parts);
}

/** Reads fixed-size fields front to back, refusing to run past the end. */
class Reader {
  #offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  take(length: number): Uint8Array {
    if (this.#offset + length > this.bytes.length) {
      throw new CryptoError({ kind: "InvalidHeader", reason: "truncated" });
    }
    const out = this.bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  byte(): number {
    return this.take(1)[0] ?? 0;
  }

  u32(): number {
    const bytes = this.take(4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
  }

  get done(): boolean {
    return this.#offset === this.bytes.length;
  }
}

/** Parses wire bytes, refusing anything but the exact layout above. */
export function decodeHeader(bytes: Uint8Array): MessageHeader {
  const reader = new Reader(bytes);
  const version = reader.byte();
  if (version !== HEADER_VERSION) throw new CryptoError({ kind: "UnsupportedVersion", version });
  const flags = reader.byte();
  if ((flags & ~(FLAG_PREKEY | FLAG_ONE_TIME)) !== 0) {
    throw new CryptoError({ kind: "InvalidHeader", reason: "unknown flags" });
  }
  if ((flags & FLAG_ONE_TIME) !== 0 && (flags & FLAG_PREKEY) === 0) {
    throw new CryptoError({ kind: "InvalidHeader", reason: "one-time prekey without X3DH fields" });
  }
  const ratchetKey = reader.take(32);
  const previousChainLength = reader.u32();
  const messageNumber = reader.u32();
  let prekey: PreKeyInfo | undefined;
  if ((flags & FLAG_PREKEY) !== 0) {
    const identityKey = reader.take(32);
    const baseKey = reader.take(32);
    const signedPreKeyId = reader.u32();
    const oneTimePreKeyId = (flags & FLAG_ONE_TIME) !== 0 ? reader.u32() : undefined;
    prekey = { identityKey, baseKey, signedPreKeyId, oneTimePreKeyId };
  }
  if (!reader.done) throw new CryptoError({ kind: "InvalidHeader", reason: "trailing bytes" });
  return { ratchetKey, previousChainLength, messageNumber, prekey };
}
