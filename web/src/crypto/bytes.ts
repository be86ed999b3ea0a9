/** Byte-array helpers shared by the crypto modules. Byte arrays are never changed in place once made. */

import { CryptoError } from "./error.js";

/** The largest value of a Rust `u32`: counters and prekey ids are `u32` on the wire. */
export const U32_MAX = 0xffff_ffff;

/** `parts` joined into one new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Whether two arrays hold the same bytes. The time taken depends only on the lengths, so comparing a
 * secret-derived value leaks nothing about where it differs.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

/** Refuses a byte array of the wrong length, naming what it was meant to be. */
export function expectLength(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (bytes.length !== length) {
    throw new CryptoError({ kind: "InvalidEncoding", reason: `${what} must be ${length} bytes, not ${bytes.length}` });
  }
  return bytes;
}

/** Whether `value` fits a Rust `u32`. */
export function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

/** The 4 big-endian bytes of a `u32`, as Rust's `u32::to_be_bytes`. */
export function u32ToBytes(value: number): Uint8Array {
  if (!isU32(value)) throw new RangeError(`${value} is not a u32`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}
