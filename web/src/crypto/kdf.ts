/**
 * The two key-derivation primitives everything else is built from, as `protocol/src/crypto/kdf.rs`:
 * HKDF-SHA256 and HMAC-SHA256.
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** HKDF-SHA256 of `ikm` with `salt` and `info`, `length` bytes. No salt means 32 zero bytes (RFC 5869). */
export function hkdfSha256(
  salt: Uint8Array | undefined,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdf(sha256, ikm, salt, info, length);
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data);
}
