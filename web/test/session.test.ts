/** The Signal properties through the session API, one test each, as `session/tests.rs` checks them in Rust. */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CryptoError,
  type CryptoErrorKind,
  DEFAULT_SESSION_CONFIG,
  type EncryptedMessage,
  IdentityKeyPair,
  Session,
  decodeHeader,
  encodeHeader,
} from "../src/crypto/index.js";
import { assertCryptoError, bundleOf, device, open, read, respond, started, text } from "./support.js";

const bytes = (...values: number[]) => Uint8Array.from(values);

test("both sides derive the same keys over several turns, with and without a one-time prekey", () => {
  for (const withOneTime of [true, false]) {
    const alice = IdentityKeyPair.generate();
    const bob = device(withOneTime);
    const aliceSession = Session.initiate(alice, bundleOf(bob));
    const { session: bobSession, plaintext } = respond(bob, aliceSession.encrypt(text("hi bob")));
    assert.equal(read(plaintext), "hi bob");
    assert.deepEqual(bobSession.remoteIdentity, alice.publicKey);
    assert.deepEqual(aliceSession.remoteIdentity, bob.identity.publicKey);
    for (let turn = 0; turn < 4; turn++) {
      for (let n = 0; n < 3; n++) {
        assert.deepEqual(open(aliceSession, bobSession.encrypt(bytes(turn, n, 1))), bytes(turn, n, 1));
      }
      for (let n = 0; n < 3; n++) {
        assert.deepEqual(open(bobSession, aliceSession.encrypt(bytes(turn, n, 2))), bytes(turn, n, 2));
      }
    }
  }
});

test("ciphertexts hide the plaintext, differ per message and add a 16-byte tag", () => {
  const { alice } = started();
  const one = alice.encrypt(text("same text"));
  const two = alice.encrypt(text("same text"));
  assert.notDeepEqual(one.ciphertext, two.ciphertext);
  assert.equal(one.ciphertext.length, "same text".length + 16);
  assert.ok(!Buffer.from(one.ciphertext).includes(Buffer.from("same text")));
});

test("messages out of order, within a chain and across a ratchet step", () => {
  const { alice, bob } = started();
  const sent = [0, 1, 2, 3, 4].map((n) => alice.encrypt(bytes(n)));
  for (const n of [3, 0, 4, 2, 1]) assert.deepEqual(open(bob, sent[n]!), bytes(n));
  assert.equal(bob.skippedMessageKeys, 0);

  const old = [10, 11, 12].map((n) => alice.encrypt(bytes(n)));
  assert.deepEqual(open(bob, old[0]!), bytes(10));
  assert.equal(read(open(alice, bob.encrypt(text("turn")))), "turn");
  assert.equal(read(open(bob, alice.encrypt(text("new chain")))), "new chain");
  assert.equal(bob.skippedMessageKeys, 2);
  assert.deepEqual(open(bob, old[2]!), bytes(12));
  assert.deepEqual(open(bob, old[1]!), bytes(11));
  assert.equal(bob.skippedMessageKeys, 0);
});

test("lost messages leave skipped keys and the conversation carries on", () => {
  const { alice, bob } = started();
  const sent = [0, 1, 2, 3, 4, 5].map((n) => alice.encrypt(bytes(n)));
  for (const n of [0, 2, 3, 5]) assert.deepEqual(open(bob, sent[n]!), bytes(n));
  assert.equal(bob.skippedMessageKeys, 2);
  assert.equal(read(open(alice, bob.encrypt(text("still here")))), "still here");
  assert.equal(read(open(bob, alice.encrypt(text("good")))), "good");
});

test("the first message may be lost: every message carries the X3DH fields until a reply", () => {
  const alice = IdentityKeyPair.generate();
  const bob = device();
  const session = Session.initiate(alice, bundleOf(bob));
  const lost = session.encrypt(text("lost"));
  const second = session.encrypt(text("second"));
  const { session: bobSession, plaintext } = respond(bob, second);
  assert.equal(read(plaintext), "second");
  const prekey = decodeHeader(lost.header).prekey;
  assert.ok(prekey !== undefined && bobSession.startedBy(prekey));
  assert.equal(read(open(bobSession, lost)), "lost");
});

test("the X3DH fields stop once the initiator hears back", () => {
  const { alice, bob } = started();
  assert.ok(alice.awaitingReply);
  const before = alice.encrypt(text("a"));
  assert.ok(decodeHeader(before.header).prekey !== undefined);
  open(bob, before);
  const reply = bob.encrypt(text("b"));
  assert.equal(decodeHeader(reply.header).prekey, undefined);
  open(alice, reply);
  assert.ok(!alice.awaitingReply);
  assert.equal(alice.encrypt(text("c")).header.length, 42);
});

test("replays are refused, also from skipped keys and from an earlier chain", () => {
  const { alice, bob } = started();
  const [one, two, three] = ["one", "two", "three"].map((t) => alice.encrypt(text(t))) as [
    EncryptedMessage,
    EncryptedMessage,
    EncryptedMessage,
  ];
  assert.equal(read(open(bob, one)), "one");
  assertCryptoError(() => open(bob, one), "DuplicateMessage");
  assert.equal(read(open(bob, three)), "three");
  assert.equal(read(open(bob, two)), "two");
  assertCryptoError(() => open(bob, two), "DuplicateMessage");
  assertCryptoError(() => open(bob, three), "DuplicateMessage");

  const reply = bob.encrypt(text("reply"));
  open(alice, reply);
  assert.equal(read(open(bob, alice.encrypt(text("four")))), "four");
  assertCryptoError(() => open(bob, one), "DuplicateMessage");
  assertCryptoError(() => open(alice, reply), "DuplicateMessage");
  assert.equal(read(open(bob, alice.encrypt(text("five")))), "five");
});

test("a tampered ciphertext is refused and changes nothing", () => {
  const { alice, bob } = started();
  const message = alice.encrypt(text("pay 10"));
  const before = JSON.stringify(bob);
  for (const index of [0, message.ciphertext.length - 1]) {
    const ciphertext = message.ciphertext.slice();
    ciphertext[index]! ^= 0x01;
    assertCryptoError(() => bob.decrypt(message.header, ciphertext), "DecryptionFailed");
  }
  assertCryptoError(() => bob.decrypt(message.header, message.ciphertext.subarray(0, 10)), "DecryptionFailed");
  assertCryptoError(() => bob.decrypt(message.header, new Uint8Array()), "DecryptionFailed");
  assert.equal(JSON.stringify(bob), before);
  assert.equal(read(open(bob, message)), "pay 10");
});

/** What flipping a header bit may be refused as, before or at authentication. */
const HEADER_TAMPERING: readonly CryptoErrorKind[] = ["DecryptionFailed", "WeakKey", "TooManySkippedMessages"];

test("every byte of the header is authenticated", () => {
  const { alice, bob } = started();
  open(alice, bob.encrypt(text("turn")));
  const message = alice.encrypt(text("pay 10"));
  assert.equal(message.header.length, 42);
  for (let index = 2; index < 42; index++) {
    const header = message.header.slice();
    header[index]! ^= 0x01;
    assert.throws(
      () => bob.decrypt(header, message.ciphertext),
      (error) => error instanceof CryptoError && HEADER_TAMPERING.includes(error.kind),
      `byte ${index}`,
    );
  }
  const version = message.header.slice();
  version[0] = 9;
  assertCryptoError(() => bob.decrypt(version, message.ciphertext), "UnsupportedVersion", { version: 9 });
  assert.equal(bob.skippedMessageKeys, 0);
  assert.equal(read(open(bob, message)), "pay 10");
});

test("a tampered initial header starts no session", () => {
  const bob = device();
  const first = Session.initiate(IdentityKeyPair.generate(), bundleOf(bob)).encrypt(text("hello"));
  const claimed = first.header.slice();
  claimed.set(IdentityKeyPair.generate().publicKey, 42);
  assertCryptoError(() => respond(bob, { ...first, header: claimed }), "DecryptionFailed");
  const base = first.header.slice();
  base[80]! ^= 0x01;
  assert.throws(() => respond(bob, { ...first, header: base }));
  assert.equal(read(respond(bob, first).plaintext), "hello");
});

test("a device answering with another identity cannot read the message", () => {
  const bob = device(false);
  const first = Session.initiate(IdentityKeyPair.generate(), bundleOf(bob)).encrypt(text("for bob only"));
  const impostor = IdentityKeyPair.generate();
  assertCryptoError(
    () => Session.respond(impostor, bob.signed, undefined, first.header, first.ciphertext),
    "DecryptionFailed",
  );
});

test("post-compromise: a copy of the state stops working once a fresh ratchet key is in use", () => {
  const { alice, bob } = started();
  open(alice, bob.encrypt(text("b0")));
  open(bob, alice.encrypt(text("a1")));
  const eve = Session.fromJSON(JSON.parse(JSON.stringify(bob)));
  const a2 = alice.encrypt(text("a2"));
  assert.equal(read(open(bob, a2)), "a2");
  assert.equal(read(open(eve, a2)), "a2");
  open(alice, bob.encrypt(text("b1")));
  const a3 = alice.encrypt(text("a3"));
  assert.equal(read(open(bob, a3)), "a3");
  assert.equal(read(open(eve, a3)), "a3");
  open(alice, bob.encrypt(text("b2")));
  const a4 = alice.encrypt(text("a4"));
  assertCryptoError(() => open(eve, a4), "DecryptionFailed");
  assert.equal(read(open(bob, a4)), "a4");
});

test("skipping is bounded per step by MAX_SKIP", () => {
  const config = { ...DEFAULT_SESSION_CONFIG, maxSkip: 5 };
  const { alice, bob } = started(config);
  const sent = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => alice.encrypt(bytes(n)));
  // "hello" was message 0; message 7 would skip 1..=6, six keys.
  assertCryptoError(() => open(bob, sent[6]!), "TooManySkippedMessages", { skipped: 6, max: 5 });
  assert.deepEqual(open(bob, sent[5]!), bytes(5));
  assert.equal(bob.skippedMessageKeys, 5);
  assert.deepEqual(open(bob, sent[6]!), bytes(6));
});

test("the skipped-key store is bounded, oldest dropped first", () => {
  const config = { ...DEFAULT_SESSION_CONFIG, maxSkippedKeys: 3 };
  const { alice, bob } = started(config);
  const sent = [0, 1, 2, 3, 4, 5].map((n) => alice.encrypt(bytes(n)));
  assert.deepEqual(open(bob, sent[5]!), bytes(5));
  assert.equal(bob.skippedMessageKeys, 3);
  assertCryptoError(() => open(bob, sent[0]!), "DuplicateMessage");
  assertCryptoError(() => open(bob, sent[1]!), "DuplicateMessage");
  for (const n of [2, 3, 4]) assert.deepEqual(open(bob, sent[n]!), bytes(n));
});

test("a session survives JSON (and structured clone) with skipped keys outstanding", () => {
  const { alice: aliceBefore, bob: bobBefore } = started();
  const sent = [0, 1, 2].map((n) => aliceBefore.encrypt(bytes(n)));
  assert.deepEqual(open(bobBefore, sent[2]!), bytes(2));

  const alice = Session.fromJSON(JSON.parse(JSON.stringify(aliceBefore.toJSON())));
  const bob = Session.fromJSON(structuredClone(bobBefore.toJSON()));
  assert.deepEqual(bob.toJSON(), bobBefore.toJSON());
  assert.equal(bob.skippedMessageKeys, 2);
  assert.ok(alice.awaitingReply && alice.isInitiator && !bob.isInitiator);
  assert.deepEqual(open(bob, sent[0]!), bytes(0));
  assert.equal(read(open(alice, bob.encrypt(text("back")))), "back");
  assert.deepEqual(open(bob, sent[1]!), bytes(1));
  assert.equal(read(open(bob, alice.encrypt(text("json")))), "json");
});

test("stored state of any other shape is refused", () => {
  const { bob } = started();
  const json = bob.toJSON();
  assertCryptoError(() => Session.fromJSON("not a session"), "StateDecoding");
  assertCryptoError(() => Session.fromJSON({ ...json, format: 2 }), "StateDecoding");
  assertCryptoError(() => Session.fromJSON({ ...json, baseKey: "AAEC" }), "StateDecoding");
  assertCryptoError(() => Session.fromJSON({ ...json, ratchet: { ...json.ratchet, sent: -1 } }), "StateDecoding");
  assertCryptoError(() => Session.fromJSON({ ...json, ratchet: { ...json.ratchet, skipped: [{}] } }), "StateDecoding");
});

test("initial messages go to the right place", () => {
  const { alice, bob } = started();
  const { alice: other } = started();
  assertCryptoError(() => open(bob, other.encrypt(text("elsewhere"))), "SessionMismatch");
  open(alice, bob.encrypt(text("turn")));
  const plain = alice.encrypt(text("plain"));
  assertCryptoError(() => respond(device(false), plain), "NotAnInitialMessage");
  // The initiator's session never takes an initial message either.
  const foreignPreKey = decodeHeader(other.encrypt(text("x")).header).prekey;
  const initial = encodeHeader({ ...decodeHeader(plain.header), prekey: foreignPreKey });
  assertCryptoError(() => alice.decrypt(initial, plain.ciphertext), "SessionMismatch");
});

/** A small deterministic generator for the interleaving test (not for keys). */
function lcg(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % bound;
  };
}

test("any interleaving of sends and out-of-order deliveries decrypts to what was sent", () => {
  for (let seed = 1; seed <= 24; seed++) {
    const next = lcg(seed);
    const bobDevice = device();
    const alice = Session.initiate(IdentityKeyPair.generate(), bundleOf(bobDevice));
    let bob: Session | undefined;
    const toAlice: [string, EncryptedMessage][] = [];
    const toBob: [string, EncryptedMessage][] = [["first", alice.encrypt(text("first"))]];
    const deliverToBob = ([expected, message]: [string, EncryptedMessage]) => {
      if (bob === undefined) {
        const answered = respond(bobDevice, message);
        bob = answered.session;
        assert.equal(read(answered.plaintext), expected);
      } else {
        assert.equal(read(open(bob, message)), expected);
      }
    };
    for (let step = 0; step < 60; step++) {
      const label = `${seed}/${step}`;
      switch (next(4)) {
        case 0:
          toBob.push([`alice ${label}`, alice.encrypt(text(`alice ${label}`))]);
          break;
        case 1:
          if (bob !== undefined) toAlice.push([`bob ${label}`, bob.encrypt(text(`bob ${label}`))]);
          break;
        case 2:
          if (toAlice.length > 0) {
            const [expected, message] = toAlice.splice(next(toAlice.length), 1)[0]!;
            assert.equal(read(open(alice, message)), expected);
          }
          break;
        default:
          if (toBob.length > 0) deliverToBob(toBob.splice(next(toBob.length), 1)[0]!);
      }
    }
    for (let item = toBob.pop(); item !== undefined; item = toBob.pop()) deliverToBob(item);
    for (let item = toAlice.pop(); item !== undefined; item = toAlice.pop()) {
      assert.equal(read(open(alice, item[1])), item[0]);
    }
    assert.equal(alice.skippedMessageKeys, 0);
    assert.equal(bob?.skippedMessageKeys, 0);
  }
});
