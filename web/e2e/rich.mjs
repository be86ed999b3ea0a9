// Between two browser users on one node: delivered and read marks, typing, a reply, a reaction, an
// edit, a delete, a file round trip and the device list; then a group with a CLI member, whose
// screen is the README's picture.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  backToList,
  createGroup,
  expectMessage,
  openChat,
  row,
  send,
  shot,
  tool,
} from "./browser.mjs";
import { WEB, assertBlobEncrypted, cli, log, marker } from "./support.mjs";

/** The README's picture, rewritten only when asked (`UPDATE_DOCS_SCREENSHOT=1 npm run e2e`), so a
 * plain run leaves the committed file alone. */
const DOCS_SHOT = process.env.UPDATE_DOCS_SCREENSHOT === "1" ? join(WEB, "..", "docs", "images", "web-client.png") : undefined;

async function compose({ page }, text) {
  const box = page.getByRole("textbox", { name: /^Message to / });
  await box.fill(text);
  await box.press("Enter");
}

/** (d) Everything one can do with a message, seen from the other side. */
export async function messageLife(node, { alice, bob }, texts) {
  await openChat(alice, "bob");
  const marked = marker("will bob read this?");
  texts.push(marked);
  await send(alice, marked);
  await row(alice.page, marked, "out").locator('.state[data-state="delivered"]').waitFor();
  log("alice sees her message delivered to bob's device (bob has not opened it)");
  await openChat(bob, "alice");
  await expectMessage(bob, marked);
  await row(alice.page, marked, "out").locator('.state[data-state="read"]').waitFor();
  log("alice sees that bob read it");

  await bob.page.getByRole("textbox", { name: /^Message to / }).fill("I am wri");
  await alice.page.locator(".typing", { hasText: "bob is typing…" }).waitFor();
  log("alice sees bob typing");

  await tool(bob, marked, "Reply");
  const reply = marker("yes, and this answers it");
  texts.push(reply);
  await send(bob, reply);
  await row(alice.page, reply, "in").locator("blockquote.quote", { hasText: "will bob read this?" }).waitFor();
  log("alice sees bob's reply quoting her message");

  await tool(alice, reply, "React 👍");
  await row(bob.page, reply, "out").locator('.reactions li[data-emoji="👍"]', { hasText: "1" }).waitFor();
  log("bob sees alice's reaction");

  const typo = marker("a mesage with a typo");
  texts.push(typo);
  await send(alice, typo);
  await expectMessage(bob, typo);
  await tool(alice, typo, "Edit");
  const fixed = marker("a message, edited");
  texts.push(fixed);
  await compose(alice, fixed);
  await row(alice.page, fixed, "out").waitFor();
  await row(bob.page, fixed, "in").locator(".meta", { hasText: "edited" }).waitFor();
  log("bob sees alice's edit (new ciphertexts for each device)");

  const oops = marker("sent by mistake");
  texts.push(oops);
  await send(alice, oops);
  await expectMessage(bob, oops);
  const id = await row(alice.page, oops, "out").getAttribute("data-message-id");
  await tool(alice, oops, "Delete");
  await bob.page.locator(`li[data-message-id="${id}"] .deleted`).waitFor();
  if ((await bob.page.locator(`li[data-message-id="${id}"]`).textContent()).includes("sent by mistake")) {
    throw new Error("bob still shows the deleted text");
  }
  log("bob sees alice's message deleted");

  const hex = marker("x").split("marker-")[1];
  const name = `plans-marker-${hex}.txt`;
  const contents = marker("the file's secret contents, only for bob");
  texts.push(name, contents);
  await alice.page.setInputFiles("#attach", { name, mimeType: "text/plain", buffer: Buffer.from(contents) });
  await alice.page.locator("ol.messages li.out .file", { hasText: name }).waitFor();
  const button = bob.page.locator("ol.messages li.in").getByRole("button", { name: `Download ${name}` });
  const [download] = await Promise.all([bob.page.waitForEvent("download"), button.click()]);
  const got = await readFile(await download.path(), "utf8");
  if (got !== contents || download.suggestedFilename() !== name) {
    throw new Error(`bob downloaded ${download.suggestedFilename()}: ${JSON.stringify(got)}`);
  }
  log("bob downloaded and decrypted alice's file: the same bytes");
  await assertBlobEncrypted(node.dataDir, contents);
  await shot(bob.page, "09-phone-message-life");

  await alice.page.getByRole("button", { name: "Safety numbers" }).click();
  await alice.page.locator("#safety .person", { hasText: "bob" }).locator(".number").waitFor();
  await alice.page.locator("#safety").getByRole("button", { name: "Mark as verified" }).first().click();
  await alice.page.locator("#safety").getByRole("button", { name: /^Verified/ }).waitFor();
  await shot(alice.page, "10-devices");
  await alice.page.getByRole("button", { name: "Safety numbers" }).click();
  log("alice marked bob's device verified in the device list");
  await backToList(bob);
}

/** (e) A group of two browser users and a CLI user on one node; the README's screenshot. */
export async function groupWithCli({ alice, bob }, carol, texts) {
  const subject = "Weekend plans";
  await createGroup(alice, subject, ["bob", "carol"]);
  await alice.page.locator("#chat-members", { hasText: "3 members" }).waitFor();
  const first = "Saturday hike? Meet at 9 at the station";
  texts.push(first);
  await send(alice, first);
  await openChat(bob, subject);
  await expectMessage(bob, first);
  const heard = await cli(["listen", "--json", "--profile", carol, "--count", "1"]);
  const message = heard.find((line) => line.event === "message");
  if (message?.text !== first) throw new Error(`the CLI heard ${JSON.stringify(heard)}`);
  const conversation = message.conversation_id;
  log(`carol's CLI read the group message (conversation ${conversation})`);
  const fromCli = "Count me in, I'll bring snacks 🥪";
  texts.push(fromCli);
  const [sent] = await cli(["send", "--json", "--profile", carol, conversation, fromCli]);
  if (sent.event !== "sent") throw new Error(`the CLI sent ${JSON.stringify(sent)}`);
  await expectMessage(alice, fromCli);
  await expectMessage(bob, fromCli);
  log("alice and bob read carol's group message from the CLI");
  await tool(bob, first, "Reply");
  const reply = "Great idea! 9 works for me";
  texts.push(reply);
  await send(bob, reply);
  await row(alice.page, reply, "in").locator("blockquote.quote").waitFor();
  await tool(alice, fromCli, "React ❤️");
  await tool(bob, fromCli, "React ❤️");
  await tool(alice, reply, "React 👍");
  await row(alice.page, fromCli, "in").locator('.reactions li[data-emoji="❤️"]', { hasText: "2" }).waitFor();
  const heardMore = await cli(["listen", "--json", "--profile", carol, "--count", "1"]);
  if (heardMore.find((line) => line.event === "message")?.text !== reply) {
    throw new Error(`the CLI heard ${JSON.stringify(heardMore)}`);
  }
  log("carol's CLI read bob's reply in the group");
  const last = "Perfect, see you all on Saturday!";
  texts.push(last);
  await send(alice, last);
  await expectMessage(bob, last);
  await alice.page.mouse.move(0, 0);
  await shot(alice.page, "11-group");
  if (DOCS_SHOT !== undefined) {
    await shot(alice.page, "", DOCS_SHOT);
    log(`the README's screenshot is ${DOCS_SHOT}`);
  }
  await backToList(bob);
}
