/**
 * Files, encrypted in the browser before they leave it: each file gets a fresh AES-256-GCM key and
 * nonce, the node stores and serves only the ciphertext (`POST /v1/files`, `GET /v1/files/{id}`), and
 * the key travels inside the end-to-end encrypted message that shares the file (see `model.ts`). The
 * node checks the blob's SHA-256 on upload; the reader checks it again before decrypting.
 */

import { gcm } from "@noble/ciphers/aes.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, toBase64, toHex } from "../crypto/index.js";
import type { Api, FileInfo } from "./api.js";
import type { FileRef } from "./model.js";

/** Encrypts `bytes` under a fresh key and uploads the ciphertext for the conversation's members. */
export async function uploadFile(
  api: Api,
  conversationId: string,
  file: { name: string; type: string; bytes: Uint8Array },
): Promise<FileRef> {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = gcm(key, nonce).encrypt(file.bytes);
  const digest = toHex(sha256(ciphertext));
  const stored = await api.upload<FileInfo>("/files", ciphertext, {
    // The name stays in the encrypted message; the node sees only an opaque blob.
    file_name: "encrypted.bin",
    content_type: "application/octet-stream",
    conversation_id: conversationId,
    sha256: digest,
  });
  return {
    id: stored.id,
    name: file.name,
    type: file.type || "application/octet-stream",
    size: file.bytes.length,
    key: toBase64(key),
    nonce: toBase64(nonce),
    sha256: digest,
  };
}

/**
 * Downloads a shared file's ciphertext, checks it is the one the message named, and decrypts it. The
 * file stays on its uploader's node (the message's sender's): naming the uploader lets this node fetch
 * it from there when that is another node.
 */
export async function downloadFile(api: Api, file: FileRef, uploaderId: string): Promise<Uint8Array> {
  const ciphertext = await api.download(`/files/${file.id}?uploader_id=${encodeURIComponent(uploaderId)}`);
  if (toHex(sha256(ciphertext)) !== file.sha256.toLowerCase()) {
    throw new Error("the node served other bytes than the ones shared");
  }
  return gcm(fromBase64(file.key), fromBase64(file.nonce)).decrypt(ciphertext);
}
