/**
 * The store of skipped message keys (`MKSKIPPED`), as `protocol/src/crypto/ratchet/skipped.rs`: a list
 * in the order the keys were skipped, bounded by dropping the oldest. A list rather than a map keeps
 * the eviction order and serialises plainly; it is only scanned for messages that are not next in
 * their chain.
 */

import { bytesEqual } from "../bytes.js";

/** A message key kept for a message that has not arrived yet. */
export interface SkippedKey {
  readonly ratchetKey: Uint8Array;
  readonly messageNumber: number;
  readonly key: Uint8Array;
}

export class SkippedKeys {
  readonly #keys: SkippedKey[];

  constructor(keys: readonly SkippedKey[] = []) {
    this.#keys = [...keys];
  }

  get length(): number {
    return this.#keys.length;
  }

  /** Oldest first. */
  entries(): readonly SkippedKey[] {
    return this.#keys;
  }

  find(ratchetKey: Uint8Array, messageNumber: number): Uint8Array | undefined {
    return this.#keys[this.#position(ratchetKey, messageNumber)]?.key;
  }

  remove(ratchetKey: Uint8Array, messageNumber: number): void {
    const index = this.#position(ratchetKey, messageNumber);
    if (index >= 0) this.#keys.splice(index, 1);
  }

  /** Adds a key, then drops the oldest until at most `bound` are left. */
  insert(key: SkippedKey, bound: number): void {
    this.#keys.push(key);
    if (this.#keys.length > bound) this.#keys.splice(0, this.#keys.length - bound);
  }

  #position(ratchetKey: Uint8Array, messageNumber: number): number {
    return this.#keys.findIndex((k) => k.messageNumber === messageNumber && bytesEqual(k.ratchetKey, ratchetKey));
  }
}
