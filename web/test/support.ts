/** Shared helpers for the tests: fixed randomness, the vector files, and started conversations. */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  CryptoError,
  type CryptoErrorKind,
  type EncryptedMessage,
  IdentityKeyPair,
  type KeyBundle,
  OneTimePreKeyPair,
  type RandomSource,
  Session,
  type SessionConfig,
  SignedPreKeyPair,
  fromHex,
} from "../src/crypto/index.js";

/** Reads a JSON file by its path from `web/` (the tests run from `web/build/test/`). */
export function readJson(pathFromWeb: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../${pathFromWeb}`, import.meta.url), "utf8"));
}

/** The 32-byte value with every byte `byte`, as the Rust vectors build their inputs. */
export function repeated(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

/**
 * Randomness that hands out the given 32-byte values in order, like `ScriptedRng` in
 * `protocol/src/crypto/test_support.rs`; it fails when it runs out, which shows how many keys an
 * operation draws.
 */
export function scripted(values: readonly Uint8Array[]): RandomSource & { readonly remaining: number } {
  const queue = [...values];
  const source = (length: number) => {
    const next = queue.shift();
    assert.ok(next !== undefined, "the scripted random source ran out");
    assert.equal(length, next.length, "keys are drawn 32 bytes at a time");
    return next.slice();
  };
  return Object.defineProperty(source, "remaining", { get: () => queue.length }) as RandomSource & {
    readonly remaining: number;
  };
}

/** Hex strings to bytes. */
export function hexes(values: readonly string[]): Uint8Array[] {
  return values.map(fromHex);
}

/** Asserts that `run` throws a `CryptoError` of `kind` (and with `details`, when given). */
export function assertCryptoError(run: () => unknown, kind: CryptoErrorKind, details?: Record<string, unknown>): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CryptoError, `expected a CryptoError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (details !== undefined) assert.deepEqual(error.detail, { kind, ...details });
    return true;
  });
}

/** A device with its private keys, as a client keeps them. */
export interface Device {
  readonly identity: IdentityKeyPair;
  readonly signed: SignedPreKeyPair;
  readonly oneTime: OneTimePreKeyPair | undefined;
}

export function device(withOneTimePreKey = true): Device {
  const identity = IdentityKeyPair.generate();
  return {
    identity,
    signed: SignedPreKeyPair.generate(identity, 1),
    oneTime: withOneTimePreKey ? OneTimePreKeyPair.generate(100) : undefined,
  };
}

/** The bundle the node would serve for `device`, with the ids `bundle_for` uses in Rust. */
export function bundleOf({ identity, signed, oneTime }: Device): KeyBundle {
  return {
    userId: "01010101-0101-0101-0101-010101010101",
    deviceId: "02020202-0202-0202-0202-020202020202",
    identityKey: identity.publicKey,
    signedPreKey: { keyId: signed.id, publicKey: signed.publicKey, signature: signed.signature },
    oneTimePreKey: oneTime && { keyId: oneTime.id, publicKey: oneTime.publicKey },
    stale: false,
  };
}

/** Answers an initial message with the device's keys. */
export function respond(to: Device, message: EncryptedMessage, config?: SessionConfig) {
  return Session.respond(to.identity, to.signed, to.oneTime, message.header, message.ciphertext, config && { config });
}

/** Alice's and Bob's sessions after Alice's first message reached Bob. */
export function started(config?: SessionConfig): { alice: Session; bob: Session } {
  const bob = device();
  const alice = Session.initiate(IdentityKeyPair.generate(), bundleOf(bob), config && { config });
  const first = alice.encrypt(new TextEncoder().encode("hello"));
  const answered = respond(bob, first, config);
  assert.equal(new TextDecoder().decode(answered.plaintext), "hello");
  return { alice, bob: answered.session };
}

/** Decrypts `message` in `session`. */
export function open(session: Session, message: EncryptedMessage): Uint8Array {
  return session.decrypt(message.header, message.ciphertext);
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const read = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
