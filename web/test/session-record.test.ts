/** Routing messages among the sessions with one peer device, as the Rust SDK's `SessionRecord` does. */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  type EncryptedMessage,
  IdentityKeyPair,
  KEPT_SESSIONS,
  OneTimePreKeyPair,
  type PreKeyStore,
  Session,
  SessionRecord,
  SignedPreKeyPair,
  decodeHeader,
  encodeHeader,
} from "../src/crypto/index.js";
import { assertCryptoError, read, text } from "./support.js";

/** A device with its prekey secrets, as a client keeps them. */
class Device implements PreKeyStore {
  readonly user = crypto.randomUUID();
  readonly id = crypto.randomUUID();
  readonly identity = IdentityKeyPair.generate();
  readonly signed = SignedPreKeyPair.generate(this.identity, 1);
  readonly oneTime = new Map(OneTimePreKeyPair.generateBatch(1, 5).map((key) => [key.id, key]));

  signedPreKey(id: number) {
    return id === this.signed.id ? this.signed : undefined;
  }

  oneTimePreKey(id: number) {
    return this.oneTime.get(id);
  }

  bundle(oneTimeId: number) {
    const oneTime = this.oneTime.get(oneTimeId);
    assert.ok(oneTime !== undefined);
    return {
      userId: this.user,
      deviceId: this.id,
      identityKey: this.identity.publicKey,
      signedPreKey: { keyId: this.signed.id, publicKey: this.signed.publicKey, signature: this.signed.signature },
      oneTimePreKey: { keyId: oneTime.id, publicKey: oneTime.publicKey },
      stale: false,
    };
  }

  /** Receives into `record`, deleting a one-time prekey once a session is made from it. */
  receive(record: SessionRecord, message: EncryptedMessage): string {
    const decrypted = record.decrypt(this.identity, this, message.header, message.ciphertext);
    assert.ok(decrypted !== undefined);
    if (decrypted.usedOneTimePreKeyId !== undefined) assert.ok(this.oneTime.delete(decrypted.usedOneTimePreKeyId));
    return read(decrypted.plaintext);
  }
}

function encrypt(record: SessionRecord, value: string): EncryptedMessage {
  const session = record.current;
  assert.ok(session !== undefined);
  return session.encrypt(text(value));
}

test("simultaneous initiators converge on one session", () => {
  const ann = new Device();
  const bob = new Device();
  const annHas = new SessionRecord(bob.user, bob.id);
  const bobHas = new SessionRecord(ann.user, ann.id);
  annHas.add(Session.initiate(ann.identity, bob.bundle(1)));
  bobHas.add(Session.initiate(bob.identity, ann.bundle(1)));
  const fromAnn = encrypt(annHas, "hi bob");
  const fromBob = encrypt(bobHas, "hi ann");
  assert.equal(bob.receive(bobHas, fromAnn), "hi bob");
  assert.equal(ann.receive(annHas, fromBob), "hi ann");
  assert.equal(bob.oneTimePreKey(1), undefined);
  for (let round = 0; round < 3; round++) {
    assert.equal(bob.receive(bobHas, encrypt(annHas, `ann ${round}`)), `ann ${round}`);
    assert.equal(ann.receive(annHas, encrypt(bobHas, `bob ${round}`)), `bob ${round}`);
  }
});

test("repeated initial messages reuse their session, also after storage", () => {
  const ann = new Device();
  const bob = new Device();
  const annHas = new SessionRecord(bob.user, bob.id);
  let bobHas = new SessionRecord(ann.user, ann.id);
  annHas.add(Session.initiate(ann.identity, bob.bundle(2)));
  for (let n = 0; n < 3; n++) {
    const message = encrypt(annHas, `unanswered ${n}`);
    assert.ok(decodeHeader(message.header).prekey !== undefined);
    assert.equal(bob.receive(bobHas, message), `unanswered ${n}`);
  }
  bobHas = SessionRecord.fromJSON(JSON.parse(JSON.stringify(bobHas)));
  assert.deepEqual(JSON.parse(JSON.stringify(bobHas)).sessions.length, 1);
  const reply = encrypt(bobHas, "reply");
  assert.equal(decodeHeader(reply.header).prekey, undefined);
  assert.equal(ann.receive(annHas, reply), "reply");
});

test("an unknown prekey is reported, and a message of no known session decrypts nowhere", () => {
  const ann = new Device();
  const bob = new Device();
  const bundle = bob.bundle(3);
  bob.oneTime.delete(3);
  const session = Session.initiate(ann.identity, bundle);
  const message = session.encrypt(text("x"));
  const record = new SessionRecord(ann.user, ann.id);
  assertCryptoError(() => record.decrypt(bob.identity, bob, message.header, message.ciphertext), "UnknownPreKey", {
    prekeyKind: "one-time",
    id: 3,
  });
  const later = session.encrypt(text("y"));
  const stripped = encodeHeader({ ...decodeHeader(later.header), prekey: undefined });
  assert.equal(record.decrypt(bob.identity, bob, stripped, later.ciphertext), undefined);
});

test("a record keeps a bounded number of sessions, newest first", () => {
  const ann = new Device();
  const bob = new Device();
  const record = new SessionRecord(bob.user, bob.id);
  const sessions = Array.from({ length: KEPT_SESSIONS + 2 }, () => Session.initiate(ann.identity, bob.bundle(1)));
  for (const session of sessions) record.add(session);
  assert.equal(record.current, sessions.at(-1));
  assert.equal(JSON.parse(JSON.stringify(record)).sessions.length, KEPT_SESSIONS);
  assertCryptoError(() => SessionRecord.fromJSON({ userId: 1 }), "StateDecoding");
});
