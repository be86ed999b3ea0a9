/**
 * The API's carriage of messages and keys, against JSON serialised by the Rust types themselves
 * (`test/vectors/wire.json`): the copy in `POST /v1/messages`, a `message:new` event, a REST
 * `Message`, prekey uploads and key bundles.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  IdentityKeyPair,
  OneTimePreKeyPair,
  Session,
  SignedPreKeyPair,
  fromDeviceCiphertext,
  fromHex,
  keyBundleToJson,
  parseKeyBundle,
  plaintextToText,
  readMessage,
  readMessageEvent,
  textToPlaintext,
  toDeviceCiphertext,
  toHex,
} from "../src/crypto/index.js";
import { assertCryptoError, readJson, repeated, scripted } from "./support.js";

interface Wire {
  plaintext_text: string;
  plaintext: string;
  header: string;
  ciphertext: string;
  device_ciphertext: unknown;
  send_message_request: { ciphertexts: unknown[] };
  message_new_event: Record<string, unknown>;
  rest_message: Record<string, unknown>;
  signed_prekey_upload: Record<string, unknown>;
  one_time_prekeys_upload: { keys: Record<string, unknown>[] };
}

const wire = readJson("test/vectors/wire.json") as Wire;
const conversations = readJson("test/vectors/conversations.json") as Record<string, { key_bundle: unknown }>;

const alice = IdentityKeyPair.fromSeed(repeated(0x11));
const bob = IdentityKeyPair.fromSeed(repeated(0x12));
const signed = SignedPreKeyPair.fromSecret(bob, 5, repeated(0x13));
const oneTime = OneTimePreKeyPair.fromSecret(9, repeated(0x14));
const message = { header: fromHex(wire.header), ciphertext: fromHex(wire.ciphertext) };

test("a text message's plaintext is its UTF-8 bytes, nothing more", () => {
  assert.equal(toHex(textToPlaintext(wire.plaintext_text)), wire.plaintext);
  assert.equal(plaintextToText(fromHex(wire.plaintext)), wire.plaintext_text);
  assert.equal(plaintextToText(Uint8Array.of(0xff, 0xfe)), undefined);
  assert.equal(plaintextToText(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41)), "\ufeffA");
});

test("the same keys and randomness give the message Rust sent, and its API copy field for field", () => {
  const bundle = parseKeyBundle(conversations["with_one_time_prekey"]?.key_bundle);
  const session = Session.initiate(alice, bundle, { random: scripted([repeated(0x15), repeated(0x16)]) });
  const sent = session.encrypt(textToPlaintext(wire.plaintext_text));
  assert.equal(toHex(sent.header), wire.header);
  assert.equal(toHex(sent.ciphertext), wire.ciphertext);
  const copy = toDeviceCiphertext(sent, "bdbdbdbd-bdbd-bdbd-bdbd-bdbdbdbdbdbd");
  assert.deepEqual(copy, wire.device_ciphertext);
  assert.deepEqual(copy, wire.send_message_request.ciphertexts[0]);
});

test("a copy, a message:new event and a REST message all give back the bytes Rust encrypted", () => {
  const fromCopy = fromDeviceCiphertext(wire.device_ciphertext);
  assert.equal(fromCopy.recipientDeviceId, "bdbdbdbd-bdbd-bdbd-bdbd-bdbdbdbdbdbd");
  assert.deepEqual(fromCopy.message, message);
  assert.deepEqual(readMessageEvent(wire.message_new_event), { encrypted: true, message });
  assert.deepEqual(readMessage(wire.rest_message), { encrypted: true, message });
  const { plaintext } = Session.respond(bob, signed, oneTime, message.header, message.ciphertext);
  assert.equal(plaintextToText(plaintext), wire.plaintext_text);
});

test("messages in the clear, without a copy, or without a header are told apart", () => {
  const clear = { ...wire.message_new_event, encrypted: false, content: "", header: null, body: "hi" };
  assert.deepEqual(readMessageEvent(clear), { encrypted: false, body: "hi" });
  assertCryptoError(() => readMessageEvent({ ...clear, body: null }), "InvalidEncoding");
  assertCryptoError(() => readMessageEvent({ ...wire.message_new_event, header: null }), "InvalidEncoding");
  const { encrypted: _, ...defaulted } = wire.message_new_event;
  assert.deepEqual(readMessageEvent(defaulted), { encrypted: true, message });
  assert.equal(readMessage({ ...wire.rest_message, ciphertext: null, header: null, is_deleted: true }), undefined);
  assert.deepEqual(readMessage({ ...wire.rest_message, encrypted: false, ciphertext: null, body: "x" }), {
    encrypted: false,
    body: "x",
  });
  const copy = { recipient_device_id: "d", ciphertext: "AA==", header: "AA==" };
  assertCryptoError(() => fromDeviceCiphertext({ ...copy, header: null }), "InvalidEncoding");
  assertCryptoError(() => fromDeviceCiphertext({ ...copy, ciphertext: "A" }), "InvalidEncoding");
});

test("prekey uploads carry the fields Rust's to_upload writes", () => {
  const { user_id, device_id, ...signedUpload } = wire.signed_prekey_upload;
  assert.equal(user_id, null);
  assert.equal(device_id, null);
  assert.deepEqual(signed.toUpload(), signedUpload);
  const { user_id: _u, device_id: _d, ...oneTimeUpload } = wire.one_time_prekeys_upload.keys[0] ?? {};
  assert.deepEqual(oneTime.toUpload(), oneTimeUpload);
});

test("key bundles parse from the node's JSON and serialise back to it", () => {
  for (const { key_bundle } of Object.values(conversations)) {
    const bundle = parseKeyBundle(key_bundle);
    assert.equal(bundle.stale, false);
    assert.deepEqual(keyBundleToJson(bundle), key_bundle);
  }
  const json = conversations["with_one_time_prekey"]?.key_bundle as Record<string, unknown>;
  assert.equal(parseKeyBundle({ ...json, stale: true, one_time_prekey: null }).stale, true);
  assertCryptoError(() => parseKeyBundle({ ...json, identity_key: "AAEC" }), "InvalidEncoding");
  assertCryptoError(() => parseKeyBundle({ ...json, signed_prekey: null }), "InvalidEncoding");
});

test("prekeys persist as their secrets and reload with the same public keys", () => {
  const reloadedSigned = SignedPreKeyPair.fromJSON(JSON.parse(JSON.stringify(signed)));
  assert.deepEqual(reloadedSigned.publicKey, signed.publicKey);
  assert.deepEqual(reloadedSigned.signature, signed.signature);
  const reloadedOneTime = OneTimePreKeyPair.fromJSON(JSON.parse(JSON.stringify(oneTime)));
  assert.deepEqual(reloadedOneTime.publicKey, oneTime.publicKey);
  assert.equal(reloadedOneTime.id, 9);
  assertCryptoError(() => OneTimePreKeyPair.fromJSON({ id: -1, secret: "" }), "StateDecoding");
});

test("a batch of one-time prekeys has consecutive ids and never wraps", () => {
  const batch = OneTimePreKeyPair.generateBatch(10, 5);
  assert.deepEqual(batch.map((key) => key.id), [10, 11, 12, 13, 14]);
  assert.notDeepEqual(batch[0]?.publicKey, batch[1]?.publicKey);
  assertCryptoError(() => OneTimePreKeyPair.generateBatch(0xffff_fffe, 3), "PreKeyIdOverflow");
  assert.equal(OneTimePreKeyPair.generateBatch(0xffff_fffe, 2).length, 2);
});
