/**
 * This device's history: the messages it decrypted or sent, kept in its own database, and what
 * happened to them since (edits, deletions, reactions, delivered and read marks), plus its read
 * mark per conversation. Nothing here talks to the node except `markRead`.
 */

import type { Api } from "./api.js";
import type { Db } from "./db.js";
import type { DeliveryState, StoredMessage } from "./model.js";

const RANK: Record<DeliveryState, number> = { sent: 0, delivered: 1, read: 2 };

export class History {
  /** Receipts that came before the message they are about was stored (a race with the send). */
  readonly #early = new Map<string, DeliveryState>();

  constructor(
    readonly db: Db,
    readonly api: Api,
  ) {}

  get(id: string): Promise<StoredMessage | undefined> {
    return this.db.get<StoredMessage>("messages", id);
  }

  put(message: StoredMessage): Promise<void> {
    const early = this.#early.get(message.id);
    if (early !== undefined && message.outgoing) {
      this.#early.delete(message.id);
      message = { ...message, state: RANK[early] > RANK[message.state ?? "sent"] ? early : message.state };
    }
    return this.db.put("messages", message);
  }

  /** Changes a stored message; `undefined` when this device holds none with that id. */
  async update(id: string, change: (message: StoredMessage) => StoredMessage): Promise<StoredMessage | undefined> {
    const found = await this.get(id);
    if (found === undefined) return undefined;
    const changed = change(found);
    await this.db.put("messages", changed);
    return changed;
  }

  /** A conversation's history, in order. */
  conversation(conversationId: string, from = 0): Promise<StoredMessage[]> {
    return this.db.all<StoredMessage>(
      "messages",
      "by_conversation",
      IDBKeyRange.bound([conversationId, from], [conversationId, Number.MAX_SAFE_INTEGER]),
    );
  }

  deleted(id: string): Promise<StoredMessage | undefined> {
    return this.update(id, ({ text: _text, file: _file, ...rest }) => ({ ...rest, text: undefined, deleted: true }));
  }

  reacted(id: string, userId: string, emoji: string, added: boolean): Promise<StoredMessage | undefined> {
    return this.update(id, (message) => {
      const reactions = { ...(message.reactions ?? {}) };
      const users = new Set(reactions[emoji] ?? []);
      if (added) users.add(userId);
      else users.delete(userId);
      if (users.size > 0) reactions[emoji] = [...users];
      else delete reactions[emoji];
      return { ...message, reactions };
    });
  }

  /** A delivered mark for one message of this user's; a read mark for it and every earlier one. */
  async receipt(id: string, state: DeliveryState): Promise<StoredMessage[]> {
    const message = await this.get(id);
    if (message === undefined) {
      this.#early.set(id, state);
      return [];
    }
    const affected =
      state === "read"
        ? (await this.conversation(message.conversationId)).filter((m) => m.outgoing && m.seq <= message.seq)
        : [message];
    const changed: StoredMessage[] = [];
    for (const m of affected) {
      if (!m.outgoing || RANK[m.state ?? "sent"] >= RANK[state]) continue;
      const next = { ...m, state };
      await this.db.put("messages", next);
      changed.push(next);
    }
    return changed;
  }

  /** The sequence number read up to in a conversation, as this device last marked it. */
  async readThrough(conversationId: string): Promise<number> {
    return (await this.db.get<number>("reads", conversationId)) ?? 0;
  }

  /** Marks everything up to `seq` read, here and on the node (which tells the senders). */
  async markRead(conversationId: string, seq: number): Promise<void> {
    if (seq <= (await this.readThrough(conversationId))) return;
    await this.db.put("reads", seq, conversationId);
    await this.api.post(`/conversations/${conversationId}/read`, {}).catch(() => undefined);
  }

  /** Messages from others after the read mark. */
  async unread(conversationId: string): Promise<number> {
    const after = await this.conversation(conversationId, (await this.readThrough(conversationId)) + 1);
    return after.filter((message) => !message.outgoing && !message.deleted).length;
  }
}
