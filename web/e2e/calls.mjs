// (g) A voice call between two browsers through the node's signalling: a Chromium of its own with a
// fake microphone (a test tone) and the permission granted, pages opened with `?e2e` so the app
// exposes its RTCPeerConnection as `window.parleyCall`.
import { randomUUID } from "node:crypto";
import { chromium } from "playwright-core";
import { TIMEOUT, registerInBrowser, shot, startChat, user } from "./browser.mjs";
import { CHROMIUM, PASSWORD, log, startNode, stopNode, tempDir } from "./support.mjs";

export const CALL_BROWSER_ARGS = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

/** Resolves once `check` (run in the page) returns true, polling; fails after TIMEOUT with `what`. */
async function until(page, what, check, arg) {
  const deadline = Date.now() + TIMEOUT;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(check, arg);
    if (last === true) return;
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function inboundAudioPackets(page) {
  return page.evaluate(async () => {
    const peer = window.parleyCall?.peer();
    if (peer === undefined) return -1;
    let packets = 0;
    for (const report of (await peer.getStats()).values()) {
      if (report.type === "inbound-rtp" && report.kind === "audio") packets += report.packetsReceived ?? 0;
    }
    return packets;
  });
}

const tokens = new Map();

/** The node's record of a call, read over REST by `username` (signed in once, as another device). */
async function callRecord(node, username, id) {
  if (!tokens.has(username)) {
    const login = await fetch(new URL("/v1/auth/login", node.url), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ identity: username, password: PASSWORD, device_id: randomUUID(), device_name: "e2e check", device_type: "other" }),
    }).then((response) => response.json());
    if (!login.success) throw new Error(`login failed: ${JSON.stringify(login)}`);
    tokens.set(username, login.data.access_token);
  }
  const got = await fetch(new URL(`/v1/calls/${id}`, node.url), {
    headers: { Authorization: `Bearer ${tokens.get(username)}` },
  }).then((response) => response.json());
  if (!got.success) throw new Error(`GET /v1/calls/${id} failed: ${JSON.stringify(got)}`);
  return got.data;
}

export async function voiceCall() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CALL_BROWSER_ARGS });
  const node = await startNode(await tempDir("calls"));
  const opened = [];
  try {
    const options = { permissions: ["microphone"] };
    const alice = await user(browser, node, "call-alice", options, "/?e2e");
    const bob = await user(browser, node, "call-bob", options, "/?e2e");
    opened.push(alice, bob);
    await registerInBrowser({ ...alice, name: "alice" });
    await registerInBrowser({ ...bob, name: "bob" });
    await startChat(alice, "bob");

    await alice.page.getByRole("button", { name: "Call bob" }).click();
    await alice.page.locator('.call[data-phase="outgoing"]', { hasText: "Calling bob…" }).waitFor();
    log("alice calls bob");
    const ring = bob.page.locator('.call[data-phase="incoming"]', { hasText: "Incoming voice call from alice" });
    await ring.waitFor();
    const focused = await bob.page.evaluate(() => document.activeElement?.classList.contains("call") === true);
    if (!focused) throw new Error("the incoming-call banner did not take the focus");
    await shot(bob.page, "call-01-incoming");
    log("bob's browser rings, the banner has the focus");

    await ring.getByRole("button", { name: "Accept" }).click();
    for (const { page } of [alice, bob]) {
      await page.locator('.call[data-phase="connected"]').waitFor();
      await until(page, "connectionState connected", () => window.parleyCall?.peer()?.connectionState === "connected");
    }
    log("both peer connections are connected");
    const id = await alice.page.evaluate(() => window.parleyCall.id());
    for (const side of [alice, bob]) {
      const deadline = Date.now() + TIMEOUT;
      let packets = await inboundAudioPackets(side.page);
      while (!(packets > 0) && Date.now() < deadline) {
        await new Promise((done) => setTimeout(done, 250));
        packets = await inboundAudioPackets(side.page);
      }
      if (!(packets > 0)) throw new Error(`${side.name} received no audio packets`);
      log(`${side.name} received ${packets} audio packets`);
    }
    let record = await callRecord(node, "bob", id);
    for (let tries = 0; record.status !== "CONNECTED" && tries < 40; tries++) {
      await new Promise((done) => setTimeout(done, 250));
      record = await callRecord(node, "bob", id);
    }
    if (record.status !== "CONNECTED" || record.type !== "AUDIO") throw new Error(`the call is ${JSON.stringify(record)}`);
    log("the node's record says CONNECTED");

    // Mute: the track stops, and the other side hears of it from the node.
    await alice.page.getByRole("button", { name: "Mute" }).click();
    await alice.page.locator('.call button[data-action="mute"][aria-pressed="true"]').waitFor();
    await bob.page.locator(".call", { hasText: "alice is muted" }).waitFor();
    const trackOff = await alice.page.evaluate(() =>
      window.parleyCall.peer().getSenders().every((sender) => sender.track === null || sender.track.enabled === false),
    );
    if (!trackOff) throw new Error("alice's microphone track is still enabled while muted");
    log("alice muted; bob sees it");
    await shot(alice.page, "call-02-in-call");
    await shot(bob.page, "call-03-in-call-callee");

    await alice.page.getByRole("button", { name: "Hang up" }).click();
    for (const { page } of [alice, bob]) {
      await page.locator('.call[data-phase="ended"]', { hasText: "Call ended" }).waitFor();
      await until(page, "the peer connection closed", () => window.parleyCall?.peer()?.connectionState === "closed");
    }
    record = await callRecord(node, "alice", id);
    const alicesId = record.initiator_id;
    if (record.status !== "ENDED" || record.end_reason !== "COMPLETED" || record.ended_by !== alicesId) {
      throw new Error(`after hanging up the call is ${JSON.stringify(record)}`);
    }
    if (record.participants.some((p) => p.status === "JOINED")) throw new Error(`someone is still in the call: ${JSON.stringify(record)}`);
    log(`alice hung up; both see the call ended, and the node's record says ENDED (COMPLETED, ${record.duration} s)`);
    await shot(bob.page, "call-04-ended");

    // Bob calls back from his side of the DM; alice declines.
    await bob.page.getByRole("button", { name: "Close" }).click();
    await alice.page.getByRole("button", { name: "Close" }).click();
    await startChat(bob, "alice");
    await bob.page.getByRole("button", { name: "Call alice" }).click();
    const again = alice.page.locator('.call[data-phase="incoming"]', { hasText: "Incoming voice call from bob" });
    await again.getByRole("button", { name: "Decline" }).click();
    await bob.page.locator('.call[data-phase="ended"]', { hasText: "Call declined" }).waitFor();
    const second = await bob.page.evaluate(() => window.parleyCall.id());
    record = await callRecord(node, "bob", second);
    if (record.status !== "ENDED" || record.end_reason !== "DECLINED" || second === id) {
      throw new Error(`after declining the call is ${JSON.stringify(record)}`);
    }
    log("bob called back; alice declined, bob sees it and the node's record says DECLINED");
  } catch (error) {
    for (const { name, page } of opened) await shot(page, `failure-${name}`).catch(() => undefined);
    throw error;
  } finally {
    await browser.close().catch(() => undefined);
    await stopNode(node);
  }
}
