/**
 * A device's long-term identity, as `protocol/src/crypto/identity.rs`: one Ed25519 key that signs
 * prekeys and, in its X25519 (Montgomery) form, takes part in X3DH. There is no separate X25519
 * identity key on the wire.
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";

import { expectLength } from "./bytes.js";
import { agree } from "./dh.js";
import { decompress, toMontgomery } from "./ed25519.js";
import { CryptoError } from "./error.js";
import { type RandomSource, systemRandom } from "./random.js";

/** A device's private identity: the Ed25519 seed, and the X25519 scalar derived from it. */
export class IdentityKeyPair {
  readonly #seed: Uint8Array;
  readonly #agreement: Uint8Array;
  /** The Ed25519 public key to publish (`POST /v1/encryption/identity`). */
  readonly publicKey: Uint8Array;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
    // The X25519 scalar is the unclamped first half of SHA-512(seed): the scalar Ed25519 multiplies
    // the base point by, so its X25519 public key is the Montgomery form of the published key.
    this.#agreement = sha512(seed).slice(0, 32);
    this.publicKey = ed25519.getPublicKey(seed);
  }

  /** A fresh identity (one 32-byte draw, like `SigningKey::generate`). */
  static generate(random: RandomSource = systemRandom): IdentityKeyPair {
    return IdentityKeyPair.fromSeed(random(32));
  }

  /** The identity whose Ed25519 secret seed (RFC 8032 secret key) is `seed`. */
  static fromSeed(seed: Uint8Array): IdentityKeyPair {
    return new IdentityKeyPair(expectLength(seed, 32, "an Ed25519 seed").slice());
  }

  /** The seed, for the client's own encrypted storage; it is all an identity persists as. */
  toSeed(): Uint8Array {
    return this.#seed.slice();
  }

  /** Ed25519 over the prekey's 32 raw bytes, which is what `verify_signed_prekey` checks. */
  signPreKey(preKeyPublic: Uint8Array): Uint8Array {
    return ed25519.sign(expectLength(preKeyPublic, 32, "a prekey public key"), this.#seed);
  }

  /** X25519 between this identity and `theirs`. */
  agree(theirs: Uint8Array): Uint8Array {
    return agree(this.#agreement, theirs);
  }
}

/** The X25519 form of a published identity key, refusing an invalid or small-order (weak) key. */
export function agreementKey(identityKey: Uint8Array): Uint8Array {
  const point = decompress(identityKey);
  if (point === undefined || point.isSmallOrder()) throw new CryptoError({ kind: "InvalidIdentityKey" });
  return toMontgomery(point);
}
