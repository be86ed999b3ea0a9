/**
 * The live connection (`/v1/ws`), as the SDK's listener (`client/src/listener.rs`) holds it: the
 * token goes in a first `auth` frame (never in the URL, where logs would keep it); every
 * `message:new` is decrypted and stored, then acknowledged with `message:delivered`; a dropped
 * socket is reopened with doubling backoff, and the node then replays whatever was not acknowledged.
 */

import { ApiError } from "./api.js";
import type { Messenger } from "./messenger.js";
import { type MessageEvent, type StoredMessage, Undecryptable } from "./model.js";

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;
/** Keeps the socket from looking idle to the node (which closes one silent for 90 s). */
const KEEPALIVE_MS = 25_000;

export type ConnectionState = "connecting" | "syncing" | "online" | "offline" | "signed-out";

export interface SocketEvents {
  message(message: StoredMessage): void;
  rejected(event: MessageEvent, reason: string): void;
  state(state: ConnectionState, detail?: string): void;
  /** Any other frame (receipts, typing, presence, ...), for the view to use or ignore. */
  frame(frame: { type: string; [field: string]: unknown }): void;
}

export class LiveSocket {
  #socket: WebSocket | undefined;
  #backoff = MIN_BACKOFF_MS;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  /** Frames are handled one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly messenger: Messenger,
    private readonly events: SocketEvents,
  ) {}

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#keepalive);
    this.#socket?.close(1000, "signed out");
    this.#socket = undefined;
  }

  /** Reconnects now instead of after the backoff (the browser came back online). */
  nudge(): void {
    if (this.#stopped || this.#socket !== undefined) return;
    clearTimeout(this.#retry);
    this.#backoff = MIN_BACKOFF_MS;
    this.#connect();
  }

  /** Drops the connection now (the browser went offline: the socket is dead even if not yet closed);
   * the usual backoff then reconnects, and the node replays what this device missed. */
  drop(): void {
    this.#socket?.close(4001, "offline");
  }

  send(frame: object): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  #connect(): void {
    const tokens = this.messenger.api.tokens;
    if (tokens === undefined) {
      this.events.state("signed-out");
      return;
    }
    this.events.state("connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/ws`);
    this.#socket = socket;
    let authenticated = false;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: tokens.accessToken }));
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      const data = message.data;
      this.#queue = this.#queue.then(async () => {
        if (this.#socket !== socket) return;
        const frame = JSON.parse(data) as { type: string; [field: string]: unknown };
        if (frame.type === "ready") authenticated = true;
        await this.#handle(socket, frame);
      });
      this.#queue.catch(() => undefined);
    };
    socket.onclose = (close) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      clearInterval(this.#keepalive);
      if (this.#stopped) return;
      if (!authenticated && close.code === 1008) {
        // The token was refused: one authenticated request refreshes it, or reports the login gone.
        void this.messenger.api.get("/users/me").then(
          () => this.#schedule("the login was refreshed"),
          (error) => {
            if (error instanceof ApiError && error.status === 401) this.events.state("signed-out");
            else this.#schedule(String(error));
          },
        );
        return;
      }
      this.#schedule(close.reason || `closed (${close.code})`);
    };
  }

  #schedule(reason: string): void {
    const wait = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
    this.events.state("offline", `${reason}; retrying in ${Math.round(wait / 100) / 10} s`);
    this.#retry = setTimeout(() => this.#connect(), wait);
  }

  async #handle(socket: WebSocket, frame: { type: string; [field: string]: unknown }): Promise<void> {
    switch (frame.type) {
      case "ready":
        this.#backoff = MIN_BACKOFF_MS;
        this.events.state("syncing");
        clearInterval(this.#keepalive);
        this.#keepalive = setInterval(() => this.send({ type: "ping" }), KEEPALIVE_MS);
        this.messenger.device.refillOneTimePreKeys().catch((error) => console.warn("could not top up one-time prekeys", error));
        return;
      case "sync:complete":
        this.events.state("online");
        return;
      case "message:new": {
        const event = frame as unknown as MessageEvent;
        try {
          const stored = await this.messenger.receive(event);
          if (stored !== undefined) this.events.message(stored);
        } catch (error) {
          if (!(error instanceof Undecryptable)) {
            // Not acknowledged: the node replays it on the next connection.
            console.warn("could not receive a message; reconnecting", error);
            socket.close(4000, "retry");
            return;
          }
          this.events.rejected(event, error.message);
        }
        socket.send(JSON.stringify({ type: "message:delivered", message_id: event.message_id }));
        return;
      }
      case "message:updated": {
        try {
          const stored = await this.messenger.receiveEdit(frame as unknown as MessageEvent);
          if (stored !== undefined) this.events.message(stored);
        } catch (error) {
          console.warn("could not read an edit", error);
        }
        return;
      }
      case "pong":
        return;
      default:
        this.events.frame(frame);
    }
  }
}
