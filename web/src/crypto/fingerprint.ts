/**
 * Safety numbers, as `protocol/src/crypto/fingerprint.rs` (Signal's numeric fingerprint, version 0
 * layout): 60 digits two people compare to confirm each holds the other's real identity key.
 *
 * ```text
 * hash_0     = SHA-512(0x00 0x00 || identity key (32) || stable id)
 * hash_(i+1) = SHA-512(hash_i || identity key)                  for 5200 iterations in all
 * half       = the first 30 bytes as six 5-byte big-endian numbers, each mod 100000, as 5 digits
 * number     = the two 30-digit halves, the smaller first (so both sides see the same string)
 * ```
 */

import { sha512 } from "@noble/hashes/sha2.js";

import { concatBytes, expectLength } from "./bytes.js";
import { fromHex } from "./encoding.js";
import { CryptoError } from "./error.js";

const VERSION = Uint8Array.of(0, 0);
const ITERATIONS = 5200;

/** One identity's 30 digits. */
function half(identityKey: Uint8Array, stableId: Uint8Array): string {
  let hash = sha512(concatBytes(VERSION, identityKey, stableId));
  for (let i = 1; i < ITERATIONS; i++) hash = sha512(concatBytes(hash, identityKey));
  let digits = "";
  for (let offset = 0; offset < 30; offset += 5) {
    // Five bytes are at most 2^40, well within a double's exact integers.
    const value = hash.subarray(offset, offset + 5).reduce((acc, byte) => acc * 256 + byte, 0);
    digits += String(value % 100_000).padStart(5, "0");
  }
  return digits;
}

/** A safety number: identical on both devices when neither identity key was swapped. */
export class SafetyNumber {
  private constructor(
    /** The 60 digits without spaces. */
    readonly digits: string,
  ) {}

  /**
   * The number of two identities, each with a stable identifier of its owner. The Rust SDK uses the
   * 16 bytes of each user's id (`Client::safety_number` in `client/src/client/keys.rs`); see
   * `userStableId`. Both sides get the same number whichever of them is `local`.
   */
  static of(
    localIdentity: Uint8Array,
    localStableId: Uint8Array,
    remoteIdentity: Uint8Array,
    remoteStableId: Uint8Array,
  ): SafetyNumber {
    const local = half(expectLength(localIdentity, 32, "an identity key"), localStableId);
    const remote = half(expectLength(remoteIdentity, 32, "an identity key"), remoteStableId);
    return new SafetyNumber(local <= remote ? local + remote : remote + local);
  }

  /** Twelve groups of five digits, as shown to people. */
  groups(): string[] {
    return this.digits.match(/\d{5}/g) ?? [];
  }

  /** `12345 67890 …`, as Rust's `Display`. */
  toString(): string {
    return this.groups().join(" ");
  }

  equals(other: SafetyNumber): boolean {
    return this.digits === other.digits;
  }
}

/**
 * The stable id the Rust SDK hashes for a user: the 16 bytes of its UUID (`UserId::as_bytes`), from
 * the id as the API writes it (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, either case).
 */
export function userStableId(userId: string): Uint8Array {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(userId)) {
    throw new CryptoError({ kind: "InvalidEncoding", reason: "a user id must be a hyphenated UUID" });
  }
  return fromHex(userId.replaceAll("-", ""));
}
