/**
 * Voice calls between two users, as `tests/it/webrtc.rs` connects two peers: the call itself lives
 * on the node (`/v1/calls`: created by the caller, which rings the conversation's other participants
 * with `call:incoming`; the callee joins with `PUT .../participants/{me}/status`; either side ends it
 * with `POST .../end`, which everyone hears as `call:ended`), and the browser's `RTCPeerConnection`
 * negotiates the media through the node's WebSocket relay: `call:offer`, `call:answer` and
 * `call:ice`, whose `data` is the JSON of an `RTCSessionDescriptionInit` or an `RTCIceCandidateInit`
 * (what webrtc-rs reads too). The caller offers once the callee has joined (so only the device that
 * accepted answers), to all of the callee's devices; the answer names the caller's device, and every
 * later candidate goes to the one device of the other side.
 */

import type { Api } from "./api.js";

/** `Call` and `CallParticipant` of `protocol/src/api/calls.rs`. */
export interface CallRecord {
  id: string;
  conversation_id: string;
  type: "AUDIO" | "VIDEO";
  status: "INITIATED" | "RINGING" | "CONNECTED" | "ENDED";
  initiator_id: string;
  participants: { user_id: string; status: "INVITED" | "JOINED" | "LEFT"; audio_muted: boolean }[];
}

export type CallPhase = "outgoing" | "incoming" | "connecting" | "connected" | "ended";

/** What the view shows of the current call. */
export interface CallState {
  readonly id: string;
  readonly conversationId: string;
  readonly peerName: string;
  readonly phase: CallPhase;
  readonly outgoing: boolean;
  readonly muted: boolean;
  readonly peerMuted: boolean;
  /** Why it ended, or what went wrong. */
  readonly note: string;
}

export interface CallEvents {
  changed(state: CallState | undefined, remote: MediaStream | undefined): void;
}

type Frame = { type: string; [field: string]: unknown };

interface Active {
  record: CallRecord;
  peerId: string;
  peerName: string;
  phase: CallPhase;
  outgoing: boolean;
  muted: boolean;
  note: string;
  pc?: RTCPeerConnection;
  local?: MediaStream;
  remote?: MediaStream;
  /** The other side's device, once known: every signal after the offer goes to it alone. */
  peerDevice?: string;
  /** Local candidates waiting for the peer's device; remote ones waiting for the remote description. */
  outbox: RTCIceCandidateInit[];
  inbox: RTCIceCandidateInit[];
  offered: boolean;
}

const REASONS: Record<string, string> = {
  COMPLETED: "Call ended",
  MISSED: "Missed call",
  DECLINED: "Call declined",
  FAILED: "Call failed",
  TIMEOUT: "No answer",
  NETWORK_ERROR: "Call dropped (network)",
};

/** Whether this browser can make calls at all. */
export function callsSupported(): boolean {
  return typeof window.RTCPeerConnection === "function" && typeof navigator.mediaDevices?.getUserMedia === "function";
}

/** How long an outgoing call rings before the caller gives up. */
const RING_MS = 60_000;

export class Calls {
  #active: Active | undefined;
  #clear: ReturnType<typeof setTimeout> | undefined;
  #ring: ReturnType<typeof setTimeout> | undefined;
  /** Frames are handled one at a time, in order (an offer's answer before the next candidate). */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: Api,
    private readonly me: string,
    private readonly send: (frame: object) => boolean,
    private readonly events: CallEvents,
  ) {
    if (new URLSearchParams(location.search).has("e2e")) {
      // The browser tests read the connection's state and statistics through this hook.
      Object.assign(window, { parleyCall: { id: () => this.#active?.record.id, peer: () => this.#active?.pc, phase: () => this.#active?.phase } });
    }
  }

  get busy(): boolean {
    return this.#active !== undefined && this.#active.phase !== "ended";
  }

  /** Calls the other participant of a DM. */
  async start(conversationId: string, peerId: string, peerName: string): Promise<void> {
    if (this.busy) throw new Error("You are already in a call.");
    const local = await this.#microphone();
    let record: CallRecord;
    try {
      record = await this.api.post<CallRecord>("/calls", { conversation_id: conversationId, type: "AUDIO" });
    } catch (error) {
      for (const track of local.getTracks()) track.stop();
      throw error;
    }
    this.#begin({ record, peerId, peerName, phase: "outgoing", outgoing: true, local });
    const active = this.#active;
    clearTimeout(this.#ring);
    this.#ring = setTimeout(() => {
      if (this.#active !== active || active?.phase !== "outgoing") return;
      this.#finish(active, "No answer");
      void this.api.post(`/calls/${active.record.id}/end`, { reason: "TIMEOUT" }).catch(() => undefined);
    }, RING_MS);
    this.#maybeOffer();
  }

  async accept(): Promise<void> {
    const active = this.#active;
    if (active?.phase !== "incoming") return;
    try {
      active.local = await this.#microphone();
      await this.#peer(active);
      if (this.#active !== active) return;
      active.phase = "connecting";
      this.#changed();
      await this.api.put(`/calls/${active.record.id}/participants/${this.me}/status`, { status: "JOINED" });
    } catch (error) {
      this.#finish(active, `Could not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async decline(): Promise<void> {
    const active = this.#active;
    if (active?.phase !== "incoming") return;
    this.#finish(active, "Call declined");
    // In a call of more than two, declining only leaves it; otherwise it ends the call.
    if (active.record.participants.length > 2) {
      await this.api.put(`/calls/${active.record.id}/participants/${this.me}/status`, { status: "LEFT" }).catch(() => undefined);
    } else {
      await this.api.post(`/calls/${active.record.id}/end`, { reason: "DECLINED" }).catch(() => undefined);
    }
  }

  async hangUp(): Promise<void> {
    const active = this.#active;
    if (active === undefined || active.phase === "ended") return;
    if (active.phase === "incoming") return this.decline();
    const reason = active.phase === "outgoing" ? "MISSED" : "COMPLETED";
    this.#finish(active, active.phase === "outgoing" ? "Call cancelled" : "Call ended");
    await this.api.post(`/calls/${active.record.id}/end`, { reason }).catch(() => undefined);
  }

  async setMuted(muted: boolean): Promise<void> {
    const active = this.#active;
    if (active === undefined || active.phase === "ended") return;
    active.muted = muted;
    for (const track of active.local?.getAudioTracks() ?? []) track.enabled = !muted;
    this.#changed();
    await this.api.put(`/calls/${active.record.id}/participants/${this.me}/mute`, { audio_muted: muted }).catch(() => undefined);
  }

  /** Forgets an ended call now (the view's Close button). */
  dismiss(): void {
    if (this.#active?.phase !== "ended") return;
    this.#active = undefined;
    this.#changed();
  }

  /** Takes the `call:*` frames; false for any other frame. */
  handle(frame: Frame, peerName: (userId: string) => Promise<string>): boolean {
    if (!frame.type.startsWith("call:")) return false;
    this.#queue = this.#queue
      .then(() => this.#on(frame, peerName))
      .catch((error) => console.warn(`could not handle ${frame.type}`, error));
    return true;
  }

  async #on(frame: Frame, peerName: (userId: string) => Promise<string>): Promise<void> {
    const active = this.#active;
    const record = frame.call as CallRecord | undefined;
    const callId = record?.id ?? (frame.call_id as string | undefined);
    if (frame.type === "call:incoming" && record !== undefined) {
      if (this.busy || record.status === "ENDED") return; // A second call waits; the caller hears no answer.
      const peerId = String(frame.user_id);
      const name = await peerName(peerId).catch(() => "someone");
      if (this.busy) return;
      this.#begin({ record, peerId, peerName: name, phase: "incoming", outgoing: false });
      return;
    }
    if (active === undefined || active.record.id !== callId || active.phase === "ended") return;
    const from = typeof frame.from_device_id === "string" ? frame.from_device_id : undefined;
    switch (frame.type) {
      case "call:updated":
        if (record === undefined) return;
        active.record = record;
        if (active.phase === "incoming" && this.#status(record, this.me) !== "INVITED") {
          this.#finish(active, "Answered on another device");
          return;
        }
        if (this.#status(record, active.peerId) === "LEFT") {
          this.#finish(active, `${active.peerName} left the call`);
          return;
        }
        this.#maybeOffer();
        this.#changed();
        return;
      case "call:ended":
        this.#finish(active, REASONS[String(frame.reason)] ?? "Call ended");
        return;
      case "call:offer":
        if (active.outgoing || active.phase !== "connecting" || active.pc === undefined || from === undefined) return;
        if (active.peerDevice !== undefined && active.peerDevice !== from) return;
        active.peerDevice = from;
        await active.pc.setRemoteDescription(JSON.parse(String(frame.data)) as RTCSessionDescriptionInit);
        await this.#drainInbox(active);
        await active.pc.setLocalDescription(await active.pc.createAnswer());
        this.#signal(active, "call:answer", active.pc.localDescription?.toJSON());
        this.#drainOutbox(active);
        return;
      case "call:answer":
        if (!active.outgoing || active.pc === undefined || from === undefined || active.peerDevice !== undefined) return;
        active.peerDevice = from;
        await active.pc.setRemoteDescription(JSON.parse(String(frame.data)) as RTCSessionDescriptionInit);
        await this.#drainInbox(active);
        this.#drainOutbox(active);
        return;
      case "call:ice": {
        if (active.pc === undefined || (active.peerDevice !== undefined && from !== active.peerDevice)) return;
        active.inbox.push(JSON.parse(String(frame.data)) as RTCIceCandidateInit);
        if (active.pc.remoteDescription !== null) await this.#drainInbox(active);
        return;
      }
      default:
        return;
    }
  }

  #begin(init: Pick<Active, "record" | "peerId" | "peerName" | "phase" | "outgoing"> & { local?: MediaStream }): void {
    clearTimeout(this.#clear);
    this.#active = { ...init, muted: false, note: "", outbox: [], inbox: [], offered: false };
    this.#changed();
  }

  #status(record: CallRecord, user: string): string | undefined {
    return record.participants.find((p) => p.user_id === user)?.status;
  }

  /** The caller offers once the callee joined. */
  #maybeOffer(): void {
    const active = this.#active;
    if (active === undefined || !active.outgoing || active.offered || this.#status(active.record, active.peerId) !== "JOINED") return;
    active.offered = true;
    active.phase = "connecting";
    this.#changed();
    void (async () => {
      const pc = await this.#peer(active);
      await pc.setLocalDescription(await pc.createOffer());
      this.#signal(active, "call:offer", pc.localDescription?.toJSON());
    })().catch((error) => {
      this.#finish(active, `Call failed: ${error instanceof Error ? error.message : String(error)}`);
      void this.api.post(`/calls/${active.record.id}/end`, { reason: "FAILED" }).catch(() => undefined);
    });
  }

  async #peer(active: Active): Promise<RTCPeerConnection> {
    const { ice_servers } = await this.api
      .get<{ ice_servers: RTCIceServer[] }>("/calls/ice-servers")
      .catch(() => ({ ice_servers: [] as RTCIceServer[] }));
    const pc = new RTCPeerConnection({ iceServers: ice_servers });
    active.pc = pc;
    for (const track of active.local?.getTracks() ?? []) pc.addTrack(track, active.local as MediaStream);
    pc.onicecandidate = (event) => {
      if (event.candidate === null || event.candidate.candidate === "") return;
      active.outbox.push(event.candidate.toJSON());
      this.#drainOutbox(active);
    };
    pc.ontrack = (event) => {
      active.remote = event.streams[0] ?? new MediaStream([event.track]);
      this.#changed();
    };
    pc.onconnectionstatechange = () => {
      if (this.#active !== active || active.phase === "ended") return;
      if (pc.connectionState === "connected" && active.phase !== "connected") {
        active.phase = "connected";
        this.#changed();
        // One side tells the node; the caller, so the two do not race.
        if (active.outgoing) void this.api.post(`/calls/${active.record.id}/connected`).catch(() => undefined);
      } else if (pc.connectionState === "failed") {
        this.#finish(active, "Call failed: no connection");
        void this.api.post(`/calls/${active.record.id}/end`, { reason: "NETWORK_ERROR" }).catch(() => undefined);
      }
    };
    return pc;
  }

  async #drainInbox(active: Active): Promise<void> {
    while (active.pc !== undefined && active.inbox.length > 0) {
      const candidate = active.inbox.shift() as RTCIceCandidateInit;
      await active.pc.addIceCandidate(candidate).catch((error) => console.warn("a remote candidate was refused", error));
    }
  }

  #drainOutbox(active: Active): void {
    if (active.peerDevice === undefined) return;
    for (const candidate of active.outbox.splice(0)) this.#signal(active, "call:ice", candidate);
  }

  #signal(active: Active, type: string, data: unknown): void {
    const frame = { type, call_id: active.record.id, to_id: active.peerId, to_device_id: active.peerDevice, data: JSON.stringify(data) };
    if (!this.send(frame)) console.warn(`${type} not sent: the socket is closed`);
  }

  async #microphone(): Promise<MediaStream> {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (error) {
      throw new Error(`The microphone is not available (${error instanceof Error ? error.message : String(error)}).`);
    }
  }

  /** Ends the call here (the node is told by the caller of this, when it has to be). */
  #finish(active: Active, note: string): void {
    if (this.#active !== active || active.phase === "ended") return;
    active.phase = "ended";
    active.note = note;
    active.pc?.close();
    for (const track of active.local?.getTracks() ?? []) track.stop();
    active.remote = undefined;
    this.#changed();
    clearTimeout(this.#clear);
    this.#clear = setTimeout(() => this.dismiss(), 8000);
  }

  #changed(): void {
    const active = this.#active;
    if (active === undefined) {
      this.events.changed(undefined, undefined);
      return;
    }
    const peer = active.record.participants.find((p) => p.user_id === active.peerId);
    this.events.changed(
      {
        id: active.record.id,
        conversationId: active.record.conversation_id,
        peerName: active.peerName,
        phase: active.phase,
        outgoing: active.outgoing,
        muted: active.muted,
        peerMuted: peer?.audio_muted === true,
        note: active.note,
      },
      active.remote,
    );
  }
}
