/**
 * The Ed25519 rules of ed25519-dalek 3 and curve25519-dalek 5, rebuilt on noble's curve arithmetic.
 *
 * noble's own `verify` is either ZIP-215 (permissive) or RFC 8032 with the cofactored equation; Rust
 * uses `verify_strict`, which is neither: it refuses a non-canonical `s` and small-order `R` or `A`,
 * and checks the cofactorless equation by comparing `[s]B - [k]A`, compressed, with the `R` bytes.
 * A signature noble accepts could therefore be refused by every Rust client (for example an `R` with a
 * torsion component), so the exact rule is spelled out here instead.
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";

import { bytesEqual, concatBytes } from "./bytes.js";

type EdwardsPoint = InstanceType<typeof ed25519.Point>;

const { Point } = ed25519;
const Fp = Point.Fp;
const GROUP_ORDER = Point.Fn.ORDER;

/**
 * `CompressedEdwardsY::decompress`: the high bit is the sign of x, the rest is y read modulo p (so a
 * non-canonical y is accepted), and x = 0 with the sign bit set is accepted. `undefined` when no point
 * has that y.
 */
export function decompress(bytes: Uint8Array): EdwardsPoint | undefined {
  if (bytes.length !== 32) return undefined;
  const sign = (bytes[31] ?? 0) & 0x80;
  const yBytes = bytes.slice();
  yBytes[31] = (yBytes[31] ?? 0) & 0x7f;
  const canonical = numberToBytesLE(Fp.create(bytesToNumberLE(yBytes)), 32);
  canonical[31] = (canonical[31] ?? 0) | sign;
  try {
    // ZIP-215 decoding is the one that accepts x = 0 with the sign bit, as dalek does.
    return Point.fromBytes(canonical, true);
  } catch {
    return undefined;
  }
}

/** `VerifyingKey::verify_strict` of ed25519-dalek 3 (without its `legacy_compatibility` feature). */
export function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = decompress(publicKey);
  if (key === undefined) return false;
  const rBytes = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32, 64));
  if (s >= GROUP_ORDER) return false;
  const r = decompress(rBytes);
  if (r === undefined || r.isSmallOrder() || key.isSmallOrder()) return false;
  const k = bytesToNumberLE(sha512(concatBytes(rBytes, publicKey, message))) % GROUP_ORDER;
  const expected = Point.BASE.multiplyUnsafe(s).subtract(key.multiplyUnsafe(k));
  return bytesEqual(expected.toBytes(), rBytes);
}

/** The X25519 (Montgomery) u-coordinate of an Edwards point: `(1 + y) / (1 - y)`, as `to_montgomery`. */
export function toMontgomery(point: EdwardsPoint): Uint8Array {
  const y = point.toAffine().y;
  return numberToBytesLE(Fp.div(Fp.add(Fp.ONE, y), Fp.sub(Fp.ONE, y)), 32);
}
