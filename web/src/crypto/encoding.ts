/**
 * Text encodings of bytes. The API carries every binary value as standard base64 (`Base64Bytes` and
 * the key types in `protocol/src/bytes.rs` and `protocol/src/keys.rs`); the Rust test vectors use
 * lower-case hex. Both are written here instead of using `btoa`/`atob` so that decoding is exactly
 * as strict as Rust's.
 */

import { CryptoError } from "./error.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Map([...ALPHABET].map((char, index) => [char, index]));

function invalid(reason: string): CryptoError {
  return new CryptoError({ kind: "InvalidEncoding", reason });
}

/** Padded standard base64, the canonical form Rust writes (`Base64Bytes::encode`). */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(bytes.length - i, 3) + 1;
    for (let c = 0; c < 4; c++) {
      out += c < chars ? ALPHABET[(chunk >> (18 - 6 * c)) & 63] : "=";
    }
  }
  return out;
}

/**
 * Standard base64 with or without padding, as Rust reads it (`DecodePaddingMode::Indifferent`):
 * anything else (another alphabet, white space, excess padding, stray low bits) is refused, so a
 * value has one meaning on both sides.
 */
export function fromBase64(text: string): Uint8Array {
  const unpadded = text.replace(/=+$/, "");
  const remainder = unpadded.length % 4;
  const canonicalPadding = remainder === 0 ? 0 : 4 - remainder;
  if (remainder === 1 || text.length - unpadded.length > canonicalPadding) throw invalid("not valid base64");
  const out = new Uint8Array(Math.floor((unpadded.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let written = 0;
  for (const char of unpadded) {
    const value = VALUES.get(char);
    if (value === undefined) throw invalid("not valid base64");
    buffer = ((buffer << 6) | value) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = (buffer >> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw invalid("not valid base64 (trailing bits set)");
  return out;
}

/** Lower-case hex, as the Rust test vectors write bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Hex of either case, an even number of digits. */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw invalid("not valid hex");
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
