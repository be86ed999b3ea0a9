/**
 * Identity keys and signed-prekey signatures. The edge cases come from the Rust code itself
 * (`test/vectors/signatures.json`, made with `protocol::verify_signed_prekey` and curve25519-dalek):
 * each must be accepted or refused with the same error as Rust, and where Rust accepts, the session
 * it starts must produce the same first message.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { ed25519 } from "@noble/curves/ed25519.js";

import {
  IdentityKeyPair,
  Session,
  SignedPreKeyPair,
  fromHex,
  toHex,
  verifySignedPreKey,
} from "../src/crypto/index.js";
import { agreementKey } from "../src/crypto/identity.js";
import { agree, dhKeyPairFromSecret } from "../src/crypto/dh.js";
import { assertCryptoError, readJson, repeated, scripted, text } from "./support.js";

interface SignatureCase {
  name: string;
  identity_key: string;
  signature: string;
  rust: "ok" | "InvalidIdentityKey" | "BadSignedPreKeySignature";
  first_message?: { header: string; ciphertext: string };
}

const vectors = readJson("test/vectors/signatures.json") as { prekey_public: string; cases: SignatureCase[] };

test("signed-prekey signatures verify exactly as ed25519-dalek's verify_strict", () => {
  const prekey = fromHex(vectors.prekey_public);
  for (const vector of vectors.cases) {
    const run = () => verifySignedPreKey(fromHex(vector.identity_key), prekey, fromHex(vector.signature));
    if (vector.rust === "ok") {
      assert.doesNotThrow(run, vector.name);
    } else {
      assertCryptoError(run, vector.rust);
    }
  }
});

test("where Rust accepts a bundle, the session it starts sends the same first message", () => {
  const alice = IdentityKeyPair.fromSeed(repeated(0x11));
  const accepted = vectors.cases.filter((vector) => vector.rust === "ok");
  assert.ok(accepted.length >= 3, "the vectors include keys with torsion components");
  for (const vector of accepted) {
    const session = Session.initiate(
      alice,
      {
        userId: "b0b0b0b0-b0b0-b0b0-b0b0-b0b0b0b0b0b0",
        deviceId: "bdbdbdbd-bdbd-bdbd-bdbd-bdbdbdbdbdbd",
        identityKey: fromHex(vector.identity_key),
        signedPreKey: { keyId: 5, publicKey: fromHex(vectors.prekey_public), signature: fromHex(vector.signature) },
        stale: false,
      },
      { random: scripted([repeated(0x15), repeated(0x16)]) },
    );
    const message = session.encrypt(text("hi"));
    assert.equal(toHex(message.header), vector.first_message?.header, vector.name);
    assert.equal(toHex(message.ciphertext), vector.first_message?.ciphertext, vector.name);
  }
});

test("noble's own verify would accept a signature Rust refuses, which is why the rule is rebuilt", () => {
  const vector = vectors.cases.find((c) => c.name.startsWith("R has an order-8 component"));
  assert.ok(vector !== undefined && vector.rust === "BadSignedPreKeySignature");
  const signature = fromHex(vector.signature);
  const prekey = fromHex(vectors.prekey_public);
  const key = fromHex(vector.identity_key);
  assert.equal(ed25519.verify(signature, prekey, key, { zip215: false }), true);
  assertCryptoError(() => verifySignedPreKey(key, prekey, signature), "BadSignedPreKeySignature");
});

test("an identity signs its prekeys, and a signature over another prekey is refused", () => {
  const identity = IdentityKeyPair.generate();
  const signed = SignedPreKeyPair.generate(identity, 3);
  verifySignedPreKey(identity.publicKey, signed.publicKey, signed.signature);
  const other = SignedPreKeyPair.generate(identity, 4);
  assertCryptoError(
    () => verifySignedPreKey(identity.publicKey, other.publicKey, signed.signature),
    "BadSignedPreKeySignature",
  );
  assertCryptoError(
    () => verifySignedPreKey(IdentityKeyPair.generate().publicKey, signed.publicKey, signed.signature),
    "BadSignedPreKeySignature",
  );
});

test("a seed is an RFC 8032 secret key and is all an identity persists as", () => {
  // RFC 8032 §7.1, test 1, as in identity.rs.
  const seed = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const identity = IdentityKeyPair.fromSeed(seed);
  assert.equal(toHex(identity.publicKey), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  assert.deepEqual(IdentityKeyPair.fromSeed(identity.toSeed()).publicKey, identity.publicKey);
});

test("the X25519 form of an identity agrees on both sides", () => {
  const alice = IdentityKeyPair.generate();
  const bob = IdentityKeyPair.generate();
  assert.deepEqual(alice.agree(agreementKey(bob.publicKey)), bob.agree(agreementKey(alice.publicKey)));
  // Its Montgomery form is the public key of the scalar the identity agrees with.
  const ephemeral = dhKeyPairFromSecret(repeated(0x42));
  assert.deepEqual(agree(ephemeral.secret, agreementKey(alice.publicKey)), alice.agree(ephemeral.publicKey));
});

test("invalid and small-order identity keys have no X25519 form", () => {
  const identityPoint = new Uint8Array(32);
  identityPoint[0] = 1;
  assertCryptoError(() => agreementKey(identityPoint), "InvalidIdentityKey");
  const notAPoint = vectors.cases.find((c) => c.rust === "InvalidIdentityKey");
  assert.ok(notAPoint !== undefined);
  assertCryptoError(() => agreementKey(fromHex(notAPoint.identity_key)), "InvalidIdentityKey");
});

test("low-order X25519 peer keys are refused as weak", () => {
  const pair = dhKeyPairFromSecret(repeated(0x42));
  const p = 2n ** 255n - 19n;
  const lowOrder = [
    0n,
    1n,
    p - 1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    p,
    p + 1n,
  ];
  for (const u of lowOrder) {
    const bytes = new Uint8Array(32);
    for (let i = 0, rest = u; i < 32; i++, rest >>= 8n) bytes[i] = Number(rest & 0xffn);
    assertCryptoError(() => agree(pair.secret, bytes), "WeakKey");
  }
});
