// Across two federated nodes: a browser user of node-a and a CLI user of node-b talk both ways in a
// DM (`carol@node-b`) and in a group with members on both nodes, created from the browser; a browser
// user of node-b downloads a file a browser user of node-a shared, which node-b fetches from node-a.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createGroup, expectMessage, openChat, registerInBrowser, send, shot, startChat, user } from "./browser.mjs";
import { PASSWORD, assertBlobEncrypted, cli, log, marker, startBootstrap, startNode, tempDir } from "./support.mjs";

/** Starts a bootstrap node and two named nodes that join through it. */
export async function startFederation() {
  const dir = await tempDir("federation");
  const bootstrap = await startBootstrap(dir);
  const [a, b] = await Promise.all([
    startNode(join(dir, "node-a"), undefined, { name: "node-a", bootstrap: bootstrap.address }),
    startNode(join(dir, "node-b"), undefined, { name: "node-b", bootstrap: bootstrap.address }),
  ]);
  return { bootstrap, a, b };
}

export async function acrossNodes(browser, { a, b }, texts) {
  const dave = await user(browser, a, "dave");
  await registerInBrowser(dave);
  const erin = await user(browser, a, "erin");
  await registerInBrowser(erin);
  const carol = join(await tempDir("cli-b"), "carol");
  await cli(["account", "register", "--json", "--profile", carol, "--server", b.url,
    "--username", "carol", "--email", "carol@example.org", "--password", PASSWORD]);
  log("carol registered with the CLI on node-b");

  await startChat(dave, "carol@node-b", "carol");
  const toCli = marker("hello carol on node-b, from dave's browser on node-a");
  texts.push(toCli);
  await send(dave, toCli);
  const heard = await cli(["listen", "--json", "--profile", carol, "--count", "1"]);
  const message = heard.find((line) => line.event === "message");
  if (message?.text !== toCli) throw new Error(`the CLI on node-b heard ${JSON.stringify(heard)}`);
  log("carol's CLI on node-b decrypted dave's DM");
  const toBrowser = marker("hello dave, from carol's CLI on node-b");
  texts.push(toBrowser);
  const [sent] = await cli(["send", "--json", "--profile", carol, "dave@node-a", toBrowser]);
  if (sent.event !== "sent") throw new Error(`the CLI sent ${JSON.stringify(sent)}`);
  await expectMessage(dave, toBrowser);
  log("dave's browser on node-a shows carol's DM from node-b");

  const subject = "Two nodes";
  await createGroup(dave, subject, ["erin", "carol@node-b"]);
  const toGroup = marker("hello group, from node-a's browser");
  texts.push(toGroup);
  await send(dave, toGroup);
  const heardGroup = await cli(["listen", "--json", "--profile", carol, "--count", "1"]);
  const groupMessage = heardGroup.find((line) => line.event === "message");
  if (groupMessage?.text !== toGroup) throw new Error(`the CLI on node-b heard ${JSON.stringify(heardGroup)}`);
  log(`carol's CLI on node-b read the group message (conversation ${groupMessage.conversation_id})`);
  const fromCli = marker("hello group, from node-b's CLI");
  texts.push(fromCli);
  await cli(["send", "--json", "--profile", carol, groupMessage.conversation_id, fromCli]);
  await expectMessage(dave, fromCli);
  await erin.page.getByRole("navigation").getByRole("button", { name: new RegExp(`^${subject}`) }).click();
  await expectMessage(erin, toGroup);
  await expectMessage(erin, fromCli);
  log("both browser members on node-a read the CLI's group message from node-b");
  await shot(dave.page, "12-federated-group");

  const fay = await user(browser, b, "fay");
  await registerInBrowser(fay);
  await startChat(dave, "fay@node-b", "fay");
  const name = `minutes-${marker("f").split("marker-")[1]}.txt`;
  const contents = marker("the minutes, for fay on the other node");
  texts.push(name, contents);
  await dave.page.setInputFiles("#attach", { name, mimeType: "text/plain", buffer: Buffer.from(contents) });
  await dave.page.locator("ol.messages li.out .file", { hasText: name }).waitFor();
  await openChat(fay, "dave");
  const button = fay.page.locator("ol.messages li.in").getByRole("button", { name: `Download ${name}` });
  const [download] = await Promise.all([fay.page.waitForEvent("download"), button.click()]);
  const got = await readFile(await download.path(), "utf8");
  if (got !== contents) throw new Error(`fay downloaded ${JSON.stringify(got)}`);
  log("fay on node-b downloaded and decrypted dave's file, which node-b fetched from node-a");
  await assertBlobEncrypted(b.dataDir, contents);
  return [dave, erin, fay];
}
