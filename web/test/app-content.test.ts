// The app's message contents and file encryption (src/app/model.ts, src/app/files.ts), without a node.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Api } from "../src/app/api.js";
import { downloadFile, uploadFile } from "../src/app/files.js";
import { decodeContent, encodeContent } from "../src/app/model.js";

test("a text is its UTF-8 bytes, as the CLI sends it", () => {
  const { plaintext, type } = encodeContent({ text: "héllo" });
  assert.equal(type, "text");
  assert.deepEqual(plaintext, new TextEncoder().encode("héllo"));
  assert.deepEqual(decodeContent(plaintext, "text"), { text: "héllo" });
});

test("a text that looks like a file reference stays a text unless the type says file", () => {
  const json = '{"parley_file":1,"id":"x","name":"n","type":"t","size":1,"key":"k","nonce":"n","sha256":"s"}';
  assert.deepEqual(decodeContent(new TextEncoder().encode(json), "text"), { text: json });
  assert.equal(decodeContent(new TextEncoder().encode(json), "file").file?.name, "n");
  assert.deepEqual(decodeContent(new TextEncoder().encode("not json"), "file"), { text: "not json" });
});

/** An `Api` that keeps uploads in memory. */
function fakeApi(): { api: Api; blobs: Map<string, Uint8Array> } {
  const blobs = new Map<string, Uint8Array>();
  const api = {
    async upload(_path: string, bytes: Uint8Array, query: Record<string, string>) {
      const id = `file-${blobs.size}`;
      blobs.set(id, bytes.slice());
      return { id, file_name: query.file_name, size: bytes.length, sha256: query.sha256 };
    },
    async download(path: string) {
      const [file, query] = path.replace("/files/", "").split("?");
      if (query !== "uploader_id=uploader") throw new Error(`the download names no uploader: ${path}`);
      const found = blobs.get(file ?? "");
      if (found === undefined) throw new Error("404");
      return found;
    },
  } as unknown as Api;
  return { api, blobs };
}

test("a file is encrypted before upload and decrypted after download", async () => {
  const { api, blobs } = fakeApi();
  const bytes = new TextEncoder().encode("the secret plans, in full");
  const ref = await uploadFile(api, "conversation", { name: "plans.txt", type: "text/plain", bytes });
  const blob = blobs.get(ref.id);
  assert.ok(blob !== undefined);
  assert.equal(blob.length, bytes.length + 16);
  assert.ok(!Buffer.from(blob).includes(Buffer.from("secret")));
  assert.equal(ref.name, "plans.txt");
  assert.equal(ref.size, bytes.length);
  const file = encodeContent({ file: ref });
  assert.equal(file.type, "file");
  assert.deepEqual(decodeContent(file.plaintext, "file").file, ref);
  assert.deepEqual(await downloadFile(api, ref, "uploader"), bytes);
  blob[0] = (blob[0] ?? 0) ^ 1;
  await assert.rejects(downloadFile(api, ref, "uploader"), /other bytes/);
});
