/**
 * Whole conversations recorded from the Rust SDK's crypto (`test/vectors/conversations.json`): with
 * the same keys and randomness the web client sends byte-identical messages, and takes the Rust
 * messages out of order, across ratchet steps and from skipped keys, ending with the same state.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  type EncryptedMessage,
  IdentityKeyPair,
  OneTimePreKeyPair,
  Session,
  SignedPreKeyPair,
  fromHex,
  parseKeyBundle,
  toDeviceCiphertext,
  toHex,
} from "../src/crypto/index.js";
import { hexes, read, readJson, scripted, text } from "./support.js";

type Step =
  | { send: "alice" | "bob"; plaintext: string; header: string; ciphertext: string; device_ciphertext: unknown }
  | { deliver: number; to: "alice" | "bob"; random: string; plaintext: string; skipped_keys_after: number };

interface Conversation {
  alice_identity_seed: string;
  bob_identity_seed: string;
  bob_signed_prekey: { id: number; secret: string };
  bob_one_time_prekey: { id: number; secret: string } | null;
  key_bundle: unknown;
  initiate_random: string[];
  steps: Step[];
}

const conversations = readJson("test/vectors/conversations.json") as Record<string, Conversation>;

for (const [name, conversation] of Object.entries(conversations)) {
  test(`the recorded conversation ${name} replays byte for byte`, () => {
    const alice = IdentityKeyPair.fromSeed(fromHex(conversation.alice_identity_seed));
    const bob = IdentityKeyPair.fromSeed(fromHex(conversation.bob_identity_seed));
    const signed = SignedPreKeyPair.fromSecret(
      bob,
      conversation.bob_signed_prekey.id,
      fromHex(conversation.bob_signed_prekey.secret),
    );
    const oneTimeVector = conversation.bob_one_time_prekey;
    const oneTime = oneTimeVector && OneTimePreKeyPair.fromSecret(oneTimeVector.id, fromHex(oneTimeVector.secret));

    const bundle = parseKeyBundle(conversation.key_bundle);
    assert.deepEqual(bundle.identityKey, bob.publicKey);
    assert.deepEqual(bundle.signedPreKey.signature, signed.signature);
    assert.deepEqual(bundle.oneTimePreKey?.publicKey, oneTime?.publicKey);

    const sessions: { alice: Session; bob?: Session } = {
      alice: Session.initiate(alice, bundle, { random: scripted(hexes(conversation.initiate_random)) }),
    };
    const sent: EncryptedMessage[] = [];
    for (const step of conversation.steps) {
      if ("send" in step) {
        const session = sessions[step.send];
        assert.ok(session !== undefined);
        const message = session.encrypt(text(step.plaintext));
        assert.equal(toHex(message.header), step.header, `header of "${step.plaintext}"`);
        assert.equal(toHex(message.ciphertext), step.ciphertext, `ciphertext of "${step.plaintext}"`);
        assert.deepEqual(toDeviceCiphertext(message, "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee"), step.device_ciphertext);
        sent.push({ header: fromHex(step.header), ciphertext: fromHex(step.ciphertext) });
        continue;
      }
      const message = sent[step.deliver];
      assert.ok(message !== undefined);
      const random = scripted([fromHex(step.random)]);
      let plaintext: Uint8Array;
      const receiver = sessions[step.to];
      if (receiver === undefined) {
        const { header, ciphertext } = message;
        const answered = Session.respond(bob, signed, oneTime ?? undefined, header, ciphertext, { random });
        sessions.bob = answered.session;
        plaintext = answered.plaintext;
      } else {
        plaintext = receiver.decrypt(message.header, message.ciphertext, random);
      }
      assert.equal(read(plaintext), step.plaintext);
      assert.equal(sessions[step.to]?.skippedMessageKeys, step.skipped_keys_after, `after delivering ${step.deliver}`);
    }
    assert.ok(sessions.bob !== undefined);
  });
}
