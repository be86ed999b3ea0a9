// The scenarios on one node: two browser users, a browser user and a CLI user, and a node restart.
import { join } from "node:path";
import {
  PHONE,
  expectMessage,
  expectUnread,
  openChat,
  registerInBrowser,
  safetyNumber,
  send,
  shot,
  startChat,
  user,
  waitOnline,
} from "./browser.mjs";
import { PASSWORD, cli, log, marker, startNode, stopNode, tempDir } from "./support.mjs";

/** (a) Two browser users register and chat both ways; their safety numbers agree. */
export async function twoBrowserUsers(browser, node, texts) {
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
export async function browserAndCli(node, alice, texts) {
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
export async function restart(browser, node, { alice, bob }, carol, texts) {
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
  await alice.page.locator("#chat-members", { hasText: "offline" }).waitFor();
  log("alice sees bob offline");
  const meanwhile = marker("sent while bob was away");
  texts.push(meanwhile);
  await send(alice, meanwhile);
  const fromCli = marker("carol writes to bob while he is away");
  texts.push(fromCli);
  await cli(["send", "--json", "--profile", carol, "bob", fromCli]);
  await bob.context.setOffline(false);
  await waitOnline(bob.page);
  await alice.page.locator("#chat-members", { hasText: /^online$/ }).waitFor();
  log("alice sees bob back online");
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
