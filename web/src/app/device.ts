/**
 * This browser's device of one account: its keys, its sessions with peer devices and the identity
 * keys it pinned, all in an IndexedDB database of its own that nothing ever sends to the node. It
 * follows the Rust SDK step for step so both talk to each other: keys as `client/src/client/keys.rs`
 * publishes them, encryption as `send.rs` (one ciphertext per recipient device), decryption as
 * `receive.rs`. What the messages say and how they are kept is `messenger.ts`'s business.
 */

import {
  CryptoError,
  IdentityKeyPair,
  SafetyNumber,
  Session,
  SessionRecord,
  type SessionRecordJson,
  decodeHeader,
  fromBase64,
  parseKeyBundle,
  toBase64,
  toDeviceCiphertext,
  userStableId,
  type DeviceCiphertextJson,
} from "../crypto/index.js";
import { Api, ApiError, type IdentityKey, type Participant, type PublicDeviceList, type Tokens } from "./api.js";
import { Db, Mutex, type Write } from "./db.js";
import { type MessageEvent, Undecryptable } from "./model.js";
import { ONE_TIME_LOW_WATER, ONE_TIME_PER_UPLOAD, ONE_TIME_TARGET, PreKeys, type PreKeysJson } from "./prekeys.js";

/** What the device keeps about its account. */
export interface AccountRecord {
  readonly userId: string;
  readonly username: string;
  readonly deviceId: string;
  readonly tokens: Tokens | undefined;
}

/** An identity key pinned on first use, and whether the user compared its safety number. */
export interface TrustRecord {
  readonly userId: string;
  readonly identityKey: string;
  readonly verified?: boolean;
}

export interface Target {
  readonly userId: string;
  readonly deviceId: string;
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

  /** Runs `task` alone among the device's changes. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#lock.run(task);
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

  /** The members of a conversation (cached for the page's life, refreshed when asked). */
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

  devicesOf(userId: string): Promise<PublicDeviceList> {
    return this.api.get<PublicDeviceList>(`/users/${userId}/devices`);
  }

  /** Every device a message to the conversation is encrypted for: the other participants' and this
   * user's other devices, those with keys. */
  async targets(conversationId: string): Promise<Target[]> {
    const targets: Target[] = [];
    for (const participant of await this.participants(conversationId, true)) {
      const list = await this.devicesOf(participant.user_id);
      for (const device of list.devices) {
        if (device.id !== this.deviceId && device.has_active_keys) {
          targets.push({ userId: participant.user_id, deviceId: device.id });
        }
      }
    }
    return targets;
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
    const pinned = await this.trust(deviceId);
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

  trust(deviceId: string): Promise<TrustRecord | undefined> {
    return this.db.get<TrustRecord>("trust", deviceId);
  }

  /** Records that the user compared the safety number of a pinned device (or takes that back). */
  async setVerified(deviceId: string, verified: boolean): Promise<void> {
    await this.#lock.run(async () => {
      const pinned = await this.trust(deviceId);
      if (pinned === undefined) throw new Error("no key is pinned for this device yet");
      await this.db.put("trust", { ...pinned, verified } satisfies TrustRecord, deviceId);
    });
  }

  /** The safety number with one device of `userId`: its pinned key, else the one the node publishes. */
  async safetyNumber(userId: string, deviceId: string): Promise<SafetyNumber> {
    const pinned = await this.trust(deviceId);
    const remote = pinned !== undefined ? fromBase64(pinned.identityKey) : await this.#publishedIdentity(userId, deviceId);
    return SafetyNumber.of(this.identity.publicKey, userStableId(this.userId), remote, userStableId(userId));
  }

  // ---- encrypting and decrypting -------------------------------------------------------------------

  /** One ciphertext per target, starting a session from a freshly claimed bundle where there is
   * none. Sessions are saved before the post: a failed post costs a skipped key, never a reused one. */
  encrypt(targets: readonly Target[], plaintext: Uint8Array): Promise<DeviceCiphertextJson[]> {
    return this.#lock.run(() => this.#encrypt(targets, plaintext));
  }

  async #encrypt(targets: readonly Target[], plaintext: Uint8Array): Promise<DeviceCiphertextJson[]> {
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
        const pinned = await this.trust(deviceId);
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

  /**
   * Decrypts this device's copy of a message. Call it inside `exclusive`, and write the returned
   * `writes` (the advanced session, the spent one-time prekey) in one batch with the message, so a
   * crash never leaves one without the other. Throws `Undecryptable` for a copy that never will.
   */
  async decryptHeld(event: MessageEvent): Promise<{ plaintext: Uint8Array; writes: Write[]; usedOneTime: boolean }> {
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
    const writes: Write[] = [{ store: "sessions", value: record.toJSON(), key: event.sender_device_id }];
    const used = decrypted.usedOneTimePreKeyId;
    if (used !== undefined && prekeys.oneTime.delete(used)) {
      writes.push({ store: "state", value: prekeys.toJSON(), key: "prekeys" });
    }
    return { plaintext: decrypted.plaintext, writes, usedOneTime: used !== undefined };
  }
}
