/**
 * How an encrypted message travels through the API, exactly as the Rust SDK sends and reads it.
 *
 * Sending (`Client::send_message` in `client/src/client/send.rs`): the request body of
 * `POST /v1/messages` (`SendMessageRequest` in `protocol/src/api/messages.rs`) holds one
 * `DeviceCiphertext` per recipient device, made by `EncryptedMessage::into_device_ciphertext`
 * (`protocol/src/crypto/session.rs`):
 *
 * ```json
 * { "recipient_device_id": "<uuid>", "ciphertext": "<base64>", "header": "<base64>" }
 * ```
 *
 * `ciphertext` and `header` are the raw bytes of `EncryptedMessage`, in padded standard base64. The
 * request around them carries `conversation_id`, `message_type` (`"text"` for the SDK's `send`) and a
 * `client_message_id`; the SDK never sets `body`, `reply_to` or `mentions` on an encrypted message.
 *
 * Receiving (`Client::receive` in `client/src/client/receive.rs`): a `message:new` WebSocket event
 * (`MessageEvent` in `protocol/src/ws.rs`) carries this device's copy as `content` and `header`; a
 * message read over REST (`Message`) carries it as `ciphertext` and `header`. Either has
 * `encrypted: false` and a `body` instead when its sender posted it in the clear.
 *
 * The plaintext has no structure: the SDK encrypts the message's bytes as given, and its CLI gives
 * the UTF-8 of the text typed (`client_command.rs`), with no padding, framing or metadata; a reader
 * shows it as text when it is valid UTF-8 (`StoredMessage::text` in `client/src/history.rs`).
 */

import { toBase64, utf8 } from "./encoding.js";
import { CryptoError } from "./error.js";
import { type JsonObject, base64Field, booleanField, isAbsent, object, stringField } from "./json.js";
import type { EncryptedMessage } from "./ratchet.js";

/** One recipient device's copy in `POST /v1/messages` (`DeviceCiphertext`). */
export interface DeviceCiphertextJson {
  readonly recipient_device_id: string;
  readonly ciphertext: string;
  /** `null` only from clients that do not use this protocol's ratchet; the SDK always sends one. */
  readonly header: string | null;
}

/** What a received message holds for this device. */
export type IncomingContent =
  | { readonly encrypted: true; readonly message: EncryptedMessage }
  | { readonly encrypted: false; readonly body: string };

/** The copy of `message` for `recipientDeviceId`, as `into_device_ciphertext` writes it. */
export function toDeviceCiphertext(message: EncryptedMessage, recipientDeviceId: string): DeviceCiphertextJson {
  return {
    recipient_device_id: recipientDeviceId,
    ciphertext: toBase64(message.ciphertext),
    header: toBase64(message.header),
  };
}

function missingHeader(): CryptoError {
  return new CryptoError({ kind: "InvalidEncoding", reason: "the encrypted copy has no ratchet header" });
}

function encryptedCopy(value: JsonObject, ciphertextField: string): EncryptedMessage {
  if (isAbsent(value, "header")) throw missingHeader();
  return { header: base64Field(value, "header"), ciphertext: base64Field(value, ciphertextField) };
}

/** Reads a `DeviceCiphertext` back: the recipient and the message it carries. */
export function fromDeviceCiphertext(json: unknown): { recipientDeviceId: string; message: EncryptedMessage } {
  const value = object(json, "a device ciphertext");
  return { recipientDeviceId: stringField(value, "recipient_device_id"), message: encryptedCopy(value, "ciphertext") };
}

/** `encrypted` defaults to true when absent, as serde reads it (`#[serde(default = "yes")]`). */
function isEncrypted(value: JsonObject): boolean {
  return isAbsent(value, "encrypted") || booleanField(value, "encrypted");
}

function inClear(value: JsonObject): IncomingContent {
  if (isAbsent(value, "body")) {
    throw new CryptoError({ kind: "InvalidEncoding", reason: "a message in the clear has no body" });
  }
  return { encrypted: false, body: stringField(value, "body") };
}

/** The content of a `message:new` (or `message:updated`) WebSocket event. */
export function readMessageEvent(json: unknown): IncomingContent {
  const value = object(json, "a message event");
  return isEncrypted(value) ? { encrypted: true, message: encryptedCopy(value, "content") } : inClear(value);
}

/**
 * The content of a `Message` from the REST API; `undefined` when it holds no copy for this device
 * (a deleted message, or one sent before this device existed).
 */
export function readMessage(json: unknown): IncomingContent | undefined {
  const value = object(json, "a message");
  if (!isEncrypted(value)) return isAbsent(value, "body") ? undefined : inClear(value);
  return isAbsent(value, "ciphertext") ? undefined : { encrypted: true, message: encryptedCopy(value, "ciphertext") };
}

/** The plaintext the SDK encrypts for a text message: the text's UTF-8 bytes, nothing more. */
export function textToPlaintext(text: string): Uint8Array {
  return utf8(text);
}

/** The text of a decrypted message, or `undefined` when its bytes are not valid UTF-8. */
export function plaintextToText(plaintext: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plaintext);
  } catch {
    return undefined;
  }
}
