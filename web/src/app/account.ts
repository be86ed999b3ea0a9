/**
 * Signing in and out. The browser keeps one device per account it signed in to, found by the name
 * typed at sign-in: signing in again reuses the device with its keys and sessions, as the CLI's
 * profile directory does. Signing out ends the node's session and forgets the tokens, not the keys.
 */

import { Api, type AuthResponse, type Me, type Tokens } from "./api.js";
import { Db } from "./db.js";
import { type AccountRecord, Device, loadOrCreateIdentity, openDeviceDb } from "./device.js";
import { randomUuid } from "./model.js";

/** The browser-wide database: which device each sign-in name uses, and the one signed in now. */
function openIndex(): Promise<Db> {
  return Db.open("parley", 1, (db) => {
    db.createObjectStore("logins");
    db.createObjectStore("meta");
  });
}

export interface Registration {
  username: string;
  email: string;
  password: string;
  displayName?: string | undefined;
}

function deviceName(): string {
  const agent = navigator.userAgent;
  const browser = /Firefox\//.test(agent) ? "Firefox" : /Chrom(e|ium)\//.test(agent) ? "Chromium" : /Safari\//.test(agent) ? "Safari" : "a browser";
  return `Web (${browser})`;
}

async function signIn(
  loginName: string,
  request: (deviceId: string) => { path: string; body: Record<string, unknown> },
): Promise<Device> {
  const index = await openIndex();
  try {
    const key = loginName.trim().toLowerCase();
    const deviceId = (await index.get<string>("logins", key)) ?? randomUuid();
    const db = await openDeviceDb(deviceId);
    const identity = await loadOrCreateIdentity(db);
    const known = await db.get<AccountRecord>("state", "account");
    const api = new Api();
    const { path, body } = request(deviceId);
    const auth = await api.post<AuthResponse>(path, body);
    if (auth.device_id !== deviceId) throw new Error("the node signed in another device");
    if (known !== undefined && known.userId !== auth.user_id) {
      throw new Error("this browser's device for that name belongs to another account");
    }
    api.tokens = { sessionId: auth.session_id, accessToken: auth.access_token, refreshToken: auth.refresh_token };
    const me = await api.get<Me>("/users/me");
    const account: AccountRecord = { userId: auth.user_id, username: me.username, deviceId, tokens: api.tokens };
    await db.put("state", account, "account");
    await index.put("logins", deviceId, key);
    await index.put("logins", deviceId, me.username.toLowerCase());
    await index.put("meta", deviceId, "current");
    const device = attach(new Device(db, api, identity, account));
    await device.publishKeys();
    return device;
  } finally {
    index.close();
  }
}

/** Keeps the stored tokens current as the API refreshes them. */
function attach(device: Device): Device {
  device.api.onTokens = async (tokens: Tokens) => {
    const account = await device.db.get<AccountRecord>("state", "account");
    if (account !== undefined) await device.db.put("state", { ...account, tokens }, "account");
  };
  return device;
}

/** Creates an account with a new device of this browser and publishes its keys. */
export function register(registration: Registration): Promise<Device> {
  return signIn(registration.username, (deviceId) => ({
    path: "/auth/register",
    body: {
      username: registration.username.trim(),
      email: registration.email.trim(),
      password: registration.password,
      display_name: registration.displayName?.trim() || undefined,
      device_id: deviceId,
      device_name: deviceName(),
      device_type: "web",
    },
  }));
}

/** Signs in to an account (`identity` is a username, email or phone number) as this browser's device. */
export function login(identity: string, password: string): Promise<Device> {
  return signIn(identity, (deviceId) => ({
    path: "/auth/login",
    body: { identity: identity.trim(), password, device_id: deviceId, device_name: deviceName(), device_type: "web" },
  }));
}

/** The device signed in before this page loaded, if any. Makes no request. */
export async function restore(): Promise<Device | undefined> {
  const index = await openIndex();
  try {
    const deviceId = await index.get<string>("meta", "current");
    if (deviceId === undefined) return undefined;
    const db = await openDeviceDb(deviceId);
    const account = await db.get<AccountRecord>("state", "account");
    if (account?.tokens === undefined) {
      db.close();
      return undefined;
    }
    const identity = await loadOrCreateIdentity(db);
    return attach(new Device(db, new Api(account.tokens), identity, account));
  } finally {
    index.close();
  }
}

/** Ends the node's session and forgets the tokens; the device's keys and history stay. */
export async function logout(device: Device): Promise<void> {
  await device.api.post("/auth/logout", {}).catch(() => undefined);
  await device.db.put("state", { ...device.account, tokens: undefined }, "account");
  const index = await openIndex();
  try {
    await index.delete("meta", "current");
  } finally {
    index.close();
  }
  device.db.close();
}
