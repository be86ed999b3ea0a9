/**
 * The signed-in app: the header with the connection's state, the conversation list with unread
 * counts, starting a chat or a group, and the open conversation (`chat.ts`). Every frame the node
 * pushes lands here and is passed on: messages, edits, deletions, reactions, delivered and read
 * marks, typing and presence; calls (`call:*`) go to the call engine and the call bar.
 */

import { logout } from "../account.js";
import { ApiError, type Conversation, type ConversationPage, type UserProfile } from "../api.js";
import { Calls } from "../calls.js";
import type { Device } from "../device.js";
import { field, h, replace } from "../dom.js";
import { Messenger } from "../messenger.js";
import type { StoredMessage } from "../model.js";
import { type ConnectionState, LiveSocket } from "../socket.js";
import { CallBar } from "./call-bar.js";
import { ChatView } from "./chat.js";
import { describe } from "./format.js";

interface Listed {
  conversation: Conversation;
  name: string;
  unread: number;
}

type Frame = { type: string; [field: string]: unknown };

export class App {
  readonly #messenger: Messenger;
  readonly #socket: LiveSocket;
  readonly #calls: Calls;
  readonly #callBar: CallBar;
  readonly #online = new Map<string, boolean>();
  #listed: Listed[] = [];
  #chat: ChatView | undefined;
  readonly #status = h("p", { class: "status", role: "status", "aria-live": "polite" }, "Connecting…");
  readonly #list = h("ul", { class: "conversations", "aria-label": "Your conversations" });
  readonly #pane = h("main", { class: "chat", id: "chat", tabindex: "-1" });
  readonly #shell = h("div", { class: "shell", "data-view": "list" });

  constructor(
    private readonly device: Device,
    private readonly root: HTMLElement,
    private readonly signedOut: (notice: string) => void,
  ) {
    this.#messenger = new Messenger(device);
    this.#socket = new LiveSocket(this.#messenger, {
      message: (message) => void this.#onMessage(message),
      rejected: (event, reason) => console.warn("rejected message", event.message_id, reason),
      state: (state, detail) => this.#onState(state, detail),
      frame: (frame) => void this.#onFrame(frame),
    });
    this.#calls = new Calls(device.api, device.userId, (frame) => this.#socket.send(frame), {
      changed: (state, remote) => this.#callBar.render(state, remote),
    });
    this.#callBar = new CallBar(this.#calls);
  }

  start(): void {
    document.title = "Parley";
    const chatForm = h(
      "form",
      { class: "new-chat", onsubmit: (event: Event) => void this.#create(event, "DM") },
      h("label", { for: "new-chat" }, "Start a chat with"),
      h(
        "div",
        { class: "row" },
        h("input", { id: "new-chat", name: "handle", required: true, placeholder: "bob or bob@node-b", autocapitalize: "none", spellcheck: "false", "aria-describedby": "new-chat-error" }),
        h("button", { type: "submit" }, "Start"),
      ),
      h("p", { class: "error", id: "new-chat-error", role: "alert" }),
    );
    const groupForm = h(
      "details",
      { class: "new-group" },
      h("summary", {}, "New group"),
      h(
        "form",
        { onsubmit: (event: Event) => void this.#create(event, "GROUP") },
        h("label", { for: "group-subject" }, "Group name"),
        h("input", { id: "group-subject", name: "subject", required: true, maxlength: "100" }),
        h("label", { for: "group-members" }, "Members (comma-separated)"),
        h("input", { id: "group-members", name: "members", required: true, placeholder: "bob, carol@node-b", autocapitalize: "none", spellcheck: "false", "aria-describedby": "new-group-error" }),
        h("button", { type: "submit" }, "Create group"),
        h("p", { class: "error", id: "new-group-error", role: "alert" }),
      ),
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
        this.#callBar.element,
      ),
      h("nav", { class: "side", "aria-label": "Conversations" }, chatForm, groupForm, h("h2", { class: "visually-hidden" }, "Conversations"), this.#list),
      this.#pane,
    );
    this.#empty();
    replace(this.root, this.#shell);
    addEventListener("online", () => this.#socket.nudge());
    addEventListener("offline", () => this.#socket.drop());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        this.#socket.nudge();
        void this.#chat?.markRead();
      }
    });
    this.#socket.start();
    void this.#refreshList();
  }

  #empty(): void {
    replace(this.#pane, h("p", { class: "empty" }, "Pick a conversation, or start one with a username."));
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
      void logout(this.device).finally(() => this.signedOut("Your session ended; sign in again."));
    }
  }

  async #signOut(): Promise<void> {
    await this.#calls.hangUp();
    this.#socket.stop();
    await logout(this.device);
    this.signedOut("");
  }

  // ---- the list ----------------------------------------------------------------------------

  async #refreshList(): Promise<void> {
    try {
      const page = await this.device.api.get<ConversationPage>("/conversations", { page: 1, limit: 100 });
      this.#listed = await Promise.all(
        page.conversations.map(async (conversation) => ({
          conversation,
          name: await this.#nameOf(conversation),
          unread: await this.#messenger.history.unread(conversation.id),
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

  async #userName(userId: string): Promise<string> {
    const profile = await this.device.api.get<UserProfile>(`/users/${userId}`);
    return profile.username || profile.display_name;
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
              "aria-current": conversation.id === this.#chat?.conversationId ? "true" : undefined,
              onclick: () => void this.#open(conversation.id),
            },
            h("span", { class: "name" }, name, conversation.type === "GROUP" ? h("span", { class: "kind" }, " · group") : null),
            unread > 0 ? h("span", { class: "badge" }, h("span", { class: "visually-hidden" }, "unread: "), unread) : null,
          ),
        ),
      ),
    );
    if (focused !== undefined) this.#list.querySelector<HTMLElement>(`[data-conversation="${focused}"]`)?.focus();
  }

  async #create(event: Event, type: "DM" | "GROUP"): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const error = form.querySelector(".error") as HTMLElement;
    replace(error);
    const handles = (type === "DM" ? field(form, "handle") : field(form, "members"))
      .split(",")
      .map((handle) => handle.trim())
      .filter((handle) => handle !== "");
    const body = type === "DM" ? { type, participants: handles } : { type, subject: field(form, "subject").trim(), participants: handles };
    try {
      const conversation = await this.device.api.post<Conversation>("/conversations", body);
      form.reset();
      form.closest("details")?.removeAttribute("open");
      await this.#refreshList();
      await this.#open(conversation.id);
    } catch (failure) {
      replace(error, failure instanceof ApiError && failure.status === 404 ? `No user ${handles.join(" or ")} found.` : describe(failure));
    }
  }

  // ---- one conversation ----------------------------------------------------------------------

  async #open(conversationId: string): Promise<void> {
    this.#shell.dataset.view = "chat";
    const listed = this.#listed.find((entry) => entry.conversation.id === conversationId);
    const chat = new ChatView(this.#pane, conversationId, listed?.name ?? "Conversation", listed?.conversation.type === "GROUP", {
      messenger: this.#messenger,
      socket: this.#socket,
      online: this.#online,
      call: (peerId, peerName) => this.#calls.start(conversationId, peerId, peerName),
      back: () => this.#back(),
      changed: () => {
        const entry = this.#listed.find((e) => e.conversation.id === conversationId);
        if (entry !== undefined && entry.unread !== 0) {
          entry.unread = 0;
          this.#renderList();
        }
      },
    });
    this.#chat = chat;
    this.#renderList();
    await chat.open();
  }

  #back(): void {
    this.#shell.dataset.view = "list";
    const id = this.#chat?.conversationId;
    this.#chat = undefined;
    this.#empty();
    this.#renderList();
    if (id !== undefined) this.#list.querySelector<HTMLElement>(`[data-conversation="${id}"]`)?.focus();
  }

  async #onMessage(message: StoredMessage): Promise<void> {
    if (message.conversationId === this.#chat?.conversationId) {
      this.#chat.typing(message.senderId, "", false);
      await this.#chat.render();
      return;
    }
    const listed = this.#listed.find((entry) => entry.conversation.id === message.conversationId);
    if (listed === undefined) {
      await this.#refreshList();
    } else {
      listed.unread = await this.#messenger.history.unread(message.conversationId);
      this.#renderList();
    }
  }

  /** Frames other than new messages: each changes the history or the view, then the open
   * conversation is drawn again when it is the one concerned. */
  async #onFrame(frame: Frame): Promise<void> {
    if (this.#calls.handle(frame, (id) => this.#userName(id))) {
      if (frame.type === "call:incoming") void this.#refreshList(); // The DM may be new to this device.
      return;
    }
    const history = this.#messenger.history;
    const id = typeof frame.message_id === "string" ? frame.message_id : "";
    const user = typeof frame.user_id === "string" ? frame.user_id : "";
    const here = frame.conversation_id === this.#chat?.conversationId;
    switch (frame.type) {
      case "message:deleted":
        await history.deleted(id);
        break;
      case "message:reaction":
        await history.reacted(id, user, String(frame.emoji), frame.added === true);
        break;
      case "message:delivered":
        await history.receipt(id, "delivered");
        break;
      case "message:read":
        await history.receipt(id, "read");
        break;
      case "typing:started":
      case "typing:stopped":
        if (here && user !== this.device.userId) this.#chat?.typing(user, String(frame.display_name ?? ""), frame.type === "typing:started");
        return;
      case "presence:online":
      case "presence:offline":
        this.#online.set(user, frame.type === "presence:online");
        this.#chat?.presenceChanged();
        return;
      case "participant:added":
      case "participant:removed":
        if (typeof frame.conversation_id === "string") await this.device.participants(frame.conversation_id, true).catch(() => []);
        void this.#refreshList();
        return;
      default:
        return;
    }
    if (here) await this.#chat?.render();
  }
}
