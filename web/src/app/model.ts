/**
 * What this device keeps and reads: its history's records, the events the node pushes, and how a
 * message's plaintext carries text or a file. A text is its UTF-8 bytes, as the CLI and the Rust SDK
 * send it; a file (`message_type: "file"`) is a small JSON document naming the encrypted blob on the
 * node and the key that opens it, so only the conversation's devices can read the file.
 */

import { plaintextToText, textToPlaintext } from "../crypto/index.js";

export type DeliveryState = "sent" | "delivered" | "read";

/** A file shared in a message: where its ciphertext lies on the node and how to open it. */
export interface FileRef {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  /** The plaintext's size in bytes. */
  readonly size: number;
  /** AES-256-GCM key and nonce, base64. */
  readonly key: string;
  readonly nonce: string;
  /** Hex SHA-256 of the ciphertext blob (what the node checks on upload). */
  readonly sha256: string;
}

/** A message in this device's history. */
export interface StoredMessage {
  readonly id: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly senderDeviceId: string;
  readonly createdAt: string;
  readonly outgoing: boolean;
  readonly encrypted: boolean;
  /** `undefined` when the bytes are not UTF-8 text (or it is a file). */
  readonly text: string | undefined;
  readonly type?: string;
  readonly file?: FileRef;
  readonly replyTo?: string | null;
  readonly edited?: boolean;
  readonly deleted?: boolean;
  /** Emoji to the users who reacted with it. */
  readonly reactions?: Record<string, string[]>;
  /** How far this device's own message has got with the others. */
  readonly state?: DeliveryState;
}

/** A `message:new` or `message:updated` event (`MessageEvent` in `protocol/src/ws.rs`), the fields
 * this client reads. */
export interface MessageEvent {
  conversation_id: string;
  message_id: string;
  sender_id: string;
  sender_device_id: string;
  sequence_number: number;
  created_at: string;
  content: string;
  message_type?: string;
  encrypted?: boolean;
  body?: string | null;
  header?: string | null;
  reply_to?: string | null;
}

/** A message this device cannot read, with why; acknowledged anyway so the node stops replaying it. */
export class Undecryptable extends Error {
  override name = "Undecryptable";
}

/** What a message says: a text, or a file. */
export type Content = { text: string; file?: undefined } | { text?: undefined; file: FileRef };

export function encodeContent(content: Content): { plaintext: Uint8Array; type: string } {
  if (content.file !== undefined) {
    return { plaintext: textToPlaintext(JSON.stringify({ parley_file: 1, ...content.file })), type: "file" };
  }
  return { plaintext: textToPlaintext(content.text), type: "text" };
}

function isFileRef(value: unknown): value is FileRef {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ["id", "name", "type", "key", "nonce", "sha256"].every((name) => typeof v[name] === "string") &&
    typeof v.size === "number"
  );
}

/** The text or file of a decrypted plaintext of a message of `type`. */
export function decodeContent(plaintext: Uint8Array, type: string | undefined): { text?: string; file?: FileRef } {
  const text = plaintextToText(plaintext);
  if (type === "file" && text !== undefined) {
    try {
      const { id, name, type: mediaType, size, key, nonce, sha256 } = JSON.parse(text) as FileRef;
      const file = { id, name, type: mediaType, size, key, nonce, sha256 };
      if (isFileRef(file)) return { file };
    } catch {
      // Not a file reference after all: shown as its text.
    }
  }
  return { text };
}

/** A random UUID (v4) from the CSPRNG; `crypto.randomUUID` needs a secure context, this does not. */
export function randomUuid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
