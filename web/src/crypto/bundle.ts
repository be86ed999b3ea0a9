/**
 * The key bundle the node serves to start a session with one device (`GET /v1/encryption/bundles`,
 * `KeyBundle` in `protocol/src/api/keys.rs`). Binary values are standard base64 there, as in every
 * API body.
 */

import { toBase64 } from "./encoding.js";
import { base64Field, booleanField, isAbsent, object, objectField, stringField, u32Field } from "./json.js";

/** Everything needed to start an X3DH session with one device. */
export interface KeyBundle {
  readonly userId: string;
  readonly deviceId: string;
  /** Its Ed25519 identity key. */
  readonly identityKey: Uint8Array;
  readonly signedPreKey: {
    readonly keyId: number;
    readonly publicKey: Uint8Array;
    /** The identity key's signature over `publicKey`; checked before any secret is derived. */
    readonly signature: Uint8Array;
  };
  /** Absent when the device has no one-time prekey left: X3DH then runs without DH4. */
  readonly oneTimePreKey?: { readonly keyId: number; readonly publicKey: Uint8Array } | undefined;
  /**
   * True when the device's home node did not answer and this is the bundle last claimed from it
   * (without a one-time prekey; its signed prekey may have been rotated since).
   */
  readonly stale: boolean;
}

/** The `data` of a bundle response, as the node serialises it. */
export interface KeyBundleJson {
  readonly user_id: string;
  readonly device_id: string;
  readonly identity_key: string;
  readonly signed_prekey: { readonly key_id: number; readonly public_key: string; readonly signature: string };
  readonly one_time_prekey: { readonly key_id: number; readonly public_key: string } | null;
  /** Written only when true. */
  readonly stale?: boolean;
}

/** Reads a bundle from the API, checking every field's shape and length. */
export function parseKeyBundle(json: unknown): KeyBundle {
  const value = object(json, "a key bundle");
  const signed = objectField(value, "signed_prekey");
  let oneTimePreKey: KeyBundle["oneTimePreKey"];
  if (!isAbsent(value, "one_time_prekey")) {
    const oneTime = objectField(value, "one_time_prekey");
    oneTimePreKey = { keyId: u32Field(oneTime, "key_id"), publicKey: base64Field(oneTime, "public_key", 32) };
  }
  return {
    userId: stringField(value, "user_id"),
    deviceId: stringField(value, "device_id"),
    identityKey: base64Field(value, "identity_key", 32),
    signedPreKey: {
      keyId: u32Field(signed, "key_id"),
      publicKey: base64Field(signed, "public_key", 32),
      signature: base64Field(signed, "signature", 64),
    },
    oneTimePreKey,
    stale: isAbsent(value, "stale") ? false : booleanField(value, "stale"),
  };
}

/** The JSON the node would serve for `bundle`. */
export function keyBundleToJson(bundle: KeyBundle): KeyBundleJson {
  const { signedPreKey, oneTimePreKey } = bundle;
  return {
    user_id: bundle.userId,
    device_id: bundle.deviceId,
    identity_key: toBase64(bundle.identityKey),
    signed_prekey: {
      key_id: signedPreKey.keyId,
      public_key: toBase64(signedPreKey.publicKey),
      signature: toBase64(signedPreKey.signature),
    },
    one_time_prekey:
      oneTimePreKey === undefined
        ? null
        : { key_id: oneTimePreKey.keyId, public_key: toBase64(oneTimePreKey.publicKey) },
    ...(bundle.stale ? { stale: true } : {}),
  };
}
