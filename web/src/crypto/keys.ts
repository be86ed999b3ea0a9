/**
 * Checks on published key material, as `protocol/src/keys.rs`: a device's identity key is an Ed25519
 * public key, and a signed prekey's signature is Ed25519 over the prekey's 32 raw public-key bytes.
 */

import { decompress, verifyStrict } from "./ed25519.js";
import { CryptoError } from "./error.js";

/**
 * Refuses a signed prekey its identity key did not sign (`verify_signed_prekey`). The node checks this
 * on upload too, but a client checks again because the node is not trusted with key material.
 */
export function verifySignedPreKey(identityKey: Uint8Array, preKey: Uint8Array, signature: Uint8Array): void {
  if (decompress(identityKey) === undefined) throw new CryptoError({ kind: "InvalidIdentityKey" });
  if (!verifyStrict(identityKey, preKey, signature)) throw new CryptoError({ kind: "BadSignedPreKeySignature" });
}
