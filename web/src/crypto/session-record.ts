/**
 * The sessions with one peer device and how an incoming message picks one, as `SessionRecord` in the
 * Rust client SDK (`client/src/sessions.rs`). The web client must route messages the same way, or two
 * devices that start sessions with each other at the same moment would not settle on one.
 *
 * A record keeps a few sessions, most recently used first: the first one encrypts, and an incoming
 * message is tried against each (a failed attempt leaves a session unchanged). The session that
 * decrypts moves to the front, so both sides converge on the same one.
 */

import { CryptoError } from "./error.js";
import { decodeHeader } from "./header.js";
import type { IdentityKeyPair } from "./identity.js";
import { arrayField, object, stringField, storedState } from "./json.js";
import type { OneTimePreKeyPair, SignedPreKeyPair } from "./prekey.js";
import { Session, type SessionJson, type SessionOptions } from "./session.js";

/** Sessions kept per peer device: the current one and a few older ones for late messages. */
export const KEPT_SESSIONS = 8;

/** This device's prekey secrets, looked up by the ids an initial message names. */
export interface PreKeyStore {
  signedPreKey(id: number): SignedPreKeyPair | undefined;
  oneTimePreKey(id: number): OneTimePreKeyPair | undefined;
}

/** What decrypting one message did. */
export interface Decrypted {
  readonly plaintext: Uint8Array;
  /** The one-time prekey a new session was made from: delete its secret now. */
  readonly usedOneTimePreKeyId: number | undefined;
}

/** A record as stored. */
export interface SessionRecordJson {
  readonly userId: string;
  readonly deviceId: string;
  readonly sessions: readonly SessionJson[];
}

/** This device's sessions with one peer device. */
export class SessionRecord {
  readonly #sessions: Session[];

  constructor(
    /** The peer's user id. */
    readonly userId: string,
    /** The peer device's id. */
    readonly deviceId: string,
    sessions: readonly Session[] = [],
  ) {
    this.#sessions = sessions.slice(0, KEPT_SESSIONS);
  }

  get isEmpty(): boolean {
    return this.#sessions.length === 0;
  }

  /** The session that encrypts, if any. */
  get current(): Session | undefined {
    return this.#sessions[0];
  }

  /** Makes `session` the current one, keeping a bounded number of older ones. */
  add(session: Session): void {
    this.#sessions.unshift(session);
    this.#sessions.length = Math.min(this.#sessions.length, KEPT_SESSIONS);
  }

  #promote(index: number): void {
    const [session] = this.#sessions.splice(index, 1);
    if (session !== undefined) this.#sessions.unshift(session);
  }

  /**
   * Decrypts a message from this peer device; `undefined` when no session could even try it. An
   * initial message (its header carries X3DH fields) goes to the session it started, or starts a new
   * one from this device's prekeys; any other message is tried against each session in turn. The
   * caller must first check an initial message's identity key against the one published for the
   * sender (as `Client::receive` does in `client/src/client/receive.rs`).
   */
  decrypt(
    identity: IdentityKeyPair,
    preKeys: PreKeyStore,
    header: Uint8Array,
    ciphertext: Uint8Array,
    options: SessionOptions = {},
  ): Decrypted | undefined {
    const prekey = decodeHeader(header).prekey;
    if (prekey !== undefined) {
      const index = this.#sessions.findIndex((session) => session.startedBy(prekey));
      const existing = this.#sessions[index];
      if (existing !== undefined) {
        const plaintext = existing.decrypt(header, ciphertext, options.random);
        this.#promote(index);
        return { plaintext, usedOneTimePreKeyId: undefined };
      }
      const signed = preKeys.signedPreKey(prekey.signedPreKeyId);
      if (signed === undefined) {
        throw new CryptoError({ kind: "UnknownPreKey", prekeyKind: "signed", id: prekey.signedPreKeyId });
      }
      let oneTime: OneTimePreKeyPair | undefined;
      if (prekey.oneTimePreKeyId !== undefined) {
        oneTime = preKeys.oneTimePreKey(prekey.oneTimePreKeyId);
        if (oneTime === undefined) {
          throw new CryptoError({ kind: "UnknownPreKey", prekeyKind: "one-time", id: prekey.oneTimePreKeyId });
        }
      }
      const { session, plaintext } = Session.respond(identity, signed, oneTime, header, ciphertext, options);
      this.add(session);
      return { plaintext, usedOneTimePreKeyId: prekey.oneTimePreKeyId };
    }
    let firstError: unknown;
    for (const [index, session] of this.#sessions.entries()) {
      try {
        const plaintext = session.decrypt(header, ciphertext, options.random);
        this.#promote(index);
        return { plaintext, usedOneTimePreKeyId: undefined };
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
    return undefined;
  }

  toJSON(): SessionRecordJson {
    return { userId: this.userId, deviceId: this.deviceId, sessions: this.#sessions.map((s) => s.toJSON()) };
  }

  /** A record stored by `toJSON`; throws `StateDecoding` for anything else. */
  static fromJSON(json: unknown): SessionRecord {
    return storedState(() => {
      const value = object(json, "a session record");
      return new SessionRecord(
        stringField(value, "userId"),
        stringField(value, "deviceId"),
        arrayField(value, "sessions").map((session) => Session.fromJSON(session)),
      );
    });
  }
}
