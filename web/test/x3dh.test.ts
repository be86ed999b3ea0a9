/** X3DH on both sides, with and without a one-time prekey, and what each side refuses. */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  IdentityKeyPair,
  OneTimePreKeyPair,
  SignedPreKeyPair,
  generateDhKeyPair,
  systemRandom,
} from "../src/crypto/index.js";
import { initiate, respond } from "../src/crypto/x3dh.js";
import { assertCryptoError, bundleOf, device } from "./support.js";

const ephemeral = () => generateDhKeyPair(systemRandom);

test("both sides derive the same secret, with and without a one-time prekey", () => {
  for (const withOneTime of [true, false]) {
    const alice = IdentityKeyPair.generate();
    const bob = device(withOneTime);
    const started = initiate(alice, bundleOf(bob), ephemeral());
    assert.equal(started.prekey.oneTimePreKeyId, withOneTime ? 100 : undefined);
    assert.deepEqual(started.responderRatchetKey, bob.signed.publicKey);
    assert.deepEqual(respond(bob.identity, bob.signed, bob.oneTime, started.prekey), started.sharedSecret);
  }
});

test("the one-time prekey changes the secret", () => {
  const alice = IdentityKeyPair.generate();
  const bob = device();
  const key = ephemeral();
  const with_ = initiate(alice, bundleOf(bob), key);
  const without = initiate(alice, bundleOf({ ...bob, oneTime: undefined }), key);
  assert.notDeepEqual(with_.sharedSecret, without.sharedSecret);
});

test("a bad signature or a substituted identity is refused before any secret is derived", () => {
  const alice = IdentityKeyPair.generate();
  const bob = device(false);
  const bundle = bundleOf(bob);
  const zeroed = { ...bundle, signedPreKey: { ...bundle.signedPreKey, signature: new Uint8Array(64) } };
  assertCryptoError(() => initiate(alice, zeroed, ephemeral()), "BadSignedPreKeySignature");
  const mallory = { ...bundle, identityKey: IdentityKeyPair.generate().publicKey };
  assertCryptoError(() => initiate(alice, mallory, ephemeral()), "BadSignedPreKeySignature");
  const swapped = { ...bundle, signedPreKey: { ...bundle.signedPreKey, publicKey: device(false).signed.publicKey } };
  assertCryptoError(() => initiate(alice, swapped, ephemeral()), "BadSignedPreKeySignature");
});

test("the responder refuses prekeys the message did not use", () => {
  const alice = IdentityKeyPair.generate();
  const bob = device();
  const started = initiate(alice, bundleOf(bob), ephemeral());
  const otherSigned = SignedPreKeyPair.generate(bob.identity, 2);
  assertCryptoError(() => respond(bob.identity, otherSigned, bob.oneTime, started.prekey), "SignedPreKeyMismatch", {
    expected: 1,
    supplied: 2,
  });
  assertCryptoError(() => respond(bob.identity, bob.signed, undefined, started.prekey), "OneTimePreKeyMismatch", {
    expected: 100,
    supplied: undefined,
  });
  assertCryptoError(
    () => respond(bob.identity, bob.signed, OneTimePreKeyPair.generate(101), started.prekey),
    "OneTimePreKeyMismatch",
    { expected: 100, supplied: 101 },
  );
});
