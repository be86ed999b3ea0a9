/**
 * One open conversation: its header (name, members and who is online, the devices panel), the
 * messages, who is typing, and the composer (replies, edits, files).
 */

import type { ApiMessage, Participant } from "../api.js";
import { callsSupported } from "../calls.js";
import { h, replace } from "../dom.js";
import { downloadFile } from "../files.js";
import type { Messenger } from "../messenger.js";
import type { StoredMessage } from "../model.js";
import type { LiveSocket } from "../socket.js";
import { renderDevices } from "./devices.js";
import { describe, snippet, time } from "./format.js";
import { messageRow } from "./message-row.js";

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;

export interface ChatContext {
  readonly messenger: Messenger;
  readonly socket: LiveSocket;
  readonly online: Map<string, boolean>;
  /** Starts a voice call with the other participant of this DM. */
  call(peerId: string, peerName: string): Promise<void>;
  back(): void;
  /** Something this view did changed the list (a read mark). */
  changed(): void;
}

export class ChatView {
  #participants: Participant[] = [];
  #unreadable: ApiMessage[] = [];
  #mode: { kind: "reply" | "edit"; message: StoredMessage } | undefined;
  #typingSent = 0;
  #typingIdle: ReturnType<typeof setTimeout> | undefined;
  readonly #typists = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #log: HTMLOListElement;
  readonly #subtitle = h("p", { class: "subtitle", id: "chat-members" });
  readonly #typing = h("p", { class: "typing", "aria-live": "polite" });
  readonly #banner = h("div", { class: "banner", hidden: true });
  readonly #composer: HTMLTextAreaElement;
  readonly #error = h("p", { class: "error", id: "send-error", role: "alert" });
  readonly #panel = h("div", { class: "safety", id: "safety", hidden: true });

  constructor(
    readonly root: HTMLElement,
    readonly conversationId: string,
    readonly name: string,
    readonly group: boolean,
    private readonly context: ChatContext,
  ) {
    this.#log = h("ol", { class: "messages", role: "log", "aria-live": "polite", "aria-label": `Messages with ${name}` });
    this.#composer = h("textarea", {
      id: "composer",
      name: "text",
      rows: 2,
      placeholder: "Write a message",
      "aria-describedby": "composer-hint send-error",
    });
    this.#composer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#composer.form?.requestSubmit();
      }
      if (event.key === "Escape" && this.#mode !== undefined) this.#setMode(undefined);
    });
    this.#composer.addEventListener("input", () => this.#typed());
  }

  get #messenger(): Messenger {
    return this.context.messenger;
  }

  async open(): Promise<void> {
    const attach = h("input", { type: "file", id: "attach", class: "visually-hidden" });
    attach.addEventListener("change", () => void this.#sendFiles(attach));
    const devicesButton = h(
      "button",
      { type: "button", "aria-expanded": "false", "aria-controls": "safety", onclick: () => void this.#toggleDevices(devicesButton) },
      "Safety numbers",
    );
    replace(
      this.root,
      h(
        "header",
        { class: "chat-head" },
        h("button", { type: "button", class: "back", onclick: () => this.context.back() }, h("span", { "aria-hidden": "true" }, "← "), "Conversations"),
        h("div", { class: "title" }, h("h2", { id: "chat-title" }, this.name), this.#subtitle),
        this.group || !callsSupported()
          ? null
          : h("button", { type: "button", class: "call-start", "aria-label": `Call ${this.name}`, onclick: () => void this.#call() }, "Call"),
        devicesButton,
      ),
      this.#panel,
      this.#log,
      this.#typing,
      h(
        "form",
        { class: "composer", onsubmit: (event: Event) => void this.#submit(event) },
        this.#banner,
        h("label", { for: "composer", class: "visually-hidden" }, `Message to ${this.name}`),
        this.#composer,
        h(
          "div",
          { class: "actions" },
          attach,
          h("label", { for: "attach", class: "attach", title: "Encrypted in this browser before upload" }, "Attach a file"),
          h("button", { type: "submit", class: "primary" }, "Send"),
        ),
        h("p", { id: "composer-hint", class: "visually-hidden" }, "Enter sends; Shift+Enter starts a new line; Escape cancels a reply or an edit."),
        this.#error,
      ),
    );
    this.#composer.focus();
    await this.render();
    await this.#loadMembers();
    try {
      this.#unreadable = await this.#messenger.catchUp(this.conversationId);
    } catch (error) {
      console.warn("could not read the node's history", error);
    }
    await this.render();
  }

  async #loadMembers(): Promise<void> {
    try {
      this.#participants = await this.#messenger.device.participants(this.conversationId, true);
    } catch (error) {
      console.warn("could not list the members", error);
      return;
    }
    await Promise.all(
      this.#participants
        .filter((p) => p.user_id !== this.#messenger.device.userId && !this.context.online.has(p.user_id))
        .map(async (p) => {
          const profile = await this.#messenger.api.get<{ is_online: boolean }>(`/users/${p.user_id}`).catch(() => undefined);
          if (profile !== undefined) this.context.online.set(p.user_id, profile.is_online);
        }),
    );
    this.presenceChanged();
  }

  #names(): Map<string, string> {
    return new Map(this.#participants.map((p) => [p.user_id, p.username ?? p.display_name ?? "someone"]));
  }

  presenceChanged(): void {
    const me = this.#messenger.device.userId;
    const others = this.#participants.filter((p) => p.user_id !== me);
    const label = (p: Participant) => `${p.username ?? p.display_name ?? "someone"}${this.context.online.get(p.user_id) ? " (online)" : ""}`;
    if (this.group) replace(this.#subtitle, `${this.#participants.length} members: You, ${others.map(label).join(", ")}`);
    else replace(this.#subtitle, others.some((p) => this.context.online.get(p.user_id)) ? "online" : "offline");
  }

  async render(): Promise<void> {
    const names = this.#names();
    const stored = await this.#messenger.history.conversation(this.conversationId);
    const byId = new Map(stored.map((m) => [m.id, m]));
    const missing = this.#unreadable.filter((m) => !byId.has(m.id));
    const me = this.#messenger.device.userId;
    const rows: { seq: number; node: HTMLElement }[] = stored.map((message) => ({
      seq: message.seq,
      node: messageRow(message, names, message.replyTo ? byId.get(message.replyTo) : undefined, me, {
        reply: (m) => this.#setMode({ kind: "reply", message: m }),
        edit: (m) => this.#setMode({ kind: "edit", message: m }),
        react: (m, emoji) => void this.#act(() => this.#messenger.react(m, emoji)),
        remove: (m) => void this.#act(() => this.#messenger.remove(m)),
        download: (m, button) => void this.#download(m, button),
      }),
    }));
    for (const message of missing) {
      rows.push({
        seq: message.sequence_number,
        node: h(
          "li",
          { class: "msg missing", "data-message-id": message.id },
          h("p", { class: "meta" }, `${names.get(message.sender_id) ?? "someone"} · ${time(message.created_at)}`),
          h("p", { class: "text" }, message.is_deleted ? "This message was deleted." : "Not encrypted for this device."),
        ),
      });
    }
    rows.sort((a, b) => a.seq - b.seq);
    const atBottom = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 40;
    const focused = document.activeElement?.closest("[data-message-id]")?.getAttribute("data-message-id");
    replace(this.#log, ...rows.map((row) => row.node));
    if (atBottom || this.#log.scrollTop === 0) this.#log.scrollTop = this.#log.scrollHeight;
    if (focused) this.#log.querySelector<HTMLElement>(`[data-message-id="${focused}"] .tools button`)?.focus();
    await this.markRead();
  }

  async markRead(): Promise<void> {
    // Only while shown: a view left behind (another conversation opened since) marks nothing.
    if (document.visibilityState !== "visible" || !this.root.contains(this.#log)) return;
    const history = await this.#messenger.history.conversation(this.conversationId);
    const last = history.at(-1);
    if (last === undefined) return;
    await this.#messenger.history.markRead(this.conversationId, last.seq);
    this.context.changed();
  }

  /** Someone's typing started or stopped here. */
  typing(userId: string, name: string, on: boolean): void {
    clearTimeout(this.#typists.get(userId));
    this.#typists.delete(userId);
    if (on) this.#typists.set(userId, setTimeout(() => this.typing(userId, name, false), TYPING_SHOWN_MS));
    const names = this.#names();
    const who = [...this.#typists.keys()].map((id) => names.get(id) ?? name);
    replace(this.#typing, who.length === 0 ? "" : `${who.join(", ")} ${who.length === 1 ? "is" : "are"} typing…`);
  }

  #typed(): void {
    const now = Date.now();
    if (now - this.#typingSent > TYPING_SEND_EVERY_MS) {
      this.#typingSent = now;
      this.context.socket.send({ type: "typing:started", conversation_id: this.conversationId });
    }
    clearTimeout(this.#typingIdle);
    this.#typingIdle = setTimeout(() => this.#stopTyping(), TYPING_IDLE_MS);
  }

  #stopTyping(): void {
    clearTimeout(this.#typingIdle);
    if (this.#typingSent === 0) return;
    this.#typingSent = 0;
    this.context.socket.send({ type: "typing:stopped", conversation_id: this.conversationId });
  }

  #setMode(mode: { kind: "reply" | "edit"; message: StoredMessage } | undefined): void {
    this.#mode = mode;
    this.#banner.hidden = mode === undefined;
    if (mode === undefined) {
      replace(this.#banner);
      return;
    }
    const who = mode.message.outgoing ? "yourself" : (this.#names().get(mode.message.senderId) ?? "someone");
    replace(
      this.#banner,
      h("p", {}, mode.kind === "reply" ? `Replying to ${who}: ` : "Editing: ", h("q", {}, snippet(mode.message.file?.name ?? mode.message.text))),
      h("button", { type: "button", class: "link", onclick: () => this.#setMode(undefined) }, mode.kind === "reply" ? "Cancel reply" : "Cancel edit"),
    );
    if (mode.kind === "edit") this.#composer.value = mode.message.text ?? "";
    this.#composer.focus();
  }

  async #submit(event: Event): Promise<void> {
    event.preventDefault();
    const text = this.#composer.value;
    if (text.trim() === "") return;
    const mode = this.#mode;
    this.#composer.value = "";
    this.#setMode(undefined);
    this.#stopTyping();
    replace(this.#error);
    try {
      if (mode?.kind === "edit") await this.#messenger.edit(mode.message, text);
      else await this.#messenger.send(this.conversationId, { text }, mode?.message.id);
      await this.render();
    } catch (failure) {
      if (this.#composer.value === "") this.#composer.value = text;
      this.#setMode(mode);
      replace(this.#error, `Not sent: ${describe(failure)}`);
    }
  }

  async #sendFiles(input: HTMLInputElement): Promise<void> {
    const files = Array.from(input.files ?? []);
    input.value = "";
    replace(this.#error);
    for (const file of files) {
      try {
        replace(this.#error, `Encrypting and uploading ${file.name}…`);
        const bytes = new Uint8Array(await file.arrayBuffer());
        await this.#messenger.sendFile(this.conversationId, { name: file.name, type: file.type, bytes });
        replace(this.#error);
        await this.render();
      } catch (failure) {
        replace(this.#error, `${file.name} not sent: ${describe(failure)}`);
      }
    }
  }

  async #download(message: StoredMessage, button: HTMLButtonElement): Promise<void> {
    const file = message.file;
    if (file === undefined) return;
    button.disabled = true;
    try {
      const bytes = await downloadFile(this.#messenger.api, file, message.senderId);
      const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: file.type }));
      const link = h("a", { href: url, download: file.name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (failure) {
      replace(this.#error, `Could not open ${file.name}: ${describe(failure)}`);
    } finally {
      button.disabled = false;
    }
  }

  async #call(): Promise<void> {
    replace(this.#error);
    const me = this.#messenger.device.userId;
    if (this.#participants.length === 0) await this.#loadMembers();
    const peer = this.#participants.find((p) => p.user_id !== me);
    if (peer === undefined) {
      replace(this.#error, "There is nobody to call here.");
      return;
    }
    try {
      await this.context.call(peer.user_id, peer.username ?? peer.display_name ?? this.name);
    } catch (failure) {
      replace(this.#error, `No call: ${describe(failure)}`);
    }
  }

  async #act(action: () => Promise<unknown>): Promise<void> {
    replace(this.#error);
    try {
      await action();
      await this.render();
    } catch (failure) {
      replace(this.#error, describe(failure));
    }
  }

  async #toggleDevices(button: HTMLButtonElement): Promise<void> {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    this.#panel.hidden = !open;
    if (!open) return;
    const participants = await this.#messenger.device.participants(this.conversationId);
    await renderDevices(this.#panel, this.#messenger.device, participants, this.context.online);
  }
}
