/**
 * A device's prekeys, as `protocol/src/crypto/prekey.rs`: the private halves it keeps, the public
 * forms it uploads, and a JSON form for the browser's storage.
 */

import { U32_MAX, isU32 } from "./bytes.js";
import { type DhKeyPair, dhKeyPairFromSecret, generateDhKeyPair } from "./dh.js";
import { toBase64 } from "./encoding.js";
import { CryptoError } from "./error.js";
import type { IdentityKeyPair } from "./identity.js";
import { base64Field, object, storedState, u32Field } from "./json.js";
import { type RandomSource, systemRandom } from "./random.js";

function checkId(id: number): number {
  if (!isU32(id)) throw new CryptoError({ kind: "InvalidEncoding", reason: "a prekey id must be a u32" });
  return id;
}

/** `POST /v1/encryption/signed-prekeys` (`SignedPreKeyUpload`; user and device come from the token). */
export interface SignedPreKeyUpload {
  readonly key_id: number;
  readonly public_key: string;
  readonly signature: string;
}

/** One entry of `POST /v1/encryption/onetime-prekeys` (`OneTimePreKeyUpload`). */
export interface OneTimePreKeyUpload {
  readonly key_id: number;
  readonly public_key: string;
}

/** How a signed prekey is stored: the secret, never the public key, which is recomputed. */
export interface SignedPreKeyJson {
  readonly id: number;
  readonly secret: string;
  readonly signature: string;
}

/** How a one-time prekey is stored. */
export interface OneTimePreKeyJson {
  readonly id: number;
  readonly secret: string;
}

/** A signed prekey with its private half, kept until the prekey is retired. */
export class SignedPreKeyPair {
  private constructor(
    readonly id: number,
    readonly keyPair: DhKeyPair,
    /** The identity key's Ed25519 signature over the public key. */
    readonly signature: Uint8Array,
  ) {}

  /** A fresh signed prekey, signed by `identity`. */
  static generate(identity: IdentityKeyPair, id: number, random: RandomSource = systemRandom): SignedPreKeyPair {
    return SignedPreKeyPair.#signed(identity, checkId(id), generateDhKeyPair(random));
  }

  /** The signed prekey whose X25519 secret is `secret` (for fixed test vectors). */
  static fromSecret(identity: IdentityKeyPair, id: number, secret: Uint8Array): SignedPreKeyPair {
    return SignedPreKeyPair.#signed(identity, checkId(id), dhKeyPairFromSecret(secret));
  }

  static #signed(identity: IdentityKeyPair, id: number, keyPair: DhKeyPair): SignedPreKeyPair {
    return new SignedPreKeyPair(id, keyPair, identity.signPreKey(keyPair.publicKey));
  }

  get publicKey(): Uint8Array {
    return this.keyPair.publicKey;
  }

  toUpload(): SignedPreKeyUpload {
    return { key_id: this.id, public_key: toBase64(this.publicKey), signature: toBase64(this.signature) };
  }

  toJSON(): SignedPreKeyJson {
    return { id: this.id, secret: toBase64(this.keyPair.secret), signature: toBase64(this.signature) };
  }

  static fromJSON(json: unknown): SignedPreKeyPair {
    return storedState(() => {
      const value = object(json, "a signed prekey");
      return new SignedPreKeyPair(
        u32Field(value, "id"),
        dhKeyPairFromSecret(base64Field(value, "secret", 32)),
        base64Field(value, "signature", 64),
      );
    });
  }
}

/** A one-time prekey with its private half, kept until a session consumes it, then deleted. */
export class OneTimePreKeyPair {
  private constructor(
    readonly id: number,
    readonly keyPair: DhKeyPair,
  ) {}

  static generate(id: number, random: RandomSource = systemRandom): OneTimePreKeyPair {
    return new OneTimePreKeyPair(checkId(id), generateDhKeyPair(random));
  }

  /** The one-time prekey whose X25519 secret is `secret` (for fixed test vectors). */
  static fromSecret(id: number, secret: Uint8Array): OneTimePreKeyPair {
    return new OneTimePreKeyPair(checkId(id), dhKeyPairFromSecret(secret));
  }

  /** `count` fresh keys with consecutive ids from `first`; refuses to wrap past the largest u32. */
  static generateBatch(first: number, count: number, random: RandomSource = systemRandom): OneTimePreKeyPair[] {
    checkId(first);
    checkId(count);
    if (count > 0 && first + count - 1 > U32_MAX) throw new CryptoError({ kind: "PreKeyIdOverflow" });
    return Array.from({ length: count }, (_, offset) => OneTimePreKeyPair.generate(first + offset, random));
  }

  get publicKey(): Uint8Array {
    return this.keyPair.publicKey;
  }

  toUpload(): OneTimePreKeyUpload {
    return { key_id: this.id, public_key: toBase64(this.publicKey) };
  }

  toJSON(): OneTimePreKeyJson {
    return { id: this.id, secret: toBase64(this.keyPair.secret) };
  }

  static fromJSON(json: unknown): OneTimePreKeyPair {
    return storedState(() => {
      const value = object(json, "a one-time prekey");
      return new OneTimePreKeyPair(u32Field(value, "id"), dhKeyPairFromSecret(base64Field(value, "secret", 32)));
    });
  }
}
