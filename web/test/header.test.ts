/** The header layout of header.rs, and its strict decoding. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { type MessageHeader, type PreKeyInfo, decodeHeader, encodeHeader } from "../src/crypto/index.js";
import { assertCryptoError } from "./support.js";

function header(prekey?: PreKeyInfo): MessageHeader {
  return { ratchetKey: new Uint8Array(32).fill(1), previousChainLength: 3, messageNumber: 0x01020304, prekey };
}

function prekey(oneTime?: number): PreKeyInfo {
  return {
    identityKey: new Uint8Array(32).fill(2),
    baseKey: new Uint8Array(32).fill(3),
    signedPreKeyId: 5,
    oneTimePreKeyId: oneTime,
  };
}

test("headers round-trip in each shape, 42, 110 and 114 bytes long", () => {
  for (const [value, length] of [
    [header(), 42],
    [header(prekey()), 110],
    [header(prekey(9)), 114],
  ] as const) {
    const bytes = encodeHeader(value);
    assert.equal(bytes.length, length);
    assert.deepEqual(decodeHeader(bytes), value);
  }
});

test("the layout is fixed", () => {
  const bytes = encodeHeader(header(prekey(0xfffffffe)));
  assert.deepEqual([...bytes.subarray(0, 2)], [1, 0b11]);
  assert.deepEqual(bytes.subarray(2, 34), new Uint8Array(32).fill(1));
  assert.deepEqual([...bytes.subarray(34, 42)], [0, 0, 0, 3, 1, 2, 3, 4]);
  assert.deepEqual(bytes.subarray(42, 74), new Uint8Array(32).fill(2));
  assert.deepEqual(bytes.subarray(74, 106), new Uint8Array(32).fill(3));
  assert.deepEqual([...bytes.subarray(106, 114)], [0, 0, 0, 5, 0xff, 0xff, 0xff, 0xfe]);
});

test("malformed headers are refused", () => {
  const bytes = encodeHeader(header(prekey(9)));
  assertCryptoError(() => decodeHeader(bytes.subarray(0, bytes.length - 1)), "InvalidHeader", { reason: "truncated" });
  assertCryptoError(() => decodeHeader(Uint8Array.of(...bytes, 0)), "InvalidHeader", { reason: "trailing bytes" });
  const flags = bytes.slice();
  flags[1] = 0b100;
  assertCryptoError(() => decodeHeader(flags), "InvalidHeader", { reason: "unknown flags" });
  const oneTimeAlone = encodeHeader(header()).slice();
  oneTimeAlone[1] = 0b10;
  assertCryptoError(() => decodeHeader(oneTimeAlone), "InvalidHeader", {
    reason: "one-time prekey without X3DH fields",
  });
  const version = bytes.slice();
  version[0] = 2;
  assertCryptoError(() => decodeHeader(version), "UnsupportedVersion", { version: 2 });
  assertCryptoError(() => decodeHeader(new Uint8Array()), "InvalidHeader", { reason: "truncated" });
});

test("values that do not fit the layout are refused when encoding", () => {
  assertCryptoError(() => encodeHeader({ ...header(), messageNumber: 2 ** 32 }), "InvalidEncoding");
  assertCryptoError(() => encodeHeader({ ...header(), ratchetKey: new Uint8Array(31) }), "InvalidEncoding");
});
