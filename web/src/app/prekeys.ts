/**
 * This device's prekeys as `client/src/prekeys.rs` keeps them: a few signed prekeys (the newest is
 * published; older ones still open late initial messages) and the one-time prekeys' secrets.
 */

import {
  type IdentityKeyPair,
  OneTimePreKeyPair,
  type OneTimePreKeyJson,
  type PreKeyStore,
  SignedPreKeyPair,
  type SignedPreKeyJson,
} from "../crypto/index.js";

/** Below this many one-time prekeys on the node, the device uploads more (as the SDK). */
export const ONE_TIME_LOW_WATER = 20;
/** How many one-time prekeys a top-up brings the node back to. */
export const ONE_TIME_TARGET = 100;
export const ONE_TIME_PER_UPLOAD = 200;
/** Signed prekeys kept for late initial messages built from an older one. */
const KEPT_SIGNED = 5;
/** One-time prekey secrets kept at most (twice what the node holds). */
const KEPT_ONE_TIME = 2000;

export interface PreKeysJson {
  signed: SignedPreKeyJson[];
  oneTime: OneTimePreKeyJson[];
  nextOneTime: number;
}

export class PreKeys implements PreKeyStore {
  constructor(
    readonly signed: SignedPreKeyPair[],
    readonly oneTime: Map<number, OneTimePreKeyPair>,
    public nextOneTime: number,
  ) {}

  static fromJSON(json: PreKeysJson | undefined): PreKeys {
    if (json === undefined) return new PreKeys([], new Map(), 1);
    const oneTime = json.oneTime.map((key) => OneTimePreKeyPair.fromJSON(key));
    return new PreKeys(
      json.signed.map((key) => SignedPreKeyPair.fromJSON(key)),
      new Map(oneTime.map((key) => [key.id, key])),
      json.nextOneTime,
    );
  }

  toJSON(): PreKeysJson {
    return {
      signed: this.signed.map((key) => key.toJSON()),
      oneTime: [...this.oneTime.values()].map((key) => key.toJSON()),
      nextOneTime: this.nextOneTime,
    };
  }

  get current(): SignedPreKeyPair | undefined {
    return this.signed.at(-1);
  }

  signedPreKey(id: number): SignedPreKeyPair | undefined {
    return this.signed.find((key) => key.id === id);
  }

  oneTimePreKey(id: number): OneTimePreKeyPair | undefined {
    return this.oneTime.get(id);
  }

  newSigned(identity: IdentityKeyPair): SignedPreKeyPair {
    const id = Math.max(0, ...this.signed.map((key) => key.id)) + 1;
    const key = SignedPreKeyPair.generate(identity, id);
    this.signed.push(key);
    if (this.signed.length > KEPT_SIGNED) this.signed.shift();
    return key;
  }

  newOneTime(count: number): OneTimePreKeyPair[] {
    const first = Math.max(1, this.nextOneTime);
    const batch = OneTimePreKeyPair.generateBatch(first, count);
    this.nextOneTime = first + count;
    for (const key of batch) this.oneTime.set(key.id, key);
    for (const id of [...this.oneTime.keys()].sort((a, b) => a - b)) {
      if (this.oneTime.size <= KEPT_ONE_TIME) break;
      this.oneTime.delete(id);
    }
    return batch;
  }
}
