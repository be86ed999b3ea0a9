/**
 * A pairwise end-to-end session between two devices, as `protocol/src/crypto/session.rs`: X3DH to
 * start, the Double Ratchet after.
 *
 * The initiator fetches the responder's bundle and calls `Session.initiate`; its messages carry the
 * X3DH fields in their header until it receives a reply. The responder decodes the first header it
 * gets, looks up the prekeys its X3DH fields name, and calls `Session.respond`; it must then delete
 * the one-time prekey, so a replayed initial message cannot start a second session.
 */

import type { KeyBundle } from "./bundle.js";
import { bytesEqual } from "./bytes.js";
import { generateDhKeyPair } from "./dh.js";
import { toBase64 } from "./encoding.js";
import { CryptoError } from "./error.js";
import { type MessageHeader, type PreKeyInfo, decodeHeader } from "./header.js";
import type { IdentityKeyPair } from "./identity.js";
import {
  base64Field,
  booleanField,
  countField,
  isAbsent,
  object,
  objectField,
  storedState,
  u32Field,
} from "./json.js";
import type { OneTimePreKeyPair, SignedPreKeyPair } from "./prekey.js";
import { type RandomSource, systemRandom } from "./random.js";
import {
  DEFAULT_SESSION_CONFIG,
  type EncryptedMessage,
  type RatchetJson,
  RatchetState,
  type SessionConfig,
} from "./ratchet.js";
import { associatedData, initiate, respond } from "./x3dh.js";

/** The version of `SessionJson`, so stored sessions can be migrated if the format ever changes. */
const SESSION_FORMAT = 1;

/** Bounds and randomness for starting a session; both default to Rust's defaults and the platform CSPRNG. */
export interface SessionOptions {
  readonly config?: SessionConfig;
  readonly random?: RandomSource;
}

/** A session as stored (in IndexedDB, say): plain JSON, binary values in base64. */
export interface SessionJson {
  readonly format: typeof SESSION_FORMAT;
  readonly localIdentity: string;
  readonly remoteIdentity: string;
  readonly initiator: boolean;
  readonly baseKey: string;
  readonly pendingPreKey: {
    readonly identityKey: string;
    readonly baseKey: string;
    readonly signedPreKeyId: number;
    readonly oneTimePreKeyId: number | null;
  } | null;
  readonly ratchet: RatchetJson;
  readonly config: SessionConfig;
}

/** One device's end of an end-to-end session with one other device. */
export class Session {
  readonly #localIdentity: Uint8Array;
  readonly #remoteIdentity: Uint8Array;
  /** Whether this side ran the X3DH initiator (fixes the order of the identities in `AD`). */
  readonly #initiator: boolean;
  /** The initiator's X3DH ephemeral key, which names this session in initial messages. */
  readonly #baseKey: Uint8Array;
  /** The X3DH fields the initiator repeats until it first decrypts a reply. */
  #pendingPreKey: PreKeyInfo | undefined;
  readonly #ratchet: RatchetState;
  #config: SessionConfig;

  private constructor(fields: {
    localIdentity: Uint8Array;
    remoteIdentity: Uint8Array;
    initiator: boolean;
    baseKey: Uint8Array;
    pendingPreKey: PreKeyInfo | undefined;
    ratchet: RatchetState;
    config: SessionConfig;
  }) {
    this.#localIdentity = fields.localIdentity;
    this.#remoteIdentity = fields.remoteIdentity;
    this.#initiator = fields.initiator;
    this.#baseKey = fields.baseKey;
    this.#pendingPreKey = fields.pendingPreKey;
    this.#ratchet = fields.ratchet;
    this.#config = fields.config;
  }

  /**
   * Starts a session with the device whose bundle the node served. Draws, in order, the X3DH
   * ephemeral key and the first ratchet key. Throws if the bundle's signed prekey is not signed by its
   * identity key.
   */
  static initiate(identity: IdentityKeyPair, bundle: KeyBundle, options: SessionOptions = {}): Session {
    const random = options.random ?? systemRandom;
    const started = initiate(identity, bundle, generateDhKeyPair(random));
    return new Session({
      localIdentity: identity.publicKey,
      remoteIdentity: bundle.identityKey,
      initiator: true,
      baseKey: started.prekey.baseKey,
      pendingPreKey: started.prekey,
      ratchet: RatchetState.initiator(started.sharedSecret, started.responderRatchetKey, random),
      config: options.config ?? DEFAULT_SESSION_CONFIG,
    });
  }

  /**
   * Answers an initial message: the responder's X3DH with the prekeys its header names, then its
   * decryption (which draws the reply chain's first ratchet key). Nothing is created if the message
   * does not authenticate. Check `remoteIdentity` against the key published for the sender.
   */
  static respond(
    identity: IdentityKeyPair,
    signedPreKey: SignedPreKeyPair,
    oneTimePreKey: OneTimePreKeyPair | undefined,
    header: Uint8Array,
    ciphertext: Uint8Array,
    options: SessionOptions = {},
  ): { session: Session; plaintext: Uint8Array } {
    const decoded = decodeHeader(header);
    const prekey = decoded.prekey;
    if (prekey === undefined) throw new CryptoError({ kind: "NotAnInitialMessage" });
    const sharedSecret = respond(identity, signedPreKey, oneTimePreKey, prekey);
    const session = new Session({
      localIdentity: identity.publicKey,
      remoteIdentity: prekey.identityKey,
      initiator: false,
      baseKey: prekey.baseKey,
      pendingPreKey: undefined,
      ratchet: RatchetState.responder(sharedSecret, signedPreKey.keyPair),
      config: options.config ?? DEFAULT_SESSION_CONFIG,
    });
    const plaintext = session.#decryptDecoded(decoded, header, ciphertext, options.random ?? systemRandom);
    return { session, plaintext };
  }

  /** Encrypts `plaintext` as the next message of this session. */
  encrypt(plaintext: Uint8Array): EncryptedMessage {
    return this.#ratchet.encrypt(this.#associatedData(), this.#pendingPreKey, plaintext);
  }

  /**
   * Decrypts a message of this session; `random` supplies a new ratchet key when the message turns
   * the conversation. On any error the session is unchanged.
   */
  decrypt(header: Uint8Array, ciphertext: Uint8Array, random: RandomSource = systemRandom): Uint8Array {
    const decoded = decodeHeader(header);
    if (decoded.prekey !== undefined && !this.startedBy(decoded.prekey)) {
      throw new CryptoError({ kind: "SessionMismatch" });
    }
    return this.#decryptDecoded(decoded, header, ciphertext, random);
  }

  #decryptDecoded(
    decoded: MessageHeader,
    header: Uint8Array,
    ciphertext: Uint8Array,
    random: RandomSource,
  ): Uint8Array {
    const plaintext = this.#ratchet.decrypt(this.#associatedData(), decoded, header, ciphertext, this.#config, random);
    // The peer has the session now; stop repeating the X3DH fields.
    this.#pendingPreKey = undefined;
    return plaintext;
  }

  /**
   * Whether an initial message with these X3DH fields belongs to this session: the responder routes a
   * repeated initial message to the session it already made with it.
   */
  startedBy(prekey: PreKeyInfo): boolean {
    return (
      !this.#initiator &&
      bytesEqual(prekey.baseKey, this.#baseKey) &&
      bytesEqual(prekey.identityKey, this.#remoteIdentity)
    );
  }

  /** This device's identity key. */
  get localIdentity(): Uint8Array {
    return this.#localIdentity.slice();
  }

  /** The peer device's identity key, to check against the key expected for the sender. */
  get remoteIdentity(): Uint8Array {
    return this.#remoteIdentity.slice();
  }

  get isInitiator(): boolean {
    return this.#initiator;
  }

  /** Whether the initiator is still waiting for a first reply (its messages carry X3DH fields). */
  get awaitingReply(): boolean {
    return this.#pendingPreKey !== undefined;
  }

  get config(): SessionConfig {
    return this.#config;
  }

  /** Changes the bounds on skipped messages (a smaller store is trimmed on the next insertion). */
  set config(config: SessionConfig) {
    this.#config = config;
  }

  /** How many skipped message keys are held for late messages. */
  get skippedMessageKeys(): number {
    return this.#ratchet.skippedCount;
  }

  /** `(Ns, Nr, PN)` of the ratchet, for diagnostics. */
  counters(): { sent: number; received: number; previousSent: number } {
    return this.#ratchet.counters();
  }

  #associatedData(): Uint8Array {
    return this.#initiator
      ? associatedData(this.#localIdentity, this.#remoteIdentity)
      : associatedData(this.#remoteIdentity, this.#localIdentity);
  }

  /** The whole state as plain JSON. It holds every secret of the session: store it encrypted. */
  toJSON(): SessionJson {
    const pending = this.#pendingPreKey;
    return {
      format: SESSION_FORMAT,
      localIdentity: toBase64(this.#localIdentity),
      remoteIdentity: toBase64(this.#remoteIdentity),
      initiator: this.#initiator,
      baseKey: toBase64(this.#baseKey),
      pendingPreKey:
        pending === undefined
          ? null
          : {
              identityKey: toBase64(pending.identityKey),
              baseKey: toBase64(pending.baseKey),
              signedPreKeyId: pending.signedPreKeyId,
              oneTimePreKeyId: pending.oneTimePreKeyId ?? null,
            },
      ratchet: this.#ratchet.toJSON(),
      config: { maxSkip: this.#config.maxSkip, maxSkippedKeys: this.#config.maxSkippedKeys },
    };
  }

  /** A session stored by `toJSON`; throws `StateDecoding` for anything else. */
  static fromJSON(json: unknown): Session {
    return storedState(() => {
      const value = object(json, "a session");
      if (value["format"] !== SESSION_FORMAT) {
        throw new CryptoError({ kind: "InvalidEncoding", reason: `unknown session format ${String(value["format"])}` });
      }
      let pendingPreKey: PreKeyInfo | undefined;
      if (!isAbsent(value, "pendingPreKey")) {
        const pending = objectField(value, "pendingPreKey");
        pendingPreKey = {
          identityKey: base64Field(pending, "identityKey", 32),
          baseKey: base64Field(pending, "baseKey", 32),
          signedPreKeyId: u32Field(pending, "signedPreKeyId"),
          oneTimePreKeyId: isAbsent(pending, "oneTimePreKeyId") ? undefined : u32Field(pending, "oneTimePreKeyId"),
        };
      }
      const config = objectField(value, "config");
      return new Session({
        localIdentity: base64Field(value, "localIdentity", 32),
        remoteIdentity: base64Field(value, "remoteIdentity", 32),
        initiator: booleanField(value, "initiator"),
        baseKey: base64Field(value, "baseKey", 32),
        pendingPreKey,
        ratchet: RatchetState.fromJSON(value["ratchet"]),
        config: { maxSkip: u32Field(config, "maxSkip"), maxSkippedKeys: countField(config, "maxSkippedKeys") },
      });
    });
  }
}
