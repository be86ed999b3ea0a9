/** One message in a conversation: who and when, a quoted reply, its text or file, its reactions,
 * its delivered or read mark, and what can be done with it. */

import { h } from "../dom.js";
import type { StoredMessage } from "../model.js";
import { size, snippet, time } from "./format.js";

/** Quick reactions offered on every message. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂"];

export interface RowActions {
  reply(message: StoredMessage): void;
  react(message: StoredMessage, emoji: string): void;
  edit(message: StoredMessage): void;
  remove(message: StoredMessage): void;
  download(message: StoredMessage, button: HTMLButtonElement): void;
}

const STATE_TEXT = { sent: "Sent", delivered: "Delivered", read: "Read" } as const;

export function messageRow(
  message: StoredMessage,
  names: ReadonlyMap<string, string>,
  quoted: StoredMessage | undefined,
  myId: string,
  actions: RowActions,
): HTMLElement {
  const who = message.outgoing ? "You" : (names.get(message.senderId) ?? "someone");
  const meta = h(
    "p",
    { class: "meta" },
    `${who} · ${time(message.createdAt)}`,
    message.encrypted ? "" : " · not encrypted",
    message.edited && !message.deleted ? " · edited" : "",
  );
  if (message.outgoing && message.state !== undefined && !message.deleted) {
    meta.append(" · ", h("span", { class: "state", "data-state": message.state }, STATE_TEXT[message.state]));
  }
  const body: HTMLElement[] = [];
  if (message.replyTo) {
    const quotedWho = quoted === undefined ? "a message" : quoted.outgoing ? "You" : (names.get(quoted.senderId) ?? "someone");
    const quotedText = quoted === undefined ? "" : quoted.deleted ? "deleted" : (quoted.file?.name ?? snippet(quoted.text, 60));
    body.push(h("blockquote", { class: "quote" }, h("span", { class: "visually-hidden" }, "In reply to "), `${quotedWho}: ${quotedText}`));
  }
  if (message.deleted) {
    body.push(h("p", { class: "text deleted" }, "This message was deleted."));
  } else if (message.file !== undefined) {
    const file = message.file;
    const button = h(
      "button",
      { type: "button", class: "download", onclick: () => actions.download(message, button) },
      `Download ${file.name}`,
    );
    body.push(h("p", { class: "file" }, h("span", { "aria-hidden": "true" }, "📎 "), `${file.name} · ${size(file.size)}`), button);
  } else {
    body.push(h("p", { class: "text" }, message.text ?? "(content that is not text)"));
  }
  const reactions = Object.entries(message.reactions ?? {}).filter(([, users]) => users.length > 0);
  const chips =
    reactions.length === 0
      ? null
      : h(
          "ul",
          { class: "reactions", "aria-label": "Reactions" },
          ...reactions.map(([emoji, users]) =>
            h(
              "li",
              { class: users.includes(myId) ? "mine" : "", "data-emoji": emoji },
              `${emoji} ${users.length}`,
            ),
          ),
        );
  const tools = message.deleted
    ? null
    : h(
        "div",
        { class: "tools" },
        h("button", { type: "button", class: "tool", onclick: () => actions.reply(message) }, "Reply"),
        ...QUICK_REACTIONS.map((emoji) =>
          h(
            "button",
            {
              type: "button",
              class: "tool",
              "aria-label": `React ${emoji}`,
              "aria-pressed": String(message.reactions?.[emoji]?.includes(myId) ?? false),
              onclick: () => actions.react(message, emoji),
            },
            emoji,
          ),
        ),
        message.outgoing && message.file === undefined
          ? h("button", { type: "button", class: "tool", onclick: () => actions.edit(message) }, "Edit")
          : null,
        message.outgoing ? h("button", { type: "button", class: "tool", onclick: () => actions.remove(message) }, "Delete") : null,
      );
  return h(
    "li",
    { class: `msg ${message.outgoing ? "out" : "in"}${message.deleted ? " gone" : ""}`, "data-message-id": message.id },
    meta,
    ...body,
    chips,
    tools,
  );
}
