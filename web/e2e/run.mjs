// The web app against real nodes in headless Chromium: `npm run e2e` (after `cargo build`, which makes
// ../target/debug/parley; set PARLEY_BIN for another binary, CHROMIUM for another browser). Each
// scenario prints its progress; screenshots of the main screens land in e2e/artifacts/ (and the
// README's picture in docs/images/). Exits non-zero on the first failure, and kills every process it
// started either way.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { pages, problems, shot } from "./browser.mjs";
import { voiceCall } from "./calls.mjs";
import { acrossNodes, startFederation } from "./federation.mjs";
import { browserAndCli, restart, twoBrowserUsers } from "./local.mjs";
import { groupWithCli, messageLife } from "./rich.mjs";
import { ARTIFACTS, CHROMIUM, WEB, assertNoPlaintext, cleanUp, log, startNode, stopNode, tempDir } from "./support.mjs";

async function main() {
  await mkdir(ARTIFACTS, { recursive: true });
  if (process.env.UPDATE_DOCS_SCREENSHOT === "1") await mkdir(join(WEB, "..", "docs", "images"), { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const texts = [];
  try {
    const federation = startFederation();
    federation.catch(() => undefined);
    let node = await startNode(await tempDir("node"));
    log("(a) two browser users");
    const users = await twoBrowserUsers(browser, node, texts);
    log("(b) a browser user and a CLI user");
    const carol = await browserAndCli(node, users.alice, texts);
    log("(c) marks, typing, a reply, a reaction, an edit, a delete, a file, the device list");
    await messageLife(node, users, texts);
    log("(d) a group of two browser users and a CLI user");
    await groupWithCli(users, carol, texts);
    log("(e) reconnecting after a node restart");
    node = await restart(browser, node, users, carol, texts);
    await stopNode(node);
    await assertNoPlaintext(node.dataDir, texts, "alice");
    log("(f) across two federated nodes");
    const { a, b } = await federation;
    const federated = [];
    await acrossNodes(browser, { a, b }, federated);
    for (const each of [a, b]) await stopNode(each);
    await assertNoPlaintext(a.dataDir, federated, "dave");
    await assertNoPlaintext(b.dataDir, federated, "carol");
    log("(g) a voice call between two browsers");
    await voiceCall();
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
const started = Date.now();
try {
  await main();
  log(`all scenarios passed in ${Math.round((Date.now() - started) / 1000)} s; screenshots in e2e/artifacts/`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await cleanUp();
}
process.exit(failed ? 1 : 0);
