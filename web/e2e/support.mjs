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

/** Starts `parley node` on `http` (a fresh port by default) and resolves once it serves. */
export async function startNode(dataDir, http = "127.0.0.1:0") {
  const args = ["node", "--http", http, "--p2p", "/ip4/127.0.0.1/udp/0/quic-v1", "--data-dir", dataDir];
  args.push("--rate-limits", "off", "--dev", "--log", "warn");
  const child = spawn(PARLEY, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const stderr = [];
  child.stderr.on("data", (chunk) => stderr.push(chunk));
  child.once("exit", () => children.delete(child));
  const url = await new Promise((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("the node did not start within 30 s")), 30_000);
    lines.on("line", (line) => {
      const found = line.split(/\s+/).find((word) => /^https?:\/\//.test(word));
      if (found !== undefined) {
        clearTimeout(timer);
        resolveUrl(found);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the node exited (${code}) before serving: ${Buffer.concat(stderr).toString()}`));
    });
  });
  log(`node serving ${url} (data dir ${dataDir})`);
  return { child, url, dataDir, address: new URL(url).host };
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
    const needle = Buffer.from(text.slice(text.indexOf("marker-")));
    for (const { path, bytes } of all) {
      if (bytes.includes(needle)) throw new Error(`${path} holds the plaintext ${JSON.stringify(text)}`);
    }
  }
  log(`no plaintext among ${all.length} files of ${dataDir} (${texts.length} texts checked)`);
}

/** Kills every process this run started and removes its temp dirs. */
export async function cleanUp() {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
