/** Base64 and hex: the API's base64 is read exactly as Rust's `Base64Bytes::decode` reads it. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { fromBase64, fromHex, toBase64, toHex } from "../src/crypto/index.js";
import { assertCryptoError, readJson } from "./support.js";

interface Base64Case {
  input: string;
  rust: string | null;
}

const { cases } = readJson("test/vectors/base64.json") as { cases: Base64Case[] };

test("base64 is accepted and refused exactly as Rust does (vectors from Base64Bytes::decode)", () => {
  assert.ok(cases.length > 20);
  for (const { input, rust } of cases) {
    if (rust === null) {
      assertCryptoError(() => fromBase64(input), "InvalidEncoding");
    } else {
      assert.equal(toHex(fromBase64(input)), rust, JSON.stringify(input));
    }
  }
});

test("base64 is written padded and standard, and round-trips every length", () => {
  assert.equal(toBase64(Uint8Array.of(0xfb, 0xff, 0xbf)), "+/+/");
  assert.equal(toBase64(Uint8Array.of(0)), "AA==");
  assert.equal(toBase64(Uint8Array.of(0, 1)), "AAE=");
  assert.equal(toBase64(new Uint8Array()), "");
  for (let length = 0; length < 70; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
    assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
    assert.equal(toBase64(bytes), Buffer.from(bytes).toString("base64"));
  }
});

test("hex round-trips and refuses odd lengths and other characters", () => {
  assert.equal(toHex(Uint8Array.of(0, 0xab, 0xff)), "00abff");
  assert.deepEqual(fromHex("00ABff"), Uint8Array.of(0, 0xab, 0xff));
  assertCryptoError(() => fromHex("abc"), "InvalidEncoding");
  assertCryptoError(() => fromHex("zz"), "InvalidEncoding");
});
