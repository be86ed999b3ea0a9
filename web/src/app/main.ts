/**
 * The Parley web app: sign-in, the conversation list, one conversation at a time, and safety numbers.
 * No framework: a few screens re-rendered from state with `h()` (see `dom.ts`) keep the bundle small
 * and every byte auditable, which matters for the code that holds the keys.
 */

import { login, logout, register, restore } from "./account.js";
import { ApiError, type Conversation, type ConversationPage, type ApiMessage } from "./api.js";
import type { Device, StoredMessage } from "./device.js";
import { field, h, replace } from "./dom.js";
import { type ConnectionState, LiveSocket } from "./socket.js";

interface Listed {
  conversation: Conversation;
  name: string;
  unread: number;
}

const root = document.getElementById("app") as HTMLElement;

function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message || `the node answered ${error.status}`;
  return error instanceof Error ? error.message : String(error);
}

function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// ---- signing in --------------------------------------------------------------------------------

function showSignIn(mode: "login" | "register", notice = ""): void {
  document.title = "Parley: sign in";
  const error = h("p", { class: "error", role: "alert", id: "auth-error" }, notice);
  const busy = (form: HTMLFormElement, on: boolean) => {
    for (const control of Array.from(form.elements)) (control as HTMLInputElement).disabled = on;
  };
  const input = (name: string, label: string, attrs: Record<string, string | boolean> = {}) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: `${mode}-${name}` }, label),
      h("input", { id: `${mode}-${name}`, name, required: true, "aria-describedby": "auth-error", ...attrs }),
    );
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    busy(form, true);
    replace(error, mode === "login" ? "Signing in…" : "Creating your account and keys…");
    try {
      const device =
        mode === "login"
          ? await login(field(form, "identity"), field(form, "password"))
          : await register({
              username: field(form, "username"),
              email: field(form, "email"),
              password: field(form, "password"),
              displayName: field(form, "display_name"),
            });
      new App(device).start();
    } catch (failure) {
      busy(form, false);
      replace(error, describe(failure));
    }
  };
  const form =
    mode === "login"
      ? h(
          "form",
          { onsubmit: submit, "aria-labelledby": "auth-title" },
          input("identity", "Username or email", { autocomplete: "username", autocapitalize: "none", spellcheck: "false" }),
          input("password", "Password", { type: "password", autocomplete: "current-password" }),
          h("button", { type: "submit", class: "primary" }, "Sign in"),
        )
      : h(
          "form",
          { onsubmit: submit, "aria-labelledby": "auth-title" },
          input("username", "Username", {
            autocomplete: "username",
            autocapitalize: "none",
            spellcheck: "false",
            pattern: "[a-z0-9_.\\-]+",
            title: "Lower-case letters, digits, _, . and -",
          }),
          input("email", "Email", { type: "email", autocomplete: "email" }),
          input("password", "Password (at least 8 characters)", { type: "password", autocomplete: "new-password", minlength: "8" }),
          h(
            "div",
            { class: "field" },
            h("label", { for: "register-display_name" }, "Display name (optional)"),
            h("input", { id: "register-display_name", name: "display_name", autocomplete: "nickname" }),
          ),
          h("button", { type: "submit", class: "primary" }, "Create account"),
        );
  replace(
    root,
    h(
      "main",
      { class: "auth" },
      h("h1", {}, "Parley"),
      h("p", { class: "lede" }, "End-to-end encrypted messaging. Your keys stay in this browser."),
      h("h2", { id: "auth-title" }, mode === "login" ? "Sign in" : "Create an account"),
      form,
      error,
      h(
        "p",
        {},
        mode === "login" ? "No account yet? " : "Already have an account? ",
        h(
          "button",
          { type: "button", class: "link", onclick: () => showSignIn(mode === "login" ? "register" : "login") },
          mode === "login" ? "Create one" : "Sign in",
        ),
      ),
    ),
  );
  form.querySelector("input")?.focus();
}

// ---- signed in ---------------------------------------------------------------------------------

class App {
  readonly #socket: LiveSocket;
  #listed: Listed[] = [];
  #current: string | undefined;
  #unreadable = new Map<string, ApiMessage[]>();
  readonly #status = h("p", { class: "status", role: "status", "aria-live": "polite" }, "Connecting…");
  readonly #list = h("ul", { class: "conversations", "aria-label": "Your conversations" });
  readonly #chat = h("main", { class: "chat", id: "chat", tabindex: "-1" });
  readonly #shell = h("div", { class: "shell", "data-view": "list" });

  constructor(private readonly device: Device) {
    this.#socket = new LiveSocket(device, {
      message: (message) => void this.#onMessage(message),
      rejected: (event, reason) => console.warn("rejected message", event.message_id, reason),
      state: (state, detail) => this.#onState(state, detail),
      frame: () => {},
    });
  }

  start(): void {
    document.title = "Parley";
    const chatForm = h(
      "form",
      { class: "new-chat", onsubmit: (event: Event) => void this.#startChat(event) },
      h("label", { for: "new-chat" }, "Start a chat with"),
      h(
        "div",
        { class: "row" },
        h("input", {
          id: "new-chat",
          name: "handle",
          required: true,
          placeholder: "bob or bob@node-b",
          autocapitalize: "none",
          spellcheck: "false",
          "aria-describedby": "new-chat-error",
        }),
        h("button", { type: "submit" }, "Start"),
      ),
      h("p", { class: "error", id: "new-chat-error", role: "alert" }),
    );
    replace(
      this.#shell,
      h(
        "header",
        { class: "top" },
        h("h1", {}, "Parley"),
        h("p", { class: "me" }, "Signed in as ", h("strong", {}, this.device.account.username)),
        this.#status,
        h("button", { type: "button", onclick: () => void this.#signOut() }, "Sign out"),
      ),
      h("nav", { class: "side", "aria-label": "Conversations" }, chatForm, h("h2", { class: "visually-hidden" }, "Conversations"), this.#list),
      this.#chat,
    );
    replace(this.#chat, h("p", { class: "empty" }, "Pick a conversation, or start one with a username."));
    replace(root, this.#shell);
    addEventListener("online", () => this.#socket.nudge());
    addEventListener("offline", () => this.#socket.drop());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        this.#socket.nudge();
        void this.#markCurrentRead();
      }
    });
    this.#socket.start();
    void this.#refreshList();
  }

  #onState(state: ConnectionState, detail?: string): void {
    const text: Record<ConnectionState, string> = {
      connecting: "Connecting…",
      syncing: "Catching up…",
      online: "Online",
      offline: "Offline",
      "signed-out": "Signed out",
    };
    this.#status.dataset.state = state;
    replace(this.#status, text[state]);
    this.#status.title = detail ?? "";
    if (state === "online") void this.#refreshList();
    if (state === "signed-out") {
      this.#socket.stop();
      void logout(this.device).finally(() => showSignIn("login", "Your session ended; sign in again."));
    }
  }

  async #signOut(): Promise<void> {
    this.#socket.stop();
    await logout(this.device);
    showSignIn("login");
  }

  // ---- the list ----------------------------------------------------------------------------

  async #refreshList(): Promise<void> {
    try {
      const page = await this.device.api.get<ConversationPage>("/conversations", { page: 1, limit: 100 });
      this.#listed = await Promise.all(
        page.conversations.map(async (conversation) => ({
          conversation,
          name: await this.#nameOf(conversation),
          unread: await this.device.unread(conversation.id),
        })),
      );
      this.#renderList();
    } catch (error) {
      console.warn("could not list conversations", error);
    }
  }

  async #nameOf(conversation: Conversation): Promise<string> {
    if (conversation.type !== "DM" && conversation.subject) return conversation.subject;
    const others = (await this.device.participants(conversation.id)).filter((p) => p.user_id !== this.device.userId);
    return others.map((p) => p.username ?? p.display_name ?? p.user_id).join(", ") || "Just you";
  }

  #renderList(): void {
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.conversation : undefined;
    replace(
      this.#list,
      ...(this.#listed.length === 0 ? [h("li", { class: "empty" }, "No conversations yet.")] : []),
      ...this.#listed.map(({ conversation, name, unread }) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              "data-conversation": conversation.id,
              "aria-current": conversation.id === this.#current ? "true" : undefined,
              onclick: () => void this.#open(conversation.id),
            },
            h("span", { class: "name" }, name),
            unread > 0 ? h("span", { class: "badge" }, h("span", { class: "visually-hidden" }, "unread: "), unread) : null,
          ),
        ),
      ),
    );
    if (focused !== undefined) this.#list.querySelector<HTMLElement>(`[data-conversation="${focused}"]`)?.focus();
  }

  async #startChat(event: Event): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const error = form.querySelector(".error") as HTMLElement;
    const handle = field(form, "handle").trim();
    replace(error);
    try {
      const conversation = await this.device.api.post<Conversation>("/conversations", { type: "DM", participants: [handle] });
      form.reset();
      await this.#refreshList();
      await this.#open(conversation.id);
    } catch (failure) {
      replace(error, failure instanceof ApiError && failure.status === 404 ? `No user ${handle} found.` : describe(failure));
    }
  }

  // ---- one conversation ----------------------------------------------------------------------

  async #open(conversationId: string): Promise<void> {
    this.#current = conversationId;
    this.#shell.dataset.view = "chat";
    const listed = this.#listed.find((entry) => entry.conversation.id === conversationId);
    const name = listed?.name ?? "Conversation";
    const log = h("ol", { class: "messages", role: "log", "aria-live": "polite", "aria-label": `Messages with ${name}` });
    const composer = h("textarea", {
      id: "composer",
      name: "text",
      rows: 2,
      required: true,
      placeholder: "Write a message",
      "aria-describedby": "composer-hint send-error",
    });
    composer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.form?.requestSubmit();
      }
    });
    const sendError = h("p", { class: "error", id: "send-error", role: "alert" });
    const safety = h("div", { class: "safety", id: "safety", hidden: true });
    replace(
      this.#chat,
      h(
        "header",
        { class: "chat-head" },
        h("button", { type: "button", class: "back", onclick: () => this.#back() }, h("span", { "aria-hidden": "true" }, "← "), "Conversations"),
        h("h2", { id: "chat-title" }, name),
        h(
          "button",
          {
            type: "button",
            "aria-expanded": "false",
            "aria-controls": "safety",
            onclick: (event: Event) => void this.#toggleSafety(event.currentTarget as HTMLButtonElement, safety, conversationId),
          },
          "Safety numbers",
        ),
      ),
      safety,
      log,
      h(
        "form",
        { class: "composer", onsubmit: (event: Event) => void this.#send(event, conversationId, composer, sendError) },
        h("label", { for: "composer", class: "visually-hidden" }, `Message to ${name}`),
        composer,
        h("button", { type: "submit", class: "primary" }, "Send"),
        h("p", { id: "composer-hint", class: "visually-hidden" }, "Enter sends; Shift+Enter starts a new line."),
        sendError,
      ),
    );
    this.#renderList();
    composer.focus();
    await this.#renderMessages();
    try {
      this.#unreadable.set(conversationId, await this.device.catchUp(conversationId));
    } catch (error) {
      console.warn("could not read the node's history", error);
    }
    await this.#renderMessages();
  }

  #back(): void {
    this.#shell.dataset.view = "list";
    const id = this.#current;
    this.#current = undefined;
    replace(this.#chat, h("p", { class: "empty" }, "Pick a conversation, or start one with a username."));
    this.#renderList();
    if (id !== undefined) this.#list.querySelector<HTMLElement>(`[data-conversation="${id}"]`)?.focus();
  }

  async #renderMessages(): Promise<void> {
    const id = this.#current;
    if (id === undefined) return;
    const log = this.#chat.querySelector("ol.messages");
    if (log === null) return;
    const participants = await this.device.participants(id).catch(() => []);
    const names = new Map(participants.map((p) => [p.user_id, p.username ?? p.display_name ?? "someone"]));
    const stored = await this.device.history(id);
    const held = new Set(stored.map((m) => m.id));
    const missing = (this.#unreadable.get(id) ?? []).filter((m) => !held.has(m.id));
    const rows: { seq: number; node: HTMLElement }[] = stored.map((message) => ({
      seq: message.seq,
      node: this.#messageRow(message, names),
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
    if (this.#current !== id) return;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    replace(log, ...rows.map((row) => row.node));
    if (rows.length === 0) replace(log, h("li", { class: "empty" }, "No messages yet. Say hello!"));
    if (atBottom || rows.length > 0) log.scrollTop = log.scrollHeight;
    await this.#markCurrentRead();
  }

  #messageRow(message: StoredMessage, names: Map<string, string>): HTMLElement {
    const who = message.outgoing ? "You" : (names.get(message.senderId) ?? "someone");
    return h(
      "li",
      { class: `msg ${message.outgoing ? "out" : "in"}`, "data-message-id": message.id },
      h("p", { class: "meta" }, `${who} · ${time(message.createdAt)}`, message.encrypted ? "" : " · not encrypted"),
      h("p", { class: "text" }, message.text ?? "(content that is not text)"),
    );
  }

  async #markCurrentRead(): Promise<void> {
    const id = this.#current;
    if (id === undefined || document.visibilityState !== "visible") return;
    const history = await this.device.history(id);
    const last = history.at(-1);
    if (last === undefined) return;
    await this.device.markRead(id, last.seq);
    const listed = this.#listed.find((entry) => entry.conversation.id === id);
    if (listed !== undefined && listed.unread !== 0) {
      listed.unread = 0;
      this.#renderList();
    }
  }

  async #send(event: Event, conversationId: string, composer: HTMLTextAreaElement, error: HTMLElement): Promise<void> {
    event.preventDefault();
    const text = composer.value;
    if (text.trim() === "") return;
    composer.value = "";
    replace(error);
    try {
      await this.device.send(conversationId, text);
      await this.#renderMessages();
    } catch (failure) {
      if (composer.value === "") composer.value = text;
      replace(error, `Not sent: ${describe(failure)}`);
    }
  }

  async #onMessage(message: StoredMessage): Promise<void> {
    if (message.conversationId === this.#current) {
      await this.#renderMessages();
      return;
    }
    const listed = this.#listed.find((entry) => entry.conversation.id === message.conversationId);
    if (listed === undefined) {
      await this.#refreshList();
    } else {
      listed.unread = await this.device.unread(message.conversationId);
      this.#renderList();
    }
  }

  async #toggleSafety(button: HTMLButtonElement, panel: HTMLElement, conversationId: string): Promise<void> {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (!open) return;
    replace(panel, h("p", {}, "Computing safety numbers…"));
    try {
      const rows: HTMLElement[] = [];
      for (const participant of await this.device.participants(conversationId)) {
        const devices = await this.device.devicesOf(participant.user_id);
        for (const device of devices.devices) {
          if (device.id === this.device.deviceId || !device.has_active_keys) continue;
          const number = await this.device.safetyNumber(participant.user_id, device.id);
          const who = participant.user_id === this.device.userId ? "Your other device" : (participant.username ?? "Contact");
          rows.push(
            h(
              "li",
              {},
              h("p", { class: "meta" }, `${who}, device ${device.id.slice(0, 8)}`),
              h("p", { class: "number", "aria-label": `Safety number ${number.groups().join(" ")}` }, number.toString()),
            ),
          );
        }
      }
      replace(
        panel,
        h("h3", {}, "Safety numbers"),
        h("p", {}, "Compare these with your contact in person or over a call: if they match, nobody is in between."),
        rows.length > 0 ? h("ul", {}, ...rows) : h("p", {}, "No other devices with keys yet."),
      );
    } catch (error) {
      replace(panel, h("p", { class: "error" }, describe(error)));
    }
  }
}

async function boot(): Promise<void> {
  try {
    const device = await restore();
    if (device !== undefined) {
      new App(device).start();
      return;
    }
  } catch (error) {
    console.warn("could not restore the session", error);
  }
  showSignIn("login");
}

void boot();
