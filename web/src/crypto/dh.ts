/**
 * X25519 key pairs and agreement, as `protocol/src/crypto/dh.rs`: prekeys, ratchet keys and the X3DH
 * ephemeral key are all plain X25519 keys.
 */

import { x25519 } from "@noble/curves/ed25519.js";

import { expectLength } from "./bytes.js";
import { CryptoError } from "./error.js";
import type { RandomSource } from "./random.js";

/**
 * A private X25519 key with its public half. Only the secret is ever stored; the public half is
 * recomputed on load (as Rust does), so a stored pair cannot disagree with itself.
 */
export interface DhKeyPair {
  /** The 32 secret bytes as drawn, unclamped (X25519 clamps on every use, as x25519-dalek does). */
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The pair whose secret is `secret`. */
export function dhKeyPairFromSecret(secret: Uint8Array): DhKeyPair {
  expectLength(secret, 32, "an X25519 secret key");
  return { secret: secret.slice(), publicKey: x25519.getPublicKey(secret) };
}

/** A fresh pair drawn from `random` (one 32-byte draw, like `StaticSecret::random_from_rng`). */
export function generateDhKeyPair(random: RandomSource): DhKeyPair {
  return dhKeyPairFromSecret(random(32));
}

/**
 * X25519 of `secret` with the peer's `theirs`, refusing a low-order peer key. Rust refuses an
 * all-zero output; with clamped scalars that happens exactly for the low-order u-coordinates (and
 * their non-canonical encodings) that noble refuses before computing, so both sides accept and refuse
 * the same keys. The lengths are checked first, so noble's only refusal left is that one.
 */
export function agree(secret: Uint8Array, theirs: Uint8Array): Uint8Array {
  expectLength(secret, 32, "an X25519 secret key");
  expectLength(theirs, 32, "an X25519 public key");
  try {
    return x25519.getSharedSecret(secret, theirs);
  } catch {
    throw new CryptoError({ kind: "WeakKey" });
  }
}
