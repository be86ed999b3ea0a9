/**
 * The Double Ratchet (Signal's specification, without header encryption), step for step as
 * `protocol/src/crypto/ratchet.rs`: a root chain, sending and receiving chains, a DH ratchet step each
 * time the conversation turns, and a bounded store of skipped message keys.
 */

import { U32_MAX, bytesEqual } from "./bytes.js";
import { type DhKeyPair, agree, dhKeyPairFromSecret, generateDhKeyPair } from "./dh.js";
import { toBase64 } from "./encoding.js";
import { CryptoError } from "./error.js";
import { type MessageHeader, type PreKeyInfo, encodeHeader } from "./header.js";
import { type JsonObject, arrayField, base64Field, base64Value, isAbsent, object, u32Field } from "./json.js";
import type { RandomSource } from "./random.js";
import { open, ratchetRoot, seal, stepChain } from "./ratchet/keys.js";
import { SkippedKeys } from "./ratchet/skipped.js";

/**
 * How many of the peer's past ratchet keys are remembered, so a replayed message from an old chain is
 * reported as a replay instead of being taken for a new ratchet step.
 */
const REMEMBERED_RATCHET_KEYS = 64;

/** An encrypted message: the header and ciphertext bytes that travel side by side. */
export interface EncryptedMessage {
  /** The encoded header (authenticated, not encrypted). */
  readonly header: Uint8Array;
  /** The ChaCha20-Poly1305 ciphertext with its 16-byte tag. */
  readonly ciphertext: Uint8Array;
}

/** Bounds on what a session keeps for messages that are late or lost (`SessionConfig`). */
export interface SessionConfig {
  /** `MAX_SKIP`: the most message keys one incoming message may make the session skip in a chain. */
  readonly maxSkip: number;
  /** The most skipped keys kept in total; past it the oldest are dropped. */
  readonly maxSkippedKeys: number;
}

/** Rust's `SessionConfig::DEFAULT`. */
export const DEFAULT_SESSION_CONFIG: SessionConfig = Object.freeze({ maxSkip: 1000, maxSkippedKeys: 1000 });

/** The ratchet state as stored: binary values in base64, absent keys as `null`. */
export interface RatchetJson {
  readonly sendingKey: string;
  readonly remoteKey: string | null;
  readonly root: string;
  readonly sendingChain: string | null;
  readonly receivingChain: string | null;
  readonly sent: number;
  readonly received: number;
  readonly previousSent: number;
  readonly skipped: readonly { readonly ratchetKey: string; readonly messageNumber: number; readonly key: string }[];
  readonly previousRemoteKeys: readonly string[];
}

/** The specification's state variables, under its names in the comments. */
interface State {
  /** `DHs`. */
  sendingKey: DhKeyPair;
  /** `DHr`. */
  remoteKey: Uint8Array | undefined;
  /** `RK`. */
  root: Uint8Array;
  /** `CKs`. */
  sendingChain: Uint8Array | undefined;
  /** `CKr`. */
  receivingChain: Uint8Array | undefined;
  /** `Ns`. */
  sent: number;
  /** `Nr`. */
  received: number;
  /** `PN`. */
  previousSent: number;
  /** `MKSKIPPED`. */
  skipped: SkippedKeys;
  /** The peer's ratchet keys before `remoteKey`, newest last. */
  previousRemoteKeys: Uint8Array[];
}

/** A copy safe to change: byte arrays are never changed in place, so only the containers are copied. */
function copy(state: State): State {
  return {
    ...state,
    skipped: new SkippedKeys(state.skipped.entries()),
    previousRemoteKeys: [...state.previousRemoteKeys],
  };
}

/** One side's ratchet state. A decryption works on a copy and keeps it only on success. */
export class RatchetState {
  #state: State;

  private constructor(state: State) {
    this.#state = state;
  }

  /** `RatchetInitAlice`: the responder's signed prekey is its first ratchet key, so the initiator can send at once. */
  static initiator(sharedSecret: Uint8Array, responderKey: Uint8Array, random: RandomSource): RatchetState {
    const sendingKey = generateDhKeyPair(random);
    const { root, chain } = ratchetRoot(sharedSecret, agree(sendingKey.secret, responderKey));
    return new RatchetState({
      sendingKey,
      remoteKey: responderKey,
      root,
      sendingChain: chain,
      receivingChain: undefined,
      sent: 0,
      received: 0,
      previousSent: 0,
      skipped: new SkippedKeys(),
      previousRemoteKeys: [],
    });
  }

  /** `RatchetInitBob`: the responder starts from its signed prekey pair and must receive first. */
  static responder(sharedSecret: Uint8Array, signedPreKey: DhKeyPair): RatchetState {
    return new RatchetState({
      sendingKey: signedPreKey,
      remoteKey: undefined,
      root: sharedSecret,
      sendingChain: undefined,
      receivingChain: undefined,
      sent: 0,
      received: 0,
      previousSent: 0,
      skipped: new SkippedKeys(),
      previousRemoteKeys: [],
    });
  }

  /** `RatchetEncrypt`. */
  encrypt(ad: Uint8Array, prekey: PreKeyInfo | undefined, plaintext: Uint8Array): EncryptedMessage {
    const state = this.#state;
    if (state.sendingChain === undefined) throw new CryptoError({ kind: "NoSendingChain" });
    if (state.sent === U32_MAX) throw new CryptoError({ kind: "CounterOverflow" });
    const { chain, messageKey } = stepChain(state.sendingChain);
    const header = encodeHeader({
      ratchetKey: state.sendingKey.publicKey,
      previousChainLength: state.previousSent,
      messageNumber: state.sent,
      prekey,
    });
    const ciphertext = seal(messageKey, ad, header, plaintext);
    state.sendingChain = chain;
    state.sent += 1;
    return { header, ciphertext };
  }

  /** `RatchetDecrypt`, all or nothing: on any error the state is exactly as before. */
  decrypt(
    ad: Uint8Array,
    header: MessageHeader,
    headerBytes: Uint8Array,
    ciphertext: Uint8Array,
    config: SessionConfig,
    random: RandomSource,
  ): Uint8Array {
    // A skipped key is removed only once its message authenticates, so a forgery naming a skipped
    // slot cannot burn the key of the genuine message.
    const skippedKey = this.#state.skipped.find(header.ratchetKey, header.messageNumber);
    if (skippedKey !== undefined) {
      const plaintext = open(skippedKey, ad, headerBytes, ciphertext);
      this.#state.skipped.remove(header.ratchetKey, header.messageNumber);
      return plaintext;
    }

    const next = copy(this.#state);
    if (next.remoteKey === undefined || !bytesEqual(next.remoteKey, header.ratchetKey)) {
      if (next.previousRemoteKeys.some((key) => bytesEqual(key, header.ratchetKey))) {
        throw new CryptoError({ kind: "DuplicateMessage" });
      }
      skipUntil(next, header.previousChainLength, config);
      dhRatchet(next, header.ratchetKey, random);
    } else if (header.messageNumber < next.received) {
      throw new CryptoError({ kind: "DuplicateMessage" });
    }
    skipUntil(next, header.messageNumber, config);
    if (next.receivingChain === undefined) throw new CryptoError({ kind: "DecryptionFailed" });
    const { chain, messageKey } = stepChain(next.receivingChain);
    const plaintext = open(messageKey, ad, headerBytes, ciphertext);
    next.receivingChain = chain;
    if (next.received === U32_MAX) throw new CryptoError({ kind: "CounterOverflow" });
    next.received += 1;
    this.#state = next;
    return plaintext;
  }

  /** How many skipped message keys are held. */
  get skippedCount(): number {
    return this.#state.skipped.length;
  }

  /** `(Ns, Nr, PN)`, for diagnostics and tests. */
  counters(): { sent: number; received: number; previousSent: number } {
    const { sent, received, previousSent } = this.#state;
    return { sent, received, previousSent };
  }

  toJSON(): RatchetJson {
    const state = this.#state;
    const optional = (bytes: Uint8Array | undefined) => (bytes === undefined ? null : toBase64(bytes));
    return {
      sendingKey: toBase64(state.sendingKey.secret),
      remoteKey: optional(state.remoteKey),
      root: toBase64(state.root),
      sendingChain: optional(state.sendingChain),
      receivingChain: optional(state.receivingChain),
      sent: state.sent,
      received: state.received,
      previousSent: state.previousSent,
      skipped: state.skipped.entries().map((entry) => ({
        ratchetKey: toBase64(entry.ratchetKey),
        messageNumber: entry.messageNumber,
        key: toBase64(entry.key),
      })),
      previousRemoteKeys: state.previousRemoteKeys.map(toBase64),
    };
  }

  /** Reads what `toJSON` wrote; throws `InvalidEncoding` on any other shape. */
  static fromJSON(json: unknown): RatchetState {
    const value = object(json, "a ratchet state");
    const optional = (field: string) => (isAbsent(value, field) ? undefined : base64Field(value, field, 32));
    const skipped = arrayField(value, "skipped").map((item) => {
      const entry: JsonObject = object(item, "a skipped key");
      return {
        ratchetKey: base64Field(entry, "ratchetKey", 32),
        messageNumber: u32Field(entry, "messageNumber"),
        key: base64Field(entry, "key", 32),
      };
    });
    const previousRemoteKeys = arrayField(value, "previousRemoteKeys").map((item) =>
      base64Value(item, "a previous remote key", 32),
    );
    return new RatchetState({
      sendingKey: dhKeyPairFromSecret(base64Field(value, "sendingKey", 32)),
      remoteKey: optional("remoteKey"),
      root: base64Field(value, "root", 32),
      sendingChain: optional("sendingChain"),
      receivingChain: optional("receivingChain"),
      sent: u32Field(value, "sent"),
      received: u32Field(value, "received"),
      previousSent: u32Field(value, "previousSent"),
      skipped: new SkippedKeys(skipped),
      previousRemoteKeys,
    });
  }
}

/** `SkipMessageKeys`: derives and stores the receiving chain's keys up to message `until`. */
function skipUntil(state: State, until: number, config: SessionConfig): void {
  if (state.receivingChain === undefined) return;
  const skipped = Math.max(0, until - state.received);
  if (skipped > config.maxSkip) throw new CryptoError({ kind: "TooManySkippedMessages", skipped, max: config.maxSkip });
  const remoteKey = state.remoteKey;
  if (remoteKey === undefined) return;
  let chain = state.receivingChain;
  while (state.received < until) {
    const step = stepChain(chain);
    state.skipped.insert(
      { ratchetKey: remoteKey, messageNumber: state.received, key: step.messageKey },
      config.maxSkippedKeys,
    );
    chain = step.chain;
    state.received += 1;
  }
  state.receivingChain = chain;
}

/**
 * `DHRatchet`: a new receiving chain from the peer's new key, then a new key pair of ours and a new
 * sending chain. The new key is drawn between the two agreements, as in Rust, so a scripted random
 * source is consumed in the same order.
 */
function dhRatchet(state: State, remoteKey: Uint8Array, random: RandomSource): void {
  const receiving = ratchetRoot(state.root, agree(state.sendingKey.secret, remoteKey));
  const sendingKey = generateDhKeyPair(random);
  const sending = ratchetRoot(receiving.root, agree(sendingKey.secret, remoteKey));
  if (state.remoteKey !== undefined) {
    state.previousRemoteKeys.push(state.remoteKey);
    if (state.previousRemoteKeys.length > REMEMBERED_RATCHET_KEYS) state.previousRemoteKeys.shift();
  }
  state.remoteKey = remoteKey;
  state.previousSent = state.sent;
  state.sent = 0;
  state.received = 0;
  state.sendingKey = sendingKey;
  state.root = sending.root;
  state.receivingChain = receiving.chain;
  state.sendingChain = sending.chain;
}
