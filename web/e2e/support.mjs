// Shared helpers of the browser tests: real `parley` processes (nodes and the CLI), each tracked so
// every one is killed when the run ends, pass or fail; a scan of a node's files for plaintext.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const PARLEY = resolve(WEB, process.env.PARLEY_BIN ?? "../target/debug/parley");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = join(WEB, "e2e", "artifacts");
export const PASSWORD = "correct horse battery";

const children = new Set();
const tempDirs = [];

export function log(...parts) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 19)}]`, ...parts);
}

/** A text with a unique marker, which the plaintext scan looks for. */
export function marker(label) {
  return `${label} marker-${randomBytes(6).toString("hex")}`;
}

export async function tempDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), `parley-e2e-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** Spawns a tracked `parley` process and resolves with the first stdout line `pick` finds a value in. */
function spawnUntil(args, what, pick) {
  const child = spawn(PARLEY, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const stderr = [];
  child.stderr.on("data", (chunk) => stderr.push(chunk));
  child.once("exit", () => children.delete(child));
  const found = new Promise((resolveFound, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`the ${what} did not start within 30 s`)), 30_000);
    lines.on("line", (line) => {
      const value = pick(line);
      if (value !== undefined) {
        clearTimeout(timer);
        resolveFound(value);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${what} exited (${code}) before serving: ${Buffer.concat(stderr).toString()}`));
    });
  });
  return found.then((value) => ({ child, value }));
}

/** Starts `parley node` on `http` (a fresh port by default) and resolves once it serves; with `name`
 * and `bootstrap`, a federated node (which first checks it joined, up to 10 s). */
export async function startNode(dataDir, http = "127.0.0.1:0", { name, bootstrap } = {}) {
  const args = ["node", "--http", http, "--p2p", "/ip4/127.0.0.1/udp/0/quic-v1", "--data-dir", dataDir];
  args.push("--rate-limits", "off", "--dev", "--log", "warn");
  if (name !== undefined) args.push("--name", name);
  if (bootstrap !== undefined) args.push("--bootstrap", bootstrap);
  const { child, value: url } = await spawnUntil(args, "node", (line) =>
    line.split(/\s+/).find((word) => /^https?:\/\//.test(word)),
  );
  log(`node ${name ?? ""} serving ${url} (data dir ${dataDir})`);
  return { child, url, dataDir, address: new URL(url).host, name };
}

/** Starts `parley bootstrap` on a fresh local QUIC port; resolves with its `--bootstrap` address. */
export async function startBootstrap(dir) {
  const args = ["bootstrap", "--key-file", join(dir, "bootstrap.key"), "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"];
  args.push("--log", "warn");
  const { child, value: address } = await spawnUntil(args, "bootstrap node", (line) =>
    line.trim().startsWith("--bootstrap ") ? line.trim().split(/\s+/)[1] : undefined,
  );
  log(`bootstrap node at ${address}`);
  return { child, address, url: address };
}

/** Stops a node gracefully (SIGTERM), killing it after 15 s. */
export async function stopNode(node) {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((done) => node.child.once("exit", done));
  node.child.kill("SIGTERM");
  const timer = setTimeout(() => node.child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
  log(`node ${node.url} stopped`);
}

/** Runs the CLI with `--json` output and returns its lines, parsed; fails on a non-zero exit. */
export async function cli(args, timeoutMs = 60_000) {
  const child = spawn(PARLEY, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const out = [];
  const err = [];
  child.stdout.on("data", (chunk) => out.push(chunk));
  child.stderr.on("data", (chunk) => err.push(chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise((done) => child.once("exit", (c, signal) => done(c ?? signal)));
  clearTimeout(timer);
  children.delete(child);
  const stdout = Buffer.concat(out).toString();
  if (code !== 0) {
    throw new Error(`parley ${args.join(" ")} exited with ${code}: ${Buffer.concat(err).toString()}${stdout}`);
  }
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

async function files(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await files(path)));
    else if (entry.isFile()) found.push({ path, bytes: await readFile(path) });
  }
  return found;
}

/** Asserts that no file of the node's data dir holds any plaintext's marker (as the Rust suite's
 * `assert_node_holds_no_plaintext`), after checking that the scan does read its records. */
export async function assertNoPlaintext(dataDir, texts, sanity) {
  const all = await files(dataDir);
  if (!all.some(({ bytes }) => bytes.includes(Buffer.from(sanity)))) {
    throw new Error(`the scan of ${dataDir} does not find ${sanity}: it reads nothing`);
  }
  for (const text of texts) {
    // The marker alone when there is one (a file name may be reworded by the node), else the whole text.
    const needle = Buffer.from(text.includes("marker-") ? text.slice(text.indexOf("marker-")) : text);
    for (const { path, bytes } of all) {
      if (bytes.includes(needle)) throw new Error(`${path} holds the plaintext ${JSON.stringify(text)}`);
    }
  }
  log(`no plaintext among ${all.length} files of ${dataDir} (${texts.length} texts checked)`);
}

/** Asserts that the node keeps a file's blob as ciphertext: a blob of the ciphertext's size (the
 * plaintext and AES-GCM's 16-byte tag) is in its files dir, and no blob holds the plaintext. */
export async function assertBlobEncrypted(dataDir, plaintext) {
  const blobs = await files(join(dataDir, "files"));
  const expected = Buffer.byteLength(plaintext) + 16;
  if (!blobs.some(({ bytes }) => bytes.length === expected)) {
    throw new Error(`no blob of ${expected} bytes among ${blobs.map((b) => b.bytes.length).join(", ")}`);
  }
  for (const { path, bytes } of blobs) {
    if (bytes.includes(Buffer.from(plaintext))) throw new Error(`the blob ${path} holds the file's plaintext`);
  }
  log(`the node keeps the file as ciphertext (${blobs.length} blobs checked)`);
}

/** Kills every process this run started and removes its temp dirs. */
export async function cleanUp() {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
