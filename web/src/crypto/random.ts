/**
 * Where new keys come from. Every key is drawn as one call for 32 bytes, the way the Rust code draws
 * one 32-byte value per key from its `CryptoRng`, so a scripted source given the same 32-byte values
 * in the same order reproduces the Rust test vectors exactly.
 */

/** Returns `length` fresh random bytes. */
export type RandomSource = (length: number) => Uint8Array;

/** The platform CSPRNG (Web Crypto), present in browsers and in Node 20. */
export const systemRandom: RandomSource = (length) => crypto.getRandomValues(new Uint8Array(length));
