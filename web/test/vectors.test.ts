/**
 * Every value of `protocol/tests/vectors/crypto.json`, recomputed from the same fixed inputs as
 * `protocol/src/crypto/vectors.rs`. A mismatch means the web client cannot talk to the Rust one.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  IdentityKeyPair,
  OneTimePreKeyPair,
  SafetyNumber,
  Session,
  SignedPreKeyPair,
  dhKeyPairFromSecret,
  fromHex,
  toHex,
} from "../src/crypto/index.js";
import { initiate } from "../src/crypto/x3dh.js";
import { bundleOf, read, readJson, repeated, scripted, text } from "./support.js";

const expected = readJson("../protocol/tests/vectors/crypto.json") as Record<string, string>;

/** The inputs of `compute()` in `vectors.rs`: each secret a distinct repeated byte. */
function inputs() {
  const alice = IdentityKeyPair.fromSeed(repeated(0x01));
  const bob = IdentityKeyPair.fromSeed(repeated(0x02));
  const signed = SignedPreKeyPair.fromSecret(bob, 1, repeated(0x03));
  const oneTime = OneTimePreKeyPair.fromSecret(7, repeated(0x04));
  return { alice, bob, signed, oneTime };
}

function compute(): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (name: string, bytes: Uint8Array) => {
    out[name] = toHex(bytes);
  };
  const { alice, bob, signed, oneTime } = inputs();
  const bob_ = { identity: bob, signed, oneTime };

  put("alice_identity_public", alice.publicKey);
  put("bob_identity_public", bob.publicKey);
  put("bob_signed_prekey_public", signed.publicKey);
  put("bob_signed_prekey_signature", signed.signature);
  put("bob_one_time_prekey_public", oneTime.publicKey);

  const ephemeral = dhKeyPairFromSecret(repeated(0x05));
  put("x3dh_secret_with_one_time_prekey", initiate(alice, bundleOf(bob_), ephemeral).sharedSecret);
  put(
    "x3dh_secret_without_one_time_prekey",
    initiate(alice, bundleOf({ ...bob_, oneTime: undefined }), ephemeral).sharedSecret,
  );

  // Alice opens, Bob answers, Alice again: two DH ratchet steps.
  const aliceSession = Session.initiate(alice, bundleOf(bob_), { random: scripted([repeated(0x05), repeated(0x06)]) });
  const m1 = aliceSession.encrypt(text("Hello Bob"));
  put("message_1_header", m1.header);
  put("message_1_ciphertext", m1.ciphertext);

  const answered = Session.respond(bob, signed, oneTime, m1.header, m1.ciphertext, {
    random: scripted([repeated(0x07)]),
  });
  assert.equal(read(answered.plaintext), "Hello Bob");
  const bobSession = answered.session;
  const m2 = bobSession.encrypt(text("Hello Alice"));
  put("message_2_header", m2.header);
  put("message_2_ciphertext", m2.ciphertext);

  assert.equal(read(aliceSession.decrypt(m2.header, m2.ciphertext, scripted([repeated(0x08)]))), "Hello Alice");
  const m3 = aliceSession.encrypt(text("How are you?"));
  put("message_3_header", m3.header);
  put("message_3_ciphertext", m3.ciphertext);
  assert.equal(read(bobSession.decrypt(m3.header, m3.ciphertext, scripted([repeated(0x09)]))), "How are you?");

  out["safety_number"] = SafetyNumber.of(alice.publicKey, text("alice"), bob.publicKey, text("bob")).toString();
  return out;
}

test("every value in crypto.json is reproduced, and nothing else", () => {
  const computed = compute();
  for (const [name, value] of Object.entries(expected)) {
    assert.equal(computed[name], value, `vector ${name}`);
  }
  assert.deepEqual(Object.keys(computed).sort(), Object.keys(expected).sort(), "the set of vectors changed");
});

test("the committed first message opens with Bob's fixed keys alone", () => {
  const { bob, signed, oneTime } = inputs();
  const { session, plaintext } = Session.respond(
    bob,
    signed,
    oneTime,
    fromHex(expected["message_1_header"] ?? ""),
    fromHex(expected["message_1_ciphertext"] ?? ""),
  );
  assert.equal(read(plaintext), "Hello Bob");
  assert.equal(toHex(session.remoteIdentity), expected["alice_identity_public"]);
});

test("the committed later messages open in order on a session made from the vectors", () => {
  const { bob, signed, oneTime } = inputs();
  const bobSession = Session.respond(
    bob,
    signed,
    oneTime,
    fromHex(expected["message_1_header"] ?? ""),
    fromHex(expected["message_1_ciphertext"] ?? ""),
    { random: scripted([repeated(0x07)]) },
  ).session;
  // Message 3 was encrypted by Alice after reading Bob's message 2, which Bob made with ratchet key 0x07.
  const m3 = bobSession.decrypt(
    fromHex(expected["message_3_header"] ?? ""),
    fromHex(expected["message_3_ciphertext"] ?? ""),
    scripted([repeated(0x09)]),
  );
  assert.equal(read(m3), "How are you?");
});
