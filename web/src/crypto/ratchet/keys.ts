/**
 * The Double Ratchet's symmetric KDFs and message cipher, as `protocol/src/crypto/ratchet/keys.rs`:
 *
 * ```text
 * KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info = "Parley ratchet", 64 bytes)
 *                    -> (new root key, chain key)
 * KDF_CK(ck)         = (HMAC-SHA256(ck, 0x02) -> next chain key, HMAC-SHA256(ck, 0x01) -> message key)
 * message key mk     -> HKDF-SHA256(salt = 32 zero bytes, ikm = mk, info = "Parley message key", 44)
 *                    -> ChaCha20-Poly1305 (IETF, 12-byte nonce) key (32) || nonce (12)
 * AEAD associated data = AD (64 bytes, see x3dh.ts) || encoded header
 * ```
 *
 * A message key encrypts exactly one message, so the nonce derived from it is never reused.
 */

import { chacha20poly1305 } from "@noble/ciphers/chacha.js";

import { concatBytes } from "../bytes.js";
import { utf8 } from "../encoding.js";
import { CryptoError } from "../error.js";
import { hkdfSha256, hmacSha256 } from "../kdf.js";

const ROOT_INFO = utf8("Parley ratchet");
const MESSAGE_INFO = utf8("Parley message key");
const MESSAGE_KEY_SEED = Uint8Array.of(0x01);
const CHAIN_KEY_SEED = Uint8Array.of(0x02);

/** `KDF_RK`: the next root key and a new chain key. */
export function ratchetRoot(rootKey: Uint8Array, dhOutput: Uint8Array): { root: Uint8Array; chain: Uint8Array } {
  const okm = hkdfSha256(rootKey, dhOutput, ROOT_INFO, 64);
  return { root: okm.slice(0, 32), chain: okm.slice(32) };
}

/** `KDF_CK`: the chain's next key and this step's message key. */
export function stepChain(chainKey: Uint8Array): { chain: Uint8Array; messageKey: Uint8Array } {
  return { chain: hmacSha256(chainKey, CHAIN_KEY_SEED), messageKey: hmacSha256(chainKey, MESSAGE_KEY_SEED) };
}

function cipher(messageKey: Uint8Array, ad: Uint8Array, header: Uint8Array) {
  const okm = hkdfSha256(undefined, messageKey, MESSAGE_INFO, 44);
  return chacha20poly1305(okm.slice(0, 32), okm.slice(32), concatBytes(ad, header));
}

/** ChaCha20-Poly1305 of `plaintext` under the message key, authenticating `ad || header`. */
export function seal(messageKey: Uint8Array, ad: Uint8Array, header: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return cipher(messageKey, ad, header).encrypt(plaintext);
}

/** Opens what `seal` produced, or throws `DecryptionFailed` if any byte of it or of `ad || header` changed. */
export function open(messageKey: Uint8Array, ad: Uint8Array, header: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  try {
    return cipher(messageKey, ad, header).decrypt(ciphertext);
  } catch {
    throw new CryptoError({ kind: "DecryptionFailed" });
  }
}
