// Browser-side helpers of the e2e run: a user is a browser context of its own (its own IndexedDB)
// with one page on a node; the helpers drive the app as a person would, by role and label.
import { join } from "node:path";
import { ARTIFACTS, PASSWORD, log } from "./support.mjs";

export const TIMEOUT = 20_000;
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
/** What the pages reported that fails the run: CSP violations, page errors, requests off the node. */
export const problems = [];
/** Every page opened, to photograph and describe when a scenario fails. */
export const pages = [];

/** A browser user: a context of its own (so its own IndexedDB) and a page on the node (at `path`). */
export async function user(browser, node, name, options = {}, path = "/") {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
  page.on("console", (message) => {
    const text = message.text();
    if (/Content.Security.Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
  });
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(node.url) && !url.startsWith(`ws://${node.address}`) && !url.startsWith("blob:")) {
      problems.push(`${name}: a request off the node: ${url}`);
    }
  });
  await page.goto(new URL(path, node.url).href);
  pages.push({ name, page });
  return { name, context, page };
}

export async function shot(page, file, path = join(ARTIFACTS, `${file}.png`)) {
  await page.screenshot({ path, fullPage: false });
}

export async function waitOnline(page) {
  await page.locator('.status[data-state="online"]').waitFor();
}

export async function registerInBrowser({ page, name }) {
  await page.getByRole("button", { name: "Create one" }).click();
  await page.getByLabel("Username", { exact: true }).fill(name);
  await page.getByLabel("Email").fill(`${name}@example.org`);
  await page.getByLabel("Password (at least 8 characters)").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
  await waitOnline(page);
  log(`${name} registered in the browser and is online`);
}

export async function startChat({ page }, handle, title = handle) {
  await page.getByLabel("Start a chat with").fill(handle);
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.getByRole("heading", { name: title, level: 2 }).waitFor();
}

export async function createGroup({ page, name }, subject, members) {
  await page.getByText("New group").click();
  await page.getByLabel("Group name").fill(subject);
  await page.getByLabel("Members (comma-separated)").fill(members.join(", "));
  await page.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("heading", { name: subject, level: 2 }).waitFor();
  log(`${name} created the group ${JSON.stringify(subject)} with ${members.join(", ")}`);
}

export async function openChat({ page }, title) {
  await page.getByRole("navigation").getByRole("button", { name: new RegExp(`^${title}`) }).click();
  await page.getByRole("heading", { name: title, level: 2 }).waitFor();
}

export async function backToList({ page }) {
  const back = page.getByRole("button", { name: "Conversations" });
  if (await back.isVisible()) await back.click();
}

/** The row of a message whose own text (not a quote of it) holds `text`; `dir` is `in` or `out`. */
export function row(page, text, dir = "") {
  return page.locator(`ol.messages li.msg${dir ? `.${dir}` : ""}`).filter({ has: page.locator("p.text", { hasText: text }) });
}

export async function send({ page, name }, text) {
  const box = page.getByRole("textbox", { name: /^Message to / });
  await box.fill(text);
  await box.press("Enter");
  await row(page, text, "out").waitFor();
  log(`${name} sent ${JSON.stringify(text)}`);
}

export async function expectMessage({ page, name }, text) {
  await row(page, text, "in").waitFor();
  log(`${name} shows ${JSON.stringify(text)}`);
}

export async function expectUnread({ page }, title, count) {
  await page
    .getByRole("navigation")
    .getByRole("button", { name: new RegExp(`^${title}`) })
    .locator(".badge", { hasText: String(count) })
    .waitFor();
}

export async function safetyNumber({ page }) {
  await page.getByRole("button", { name: "Safety numbers" }).click();
  const number = page.locator("#safety .number").first();
  await number.waitFor();
  return (await number.textContent()).trim();
}

/** Clicks one of a message's tools (Reply, Edit, Delete, `React 👍`). */
export async function tool({ page }, text, name) {
  const target = row(page, text);
  await target.hover();
  await target.getByRole("button", { name, exact: true }).click();
}
