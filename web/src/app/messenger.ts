/**
 * What a user does with messages, on top of the device's cryptography: send (one ciphertext per
 * device, as `client/src/client/send.rs`), edit (new ciphertexts per device replace the old ones,
 * `PUT /v1/messages/{id}`), delete, react, and receive what the node pushes or holds.
 */

import { ApiError, type ApiMessage } from "./api.js";
import type { Device } from "./device.js";
import { uploadFile } from "./files.js";
import { History } from "./history.js";
import {
  type Content,
  type MessageEvent,
  type StoredMessage,
  Undecryptable,
  decodeContent,
  encodeContent,
  randomUuid,
} from "./model.js";

const SEND_ATTEMPTS = 4;

function toEvent(message: ApiMessage): MessageEvent {
  return {
    conversation_id: message.conversation_id,
    message_id: message.id,
    sender_id: message.sender_id,
    sender_device_id: message.sender_device_id,
    sequence_number: message.sequence_number,
    created_at: message.created_at,
    content: message.ciphertext ?? "",
    message_type: message.message_type,
    encrypted: message.encrypted,
    body: message.body,
    header: message.header,
    reply_to: message.reply_to ?? null,
  };
}

function reactionsOf(message: ApiMessage): Record<string, string[]> {
  return Object.fromEntries((message.reactions ?? []).map((r) => [r.emoji, r.user_ids]));
}

export class Messenger {
  readonly history: History;

  constructor(readonly device: Device) {
    this.history = new History(device.db, device.api);
  }

  get api() {
    return this.device.api;
  }

  /** Posts once, retried with the same idempotency key while the node is unreachable or busy. */
  async #post<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 1, delay = 200; ; attempt++, delay *= 2) {
      try {
        return await request();
      } catch (error) {
        if (!(error instanceof ApiError && error.transient) || attempt >= SEND_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  // ---- what this user does ------------------------------------------------------------------------

  /** Encrypts a text or file message for every device of the conversation and posts it. */
  async send(conversationId: string, content: Content, replyTo?: string): Promise<StoredMessage> {
    const { plaintext, type } = encodeContent(content);
    const ciphertexts = await this.device.encrypt(await this.device.targets(conversationId), plaintext);
    const request = {
      conversation_id: conversationId,
      ciphertexts,
      message_type: type,
      client_message_id: randomUuid(),
      reply_to: replyTo ?? null,
    };
    const message = await this.#post(() => this.api.post<ApiMessage>("/messages", request));
    const stored: StoredMessage = {
      id: message.id,
      conversationId,
      seq: message.sequence_number,
      senderId: this.device.userId,
      senderDeviceId: this.device.deviceId,
      createdAt: message.created_at,
      outgoing: true,
      encrypted: true,
      text: content.text,
      type,
      file: content.file,
      replyTo: replyTo ?? null,
      state: "sent",
    };
    await this.history.put(stored);
    return stored;
  }

  /** Encrypts a file in the browser, uploads the ciphertext and shares it in a message. */
  async sendFile(conversationId: string, file: { name: string; type: string; bytes: Uint8Array }): Promise<StoredMessage> {
    const ref = await uploadFile(this.api, conversationId, file);
    return this.send(conversationId, { file: ref });
  }

  /** Replaces the text of one of this user's messages, newly encrypted for every device. */
  async edit(message: StoredMessage, text: string): Promise<StoredMessage | undefined> {
    const { plaintext } = encodeContent({ text });
    const ciphertexts = await this.device.encrypt(await this.device.targets(message.conversationId), plaintext);
    await this.#post(() => this.api.put(`/messages/${message.id}`, { ciphertexts }));
    return this.history.update(message.id, (m) => ({ ...m, text, edited: true }));
  }

  async remove(message: StoredMessage): Promise<StoredMessage | undefined> {
    await this.api.delete(`/messages/${message.id}`);
    return this.history.deleted(message.id);
  }

  /** Adds this user's reaction with `emoji`, or takes it back when it is there. */
  async react(message: StoredMessage, emoji: string): Promise<StoredMessage | undefined> {
    const mine = message.reactions?.[emoji]?.includes(this.device.userId) ?? false;
    if (mine) await this.api.delete(`/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`);
    else await this.api.post(`/messages/${message.id}/reactions`, { emoji });
    return this.history.reacted(message.id, this.device.userId, emoji, !mine);
  }

  // ---- what the node brings ---------------------------------------------------------------------

  /** Decrypts and stores one new message for this device; `undefined` when it was stored already (a
   * replay). Throws `Undecryptable` for a message that will never decrypt. */
  async receive(event: MessageEvent): Promise<StoredMessage | undefined> {
    return this.#decryptAndStore(event, false);
  }

  /** An edit: the new content of a message, in a new ciphertext for this device. */
  async receiveEdit(event: MessageEvent): Promise<StoredMessage | undefined> {
    if (event.sender_device_id === this.device.deviceId) return undefined;
    return this.#decryptAndStore(event, true);
  }

  async #decryptAndStore(event: MessageEvent, edit: boolean): Promise<StoredMessage | undefined> {
    let usedOneTime = false;
    const stored = await this.device.exclusive(async () => {
      const held = await this.history.get(event.message_id);
      if (held !== undefined && !edit) return undefined;
      const base: StoredMessage = held ?? {
        id: event.message_id,
        conversationId: event.conversation_id,
        seq: event.sequence_number,
        senderId: event.sender_id,
        senderDeviceId: event.sender_device_id,
        createdAt: event.created_at,
        outgoing: event.sender_id === this.device.userId,
        encrypted: event.encrypted !== false,
        text: undefined,
        type: event.message_type ?? "text",
        replyTo: event.reply_to ?? null,
      };
      if (event.encrypted === false) {
        if (typeof event.body !== "string") throw new Undecryptable("a message in the clear without a body");
        const message: StoredMessage = { ...base, text: event.body, edited: edit || base.edited };
        await this.history.put(message);
        return message;
      }
      const decrypted = await this.device.decryptHeld(event);
      usedOneTime = decrypted.usedOneTime;
      const content = decodeContent(decrypted.plaintext, base.type);
      const message: StoredMessage = { ...base, text: content.text, file: content.file, edited: edit || base.edited };
      await this.device.db.batch([{ store: "messages", value: message }, ...decrypted.writes]);
      return message;
    });
    if (usedOneTime) {
      this.device.refillOneTimePreKeys().catch((error) => console.warn("could not top up one-time prekeys", error));
    }
    return stored;
  }

  /**
   * Reads the node's latest page of a conversation: decrypts the copies addressed to this device
   * that the socket has not brought yet, and brings the held ones up to date (reactions, deletions,
   * edits missed while away). Returns the messages this device holds no copy of (sent before it
   * existed, or deleted), for the view to show as such.
   */
  async catchUp(conversationId: string): Promise<ApiMessage[]> {
    const page = await this.api.get<{ messages: ApiMessage[] }>("/messages", { conversation_id: conversationId, limit: 100 });
    const unreadable: ApiMessage[] = [];
    for (const message of [...page.messages].sort((a, b) => a.sequence_number - b.sequence_number)) {
      const held = await this.history.get(message.id);
      if (held !== undefined) {
        await this.#refresh(held, message);
        continue;
      }
      const hasCopy = message.encrypted ? message.ciphertext !== null : message.body !== null;
      if (message.is_deleted || !hasCopy) {
        unreadable.push(message);
        continue;
      }
      try {
        const stored = await this.receive(toEvent(message));
        if (stored !== undefined) {
          await this.history.update(stored.id, (m) => ({ ...m, reactions: reactionsOf(message), edited: message.is_edited }));
        }
      } catch (error) {
        console.warn("cannot read message", message.id, error);
        unreadable.push(message);
      }
    }
    return unreadable;
  }

  async #refresh(held: StoredMessage, message: ApiMessage): Promise<void> {
    if (message.is_deleted && !held.deleted) {
      await this.history.deleted(held.id);
      return;
    }
    if (message.is_edited && !held.edited && !held.outgoing && message.ciphertext !== null) {
      // An edit that came while this device was away: its copy is the one the node holds now.
      await this.receiveEdit(toEvent(message)).catch((error) => console.warn("cannot read an edit", held.id, error));
    }
    const reactions = reactionsOf(message);
    if (JSON.stringify(reactions) !== JSON.stringify(held.reactions ?? {})) {
      await this.history.update(held.id, (m) => ({ ...m, reactions }));
    }
  }
}
