/** Safety numbers, including one computed by Rust from user ids the way the SDK shows them. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { IdentityKeyPair, SafetyNumber, userStableId } from "../src/crypto/index.js";
import { assertCryptoError, readJson, repeated, text } from "./support.js";

const key = (byte: number) => repeated(byte);

test("both sides see the same number", () => {
  const alice = SafetyNumber.of(key(1), text("alice"), key(2), text("bob"));
  const bob = SafetyNumber.of(key(2), text("bob"), key(1), text("alice"));
  assert.ok(alice.equals(bob));
  assert.match(alice.digits, /^\d{60}$/);
});

test("it shows as twelve groups of five digits", () => {
  const shown = SafetyNumber.of(key(1), text("alice"), key(2), text("bob")).toString();
  assert.equal(shown.length, 60 + 11);
  assert.match(shown, /^\d{5}( \d{5}){11}$/);
});

test("a different key or stable id changes the number", () => {
  const genuine = SafetyNumber.of(key(1), text("alice"), key(2), text("bob"));
  assert.ok(!genuine.equals(SafetyNumber.of(key(1), text("alice"), key(3), text("bob"))));
  assert.ok(!genuine.equals(SafetyNumber.of(key(1), text("alice"), key(2), text("bo"))));
});

test("the number the Rust SDK shows for two users (stable ids are the 16 bytes of each user id)", () => {
  const { safety_number_by_user_ids: vector } = readJson("test/vectors/wire.json") as {
    safety_number_by_user_ids: { alice_user_id: string; bob_user_id: string; safety_number: string };
  };
  const alice = IdentityKeyPair.fromSeed(repeated(0x11)).publicKey;
  const bob = IdentityKeyPair.fromSeed(repeated(0x12)).publicKey;
  const number = SafetyNumber.of(alice, userStableId(vector.alice_user_id), bob, userStableId(vector.bob_user_id));
  assert.equal(number.toString(), vector.safety_number);
  assert.equal(userStableId(vector.bob_user_id.toUpperCase()).length, 16);
  assertCryptoError(() => userStableId("not-a-uuid"), "InvalidEncoding");
});
