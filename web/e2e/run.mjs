// The web app against real nodes in headless Chromium: `npm run e2e` (after `cargo build`, which makes
// ../target/debug/parley; set PARLEY_BIN for another binary, CHROMIUM for another browser). Each
// scenario prints its progress; screenshots of the main screens land in e2e/artifacts/. Exits
// non-zero on the first failure, and kills every process it started either way.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import {
  ARTIFACTS,
  CHROMIUM,
  PASSWORD,
  assertNoPlaintext,
  cleanUp,
  cli,
  log,
  marker,
  startNode,
  stopNode,
  tempDir,
} from "./support.mjs";

const TIMEOUT = 20_000;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const problems = [];
/** Every page opened, to photograph and describe when a scenario fails. */
const pages = [];

/** A browser user: a context of its own (so its own IndexedDB) and a page on the node. */
async function user(browser, node, name, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
  page.on("console", (message) => {
    const text = message.text();
    if (/Content.Security.Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(node.url) && !request.url().startsWith(`ws://${node.address}`)) {
      problems.push(`${name}: a request off the node: ${request.url()}`);
    }
  });
  await page.goto(node.url);
  pages.push({ name, page });
  return { name, context, page };
}

async function shot(page, file) {
  await page.screenshot({ path: join(ARTIFACTS, `${file}.png`), fullPage: false });
}

async function waitOnline(page) {
  await page.locator('.status[data-state="online"]').waitFor();
}

async function registerInBrowser({ page, name }) {
  await page.getByRole("button", { name: "Create one" }).click();
  await page.getByLabel("Username", { exact: true }).fill(name);
  await page.getByLabel("Email").fill(`${name}@example.org`);
  await page.getByLabel("Password (at least 8 characters)").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
  await waitOnline(page);
  log(`${name} registered in the browser and is online`);
}

async function startChat({ page }, handle, title = handle) {
  await page.getByLabel("Start a chat with").fill(handle);
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.getByRole("heading", { name: title, level: 2 }).waitFor();
}

async function openChat({ page }, title) {
  await page.getByRole("navigation").getByRole("button", { name: new RegExp(`^${title}`) }).click();
  await page.getByRole("heading", { name: title, level: 2 }).waitFor();
}

async function send({ page, name }, text) {
  const box = page.getByRole("textbox", { name: /^Message to / });
  await box.fill(text);
  await box.press("Enter");
  await page.locator("ol.messages li.out", { hasText: text }).waitFor();
  log(`${name} sent ${JSON.stringify(text)}`);
}

async function expectMessage({ page, name }, text) {
  await page.locator("ol.messages li.in", { hasText: text }).waitFor();
  log(`${name} shows ${JSON.stringify(text)}`);
}

async function expectUnread({ page }, title, count) {
  await page
    .getByRole("navigation")
    .getByRole("button", { name: new RegExp(`^${title}`) })
    .locator(".badge", { hasText: String(count) })
    .waitFor();
}

async function safetyNumber({ page }) {
  await page.getByRole("button", { name: "Safety numbers" }).click();
  const number = page.locator("#safety .number").first();
  await number.waitFor();
  return (await number.textContent()).trim();
}

// ---- scenarios ---------------------------------------------------------------------------------

/** (a) Two browser users register and chat both ways; their safety numbers agree. */
async function twoBrowserUsers(browser, node, texts) {
  const alice = await user(browser, node, "alice");
  await alice.page.getByRole("heading", { name: "Sign in" }).waitFor();
  await shot(alice.page, "01-sign-in");
  const bob = await user(browser, node, "bob", PHONE);
  await registerInBrowser(alice);
  await registerInBrowser(bob);
  await shot(alice.page, "02-empty-list");

  await startChat(alice, "bob");
  const hello = marker("hello bob, from alice's browser");
  texts.push(hello);
  await send(alice, hello);

  await expectUnread(bob, "alice", 1);
  await shot(bob.page, "03-phone-list-unread");
  await openChat(bob, "alice");
  await expectMessage(bob, hello);
  const reply = marker("hi alice, bob here");
  texts.push(reply);
  await send(bob, reply);
  await expectMessage(alice, reply);
  await shot(alice.page, "04-conversation");
  await shot(bob.page, "05-phone-conversation");

  const ofAlice = await safetyNumber(alice);
  const ofBob = await safetyNumber(bob);
  if (ofAlice !== ofBob || !/^(\d{5} ){11}\d{5}$/.test(ofAlice)) {
    throw new Error(`safety numbers differ or are malformed: ${ofAlice} / ${ofBob}`);
  }
  await shot(alice.page, "06-safety-numbers");
  await alice.page.getByRole("button", { name: "Safety numbers" }).click();
  await bob.page.getByRole("button", { name: "Safety numbers" }).click();
  log("alice and bob see the same safety number");

  // Back to the list on the phone, by keyboard.
  await bob.page.getByRole("button", { name: "Conversations" }).focus();
  await bob.page.keyboard.press("Enter");
  await bob.page.getByLabel("Start a chat with").waitFor();
  return { alice, bob };
}

/** (b) A browser user and a CLI user chat both ways. */
async function browserAndCli(node, alice, texts) {
  const carol = join(await tempDir("cli"), "carol");
  const [account] = await cli(["account", "register", "--json", "--profile", carol, "--server", node.url,
    "--username", "carol", "--email", "carol@example.org", "--password", PASSWORD]);
  if (account.event !== "account") throw new Error(`unexpected CLI output ${JSON.stringify(account)}`);
  log("carol registered with the CLI");

  await startChat(alice, "carol");
  const toCli = marker("hello carol, from the browser");
  texts.push(toCli);
  await send(alice, toCli);
  const heard = await cli(["listen", "--json", "--profile", carol, "--count", "1"]);
  const message = heard.find((line) => line.event === "message");
  if (message?.text !== toCli || message.sender_username !== "alice") {
    throw new Error(`the CLI heard ${JSON.stringify(heard)}`);
  }
  log("carol's CLI decrypted alice's message");

  const toBrowser = marker("hello alice, from the CLI");
  texts.push(toBrowser);
  const [sent] = await cli(["send", "--json", "--profile", carol, "alice", toBrowser]);
  if (sent.event !== "sent" || sent.recipient_devices !== 1) throw new Error(`the CLI sent ${JSON.stringify(sent)}`);
  await expectMessage(alice, toBrowser);
  await shot(alice.page, "07-chat-with-cli-user");
  return carol;
}

/** (c) The node restarts (same data dir and port): the browsers reconnect by themselves, and what was
 * sent while one of them was away is delivered when it is back. */
async function restart(browser, node, { alice, bob }, carol, texts) {
  await stopNode(node);
  await alice.page.locator('.status[data-state="offline"]').waitFor();
  await shot(alice.page, "08-offline");
  const again = await startNode(node.dataDir, node.address);
  await waitOnline(alice.page);
  await waitOnline(bob.page);
  log("both browsers reconnected to the restarted node");

  // Bob's connection drops (the browser goes offline); messages keep coming meanwhile.
  await bob.context.setOffline(true);
  await bob.page.locator('.status[data-state="offline"]').waitFor();
  log("bob is offline");
  await openChat(alice, "bob");
  const meanwhile = marker("sent while bob was away");
  texts.push(meanwhile);
  await send(alice, meanwhile);
  const fromCli = marker("carol writes to bob while he is away");
  texts.push(fromCli);
  await cli(["send", "--json", "--profile", carol, "bob", fromCli]);
  await bob.context.setOffline(false);
  await waitOnline(bob.page);
  await expectUnread(bob, "alice", 1);
  await expectUnread(bob, "carol", 1);
  await openChat(bob, "alice");
  await expectMessage(bob, meanwhile);
  await bob.page.getByRole("button", { name: "Conversations" }).click();
  await openChat(bob, "carol");
  await expectMessage(bob, fromCli);
  log("bob got what was sent while he was away");

  // A reload keeps the device: keys and history come back from IndexedDB.
  await bob.page.reload();
  await waitOnline(bob.page);
  await openChat(bob, "alice");
  await expectMessage(bob, meanwhile);
  const after = marker("bob after a reload");
  texts.push(after);
  await send(bob, after);
  await expectMessage(alice, after);
  log("bob's device survived a reload");
  return again;
}

async function main() {
  await mkdir(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const texts = [];
  try {
    let node = await startNode(await tempDir("node"));
    log("(a) two browser users");
    const users = await twoBrowserUsers(browser, node, texts);
    log("(b) a browser user and a CLI user");
    const carol = await browserAndCli(node, users.alice, texts);
    log("(c) reconnecting after a node restart");
    node = await restart(browser, node, users, carol, texts);
    await stopNode(node);
    await assertNoPlaintext(node.dataDir, texts, "alice");
    if (problems.length > 0) throw new Error(`the pages reported problems:\n${problems.join("\n")}`);
  } catch (error) {
    for (const { name, page } of pages) {
      await shot(page, `failure-${name}`).catch(() => undefined);
      const shown = await page.locator(".error, .status").allTextContents().catch(() => []);
      console.error(`${name} at failure: ${shown.filter((t) => t.trim() !== "").join(" | ")}`);
    }
    if (problems.length > 0) console.error(problems.join("\n"));
    throw error;
  } finally {
    await browser.close().catch(() => undefined);
  }
}

let failed = false;
try {
  await main();
  log("all scenarios passed; screenshots in e2e/artifacts/");
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await cleanUp();
}
process.exit(failed ? 1 : 0);
