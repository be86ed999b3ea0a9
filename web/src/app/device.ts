/**
 * This browser's device of one account: its keys, its sessions with peer devices and its history,
 * all in an IndexedDB database of its own that nothing ever sends to the node. It follows the Rust
 * SDK step for step so both talk to each other: keys as `client/src/client/keys.rs` publishes them,
 * sending as `send.rs` (one ciphertext per recipient device), receiving as `receive.rs`.
 */

import {
  CryptoError,
  IdentityKeyPair,
  OneTimePreKeyPair,
  type OneTimePreKeyJson,
  type PreKeyStore,
  SafetyNumber,
  Session,
  SessionRecord,
  type SessionRecordJson,
  SignedPreKeyPair,
  type SignedPreKeyJson,
  decodeHeader,
  fromBase64,
  parseKeyBundle,
  plaintextToText,
  textToPlaintext,
  toBase64,
  toDeviceCiphertext,
  userStableId,
  type DeviceCiphertextJson,
} from "../crypto/index.js";
import { Api, ApiError, type ApiMessage, type IdentityKey, type Participant, type PublicDeviceList, type Tokens } from "./api.js";
import { Db, Mutex } from "./db.js";

/** Below this many one-time prekeys on the node, the device uploads more (as the SDK). */
const ONE_TIME_LOW_WATER = 20;
/** How many one-time prekeys a top-up brings the node back to. */
const ONE_TIME_TARGET = 100;
const ONE_TIME_PER_UPLOAD = 200;
/** Signed prekeys kept for late initial messages built from an older one. */
const KEPT_SIGNED = 5;
/** One-time prekey secrets kept at most (twice what the node holds). */
const KEPT_ONE_TIME = 2000;
const SEND_ATTEMPTS = 4;

/** A message in this device's history. */
export interface StoredMessage {
  readonly id: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly senderDeviceId: string;
  readonly createdAt: string;
  readonly outgoing: boolean;
  readonly encrypted: boolean;
  /** `undefined` when the bytes are not UTF-8 text. */
  readonly text: string | undefined;
}

/** What the device keeps about its account. */
export interface AccountRecord {
  readonly userId: string;
  readonly username: string;
  readonly deviceId: string;
  readonly tokens: Tokens | undefined;
}

interface PreKeysJson {
  signed: SignedPreKeyJson[];
  oneTime: OneTimePreKeyJson[];
  nextOneTime: number;
}

interface TrustRecord {
  readonly userId: string;
  readonly identityKey: string;
}

/** A `message:new` event (`MessageEvent` in `protocol/src/ws.rs`), the fields this client reads. */
export interface MessageEvent {
  conversation_id: string;
  message_id: string;
  sender_id: string;
  sender_device_id: string;
  sequence_number: number;
  created_at: string;
  content: string;
  encrypted?: boolean;
  body?: string | null;
  header?: string | null;
}

/** A message this device cannot read, with why; acknowledged anyway so the node stops replaying it. */
export class Undecryptable extends Error {
  override name = "Undecryptable";
}

/** A device's database: `state` (identity, prekeys, account), `sessions` and `trust` by peer device,
 * `messages` by id with an index by conversation and sequence number, `reads` by conversation. */
export function openDeviceDb(deviceId: string): Promise<Db> {
  return Db.open(`parley-device-${deviceId}`, 1, (db) => {
    db.createObjectStore("state");
    db.createObjectStore("sessions");
    db.createObjectStore("trust");
    db.createObjectStore("reads");
    const messages = db.createObjectStore("messages", { keyPath: "id" });
    messages.createIndex("by_conversation", ["conversationId", "seq"]);
  });
}

/** The identity key of the device behind `db`, made and saved on first use (before any request). */
export async function loadOrCreateIdentity(db: Db): Promise<IdentityKeyPair> {
  const seed = await db.get<string>("state", "identity");
  if (seed !== undefined) return IdentityKeyPair.fromSeed(fromBase64(seed));
  const identity = IdentityKeyPair.generate();
  await db.put("state", toBase64(identity.toSeed()), "identity");
  return identity;
}

/** A random UUID (v4) from the CSPRNG; `crypto.randomUUID` needs a secure context, this does not. */
export function randomUuid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

class PreKeys implements PreKeyStore {
  constructor(
    readonly signed: SignedPreKeyPair[],
    readonly oneTime: Map<number, OneTimePreKeyPair>,
    public nextOneTime: number,
  ) {}

  static fromJSON(json: PreKeysJson | undefined): PreKeys {
    if (json === undefined) return new PreKeys([], new Map(), 1);
    const oneTime = json.oneTime.map((key) => OneTimePreKeyPair.fromJSON(key));
    return new PreKeys(
      json.signed.map((key) => SignedPreKeyPair.fromJSON(key)),
      new Map(oneTime.map((key) => [key.id, key])),
      json.nextOneTime,
    );
  }

  toJSON(): PreKeysJson {
    return {
      signed: this.signed.map((key) => key.toJSON()),
      oneTime: [...this.oneTime.values()].map((key) => key.toJSON()),
      nextOneTime: this.nextOneTime,
    };
  }

  get current(): SignedPreKeyPair | undefined {
    return this.signed.at(-1);
  }

  signedPreKey(id: number): SignedPreKeyPair | undefined {
    return this.signed.find((key) => key.id === id);
  }

  oneTimePreKey(id: number): OneTimePreKeyPair | undefined {
    return this.oneTime.get(id);
  }

  newSigned(identity: IdentityKeyPair): SignedPreKeyPair {
    const id = Math.max(0, ...this.signed.map((key) => key.id)) + 1;
    const key = SignedPreKeyPair.generate(identity, id);
    this.signed.push(key);
    if (this.signed.length > KEPT_SIGNED) this.signed.shift();
    return key;
  }

  newOneTime(count: number): OneTimePreKeyPair[] {
    const first = Math.max(1, this.nextOneTime);
    const batch = OneTimePreKeyPair.generateBatch(first, count);
    this.nextOneTime = first + count;
    for (const key of batch) this.oneTime.set(key.id, key);
    for (const id of [...this.oneTime.keys()].sort((a, b) => a - b)) {
      if (this.oneTime.size <= KEPT_ONE_TIME) break;
      this.oneTime.delete(id);
    }
    return batch;
  }
}

export class Device {
  /** Serialises every change to keys, sessions and history (one tab, many async callers). */
  readonly #lock = new Mutex();
  readonly #participants = new Map<string, Promise<Participant[]>>();

  constructor(
    readonly db: Db,
    readonly api: Api,
    readonly identity: IdentityKeyPair,
    readonly account: AccountRecord,
  ) {}

  get userId(): string {
    return this.account.userId;
  }

  get deviceId(): string {
    return this.account.deviceId;
  }

  // ---- this device's keys ---------------------------------------------------------------------

  /** Publishes the identity key and signed prekey unless the node serves them, then tops up
   * the one-time prekeys (`Client::publish_keys`). */
  async publishKeys(): Promise<void> {
    await this.api.post("/encryption/identity", { public_key: toBase64(this.identity.publicKey) });
    await this.#lock.run(async () => {
      const prekeys = PreKeys.fromJSON(await this.db.get<PreKeysJson>("state", "prekeys"));
      let active: { key_id: number; public_key: string } | undefined;
      try {
        active = await this.api.get("/encryption/signed-prekeys/active");
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
      const ours = prekeys.current;
      if (ours !== undefined && active?.key_id === ours.id && active.public_key === toBase64(ours.publicKey)) return;
      if (ours === undefined) {
        prekeys.newSigned(this.identity);
        await this.db.put("state", prekeys.toJSON(), "prekeys");
      }
      try {
        await this.api.post("/encryption/signed-prekeys", prekeys.current?.toUpload());
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 409)) throw error;
        // Its id is taken by an older key on the node: make a fresh one.
        const fresh = prekeys.newSigned(this.identity);
        await this.db.put("state", prekeys.toJSON(), "prekeys");
        await this.api.post("/encryption/signed-prekeys", fresh.toUpload());
      }
    });
    await this.refillOneTimePreKeys();
  }

  /** Uploads one-time prekeys when the node holds fewer than the low-water mark; secrets first. */
  async refillOneTimePreKeys(): Promise<number> {
    const { count } = await this.api.get<{ count: number }>("/encryption/onetime-prekeys/count");
    if (count >= ONE_TIME_LOW_WATER) return 0;
    const batch = await this.#lock.run(async () => {
      const prekeys = PreKeys.fromJSON(await this.db.get<PreKeysJson>("state", "prekeys"));
      const batch = prekeys.newOneTime(ONE_TIME_TARGET - count);
      await this.db.put("state", prekeys.toJSON(), "prekeys");
      return batch;
    });
    let added = 0;
    for (let start = 0; start < batch.length; start += ONE_TIME_PER_UPLOAD) {
      const keys = batch.slice(start, start + ONE_TIME_PER_UPLOAD).map((key) => key.toUpload());
      const { uploaded } = await this.api.post<{ uploaded: number }>("/encryption/onetime-prekeys", { keys });
      added += uploaded;
    }
    return added;
  }

  // ---- peers ------------------------------------------------------------------------------------

  /** The members of a conversation (cached for the page's life; membership changes are rare). */
  participants(conversationId: string, fresh = false): Promise<Participant[]> {
    let found = this.#participants.get(conversationId);
    if (found === undefined || fresh) {
      found = this.api
        .get<{ participants: Participant[] }>(`/conversations/${conversationId}/participants`)
        .then((list) => list.participants);
      found.catch(() => this.#participants.delete(conversationId));
      this.#participants.set(conversationId, found);
    }
    return found;
  }

  async #publishedIdentity(userId: string, deviceId: string): Promise<Uint8Array> {
    const key = await this.api.get<IdentityKey>("/encryption/identity", { user_id: userId, device_id: deviceId });
    if (key.user_id !== userId || key.device_id !== deviceId || !key.is_active) {
      throw new Undecryptable(`the node serves no active identity key for device ${deviceId}`);
    }
    return fromBase64(key.public_key);
  }

  /** Checks `key` against the pinned one; a device seen first is checked against the node's copy,
   * then pinned (`Client::verify_identity`). */
  async #verifyIdentity(userId: string, deviceId: string, key: Uint8Array): Promise<void> {
    const pinned = await this.db.get<TrustRecord>("trust", deviceId);
    if (pinned !== undefined) {
      if (pinned.userId !== userId || pinned.identityKey !== toBase64(key)) {
        throw new Undecryptable(`the identity key of device ${deviceId} changed`);
      }
      return;
    }
    if (toBase64(await this.#publishedIdentity(userId, deviceId)) !== toBase64(key)) {
      throw new Undecryptable(`device ${deviceId} signed with a key the node does not publish for it`);
    }
    await this.db.put("trust", { userId, identityKey: toBase64(key) } satisfies TrustRecord, deviceId);
  }

  /** The safety number with one device of `userId`: its pinned key, else the one the node publishes. */
  async safetyNumber(userId: string, deviceId: string): Promise<SafetyNumber> {
    const pinned = await this.db.get<TrustRecord>("trust", deviceId);
    const remote = pinned !== undefined ? fromBase64(pinned.identityKey) : await this.#publishedIdentity(userId, deviceId);
    return SafetyNumber.of(this.identity.publicKey, userStableId(this.userId), remote, userStableId(userId));
  }

  async devicesOf(userId: string): Promise<PublicDeviceList> {
    return this.api.get<PublicDeviceList>(`/users/${userId}/devices`);
  }

  // ---- sending ------------------------------------------------------------------------------------

  /** Encrypts `text` for every device of the conversation (the other participants' and this
   * user's other devices) and posts it once, retried with the same idempotency key. */
  async send(conversationId: string, text: string): Promise<StoredMessage> {
    const targets: { userId: string; deviceId: string }[] = [];
    for (const participant of await this.participants(conversationId, true)) {
      const list = await this.devicesOf(participant.user_id);
      for (const device of list.devices) {
        if (device.id !== this.deviceId && device.has_active_keys) {
          targets.push({ userId: participant.user_id, deviceId: device.id });
        }
      }
    }
    const plaintext = textToPlaintext(text);
    const ciphertexts = await this.#lock.run(() => this.#encryptFor(targets, plaintext));
    const request = {
      conversation_id: conversationId,
      ciphertexts,
      message_type: "text",
      client_message_id: randomUuid(),
    };
    let message: ApiMessage | undefined;
    for (let attempt = 1, delay = 200; message === undefined; attempt++, delay *= 2) {
      try {
        message = await this.api.post<ApiMessage>("/messages", request);
      } catch (error) {
        if (!(error instanceof ApiError && error.transient) || attempt >= SEND_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    const stored: StoredMessage = {
      id: message.id,
      conversationId,
      seq: message.sequence_number,
      senderId: this.userId,
      senderDeviceId: this.deviceId,
      createdAt: message.created_at,
      outgoing: true,
      encrypted: true,
      text,
    };
    await this.db.put("messages", stored);
    return stored;
  }

  /** One ciphertext per target, starting a session from a freshly claimed bundle where there is
   * none. Sessions are saved before the post: a failed post costs a skipped key, never a reused one. */
  async #encryptFor(
    targets: readonly { userId: string; deviceId: string }[],
    plaintext: Uint8Array,
  ): Promise<DeviceCiphertextJson[]> {
    const out: DeviceCiphertextJson[] = [];
    for (const { userId, deviceId } of targets) {
      const stored = await this.db.get<SessionRecordJson>("sessions", deviceId);
      const record = stored === undefined ? new SessionRecord(userId, deviceId) : SessionRecord.fromJSON(stored);
      if (record.userId !== userId) throw new Error(`device ${deviceId} moved to another user`);
      if (record.isEmpty) {
        let bundleJson: unknown;
        try {
          bundleJson = await this.api.get("/encryption/bundles", { user_id: userId, device_id: deviceId });
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) continue;
          throw error;
        }
        const bundle = parseKeyBundle(bundleJson);
        if (bundle.userId !== userId || bundle.deviceId !== deviceId) {
          throw new Error(`the node served a bundle of another device for ${deviceId}`);
        }
        const pinned = await this.db.get<TrustRecord>("trust", deviceId);
        if (pinned === undefined) {
          await this.db.put("trust", { userId, identityKey: toBase64(bundle.identityKey) } satisfies TrustRecord, deviceId);
        } else if (pinned.identityKey !== toBase64(bundle.identityKey)) {
          throw new Error(`the identity key of device ${deviceId} changed; check its safety number`);
        }
        record.add(Session.initiate(this.identity, bundle));
      }
      const session = record.current;
      if (session === undefined) throw new Error("a session vanished while encrypting");
      const encrypted = session.encrypt(plaintext);
      await this.db.put("sessions", record.toJSON(), deviceId);
      out.push(toDeviceCiphertext(encrypted, deviceId));
    }
    return out;
  }

  // ---- receiving ----------------------------------------------------------------------------------

  /** Decrypts and stores one message for this device; `undefined` when it was stored already (a
   * replay). Throws `Undecryptable` for a message that will never decrypt. */
  async receive(event: MessageEvent): Promise<StoredMessage | undefined> {
    const result = await this.#lock.run(() => this.#receive(event));
    if (result?.usedOneTime) {
      this.refillOneTimePreKeys().catch((error) => console.warn("could not top up one-time prekeys", error));
    }
    return result?.message;
  }

  async #receive(event: MessageEvent): Promise<{ message: StoredMessage; usedOneTime: boolean } | undefined> {
    if ((await this.db.get("messages", event.message_id)) !== undefined) return undefined;
    const base = {
      id: event.message_id,
      conversationId: event.conversation_id,
      seq: event.sequence_number,
      senderId: event.sender_id,
      senderDeviceId: event.sender_device_id,
      createdAt: event.created_at,
      outgoing: event.sender_id === this.userId,
    };
    if (event.encrypted === false) {
      if (typeof event.body !== "string") throw new Undecryptable("a message in the clear without a body");
      const message: StoredMessage = { ...base, encrypted: false, text: event.body };
      await this.db.put("messages", message);
      return { message, usedOneTime: false };
    }
    if (typeof event.header !== "string") throw new Undecryptable("an encrypted message without a ratchet header");
    let header: Uint8Array;
    let content: Uint8Array;
    try {
      header = fromBase64(event.header);
      content = fromBase64(event.content);
      const prekey = decodeHeader(header).prekey;
      if (prekey !== undefined) await this.#verifyIdentity(event.sender_id, event.sender_device_id, prekey.identityKey);
    } catch (error) {
      if (error instanceof CryptoError) throw new Undecryptable(error.message);
      throw error;
    }
    const stored = await this.db.get<SessionRecordJson>("sessions", event.sender_device_id);
    const record =
      stored === undefined ? new SessionRecord(event.sender_id, event.sender_device_id) : SessionRecord.fromJSON(stored);
    if (record.userId !== event.sender_id) throw new Undecryptable("the sending device belongs to another user");
    const prekeys = PreKeys.fromJSON(await this.db.get<PreKeysJson>("state", "prekeys"));
    let decrypted;
    try {
      decrypted = record.decrypt(this.identity, prekeys, header, content);
    } catch (error) {
      if (error instanceof CryptoError) throw new Undecryptable(error.message);
      throw error;
    }
    if (decrypted === undefined) throw new Undecryptable("no session with the sending device");
    const message: StoredMessage = { ...base, encrypted: true, text: plaintextToText(decrypted.plaintext) };
    const writes: { store: string; value: unknown; key?: IDBValidKey }[] = [
      { store: "messages", value: message },
      { store: "sessions", value: record.toJSON(), key: event.sender_device_id },
    ];
    const used = decrypted.usedOneTimePreKeyId;
    if (used !== undefined && prekeys.oneTime.delete(used)) {
      writes.push({ store: "state", value: prekeys.toJSON(), key: "prekeys" });
    }
    // Message, session and spent prekey land together, so a crash never leaves one without the others.
    await this.db.batch(writes);
    return { message, usedOneTime: used !== undefined };
  }

  // ---- history ------------------------------------------------------------------------------------

  /** This device's history of a conversation, in order. */
  history(conversationId: string): Promise<StoredMessage[]> {
    return this.db.all<StoredMessage>(
      "messages",
      "by_conversation",
      IDBKeyRange.bound([conversationId, 0], [conversationId, Number.MAX_SAFE_INTEGER]),
    );
  }

  /**
   * Reads the node's latest page of a conversation and decrypts the copies addressed to this device
   * that the socket has not brought yet. Returns the messages this device holds no copy of (sent
   * before it existed, or deleted), for the view to show as such.
   */
  async catchUp(conversationId: string): Promise<ApiMessage[]> {
    const page = await this.api.get<{ messages: ApiMessage[] }>("/messages", { conversation_id: conversationId, limit: 100 });
    const unreadable: ApiMessage[] = [];
    for (const message of [...page.messages].sort((a, b) => a.sequence_number - b.sequence_number)) {
      if ((await this.db.get("messages", message.id)) !== undefined) continue;
      const hasCopy = message.encrypted ? message.ciphertext !== null : message.body !== null;
      if (message.is_deleted || !hasCopy) {
        unreadable.push(message);
        continue;
      }
      try {
        await this.receive({
          conversation_id: message.conversation_id,
          message_id: message.id,
          sender_id: message.sender_id,
          sender_device_id: message.sender_device_id,
          sequence_number: message.sequence_number,
          created_at: message.created_at,
          content: message.ciphertext ?? "",
          encrypted: message.encrypted,
          body: message.body,
          header: message.header,
        });
      } catch (error) {
        console.warn("cannot read message", message.id, error);
        unreadable.push(message);
      }
    }
    return unreadable;
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
    const through = await this.readThrough(conversationId);
    const after = await this.db.all<StoredMessage>(
      "messages",
      "by_conversation",
      IDBKeyRange.bound([conversationId, through + 1], [conversationId, Number.MAX_SAFE_INTEGER]),
    );
    return after.filter((message) => !message.outgoing).length;
  }
}
