/**
 * The call bar under the header, shown while a call rings, connects, runs or has just ended: the
 * incoming-call banner (Accept, Decline; focus moves to it), the outgoing "Calling …" with Hang up,
 * and the in-call bar with Mute and Hang up. The other side's audio plays from a hidden `<audio>`.
 */

import type { CallState, Calls } from "../calls.js";
import { h, replace } from "../dom.js";

export class CallBar {
  readonly element = h("section", { class: "call", "aria-label": "Call", tabindex: "-1", hidden: true });
  readonly #audio = h("audio", { autoplay: true });
  #phase: string | undefined;
  #since = 0;
  #tick: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly calls: Calls) {}

  render(state: CallState | undefined, remote: MediaStream | undefined): void {
    if (this.#audio.srcObject !== (remote ?? null)) {
      this.#audio.srcObject = remote ?? null;
      if (remote !== undefined) this.#audio.play().catch((error) => console.warn("the call's audio did not start", error));
    }
    const entered = state?.phase !== this.#phase;
    this.#phase = state?.phase;
    this.element.hidden = state === undefined;
    if (state === undefined) {
      clearInterval(this.#tick);
      replace(this.element);
      return;
    }
    this.element.dataset.phase = state.phase;
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.action : undefined;
    const button = (action: string, label: string, onclick: () => void, extra: Record<string, string> = {}) =>
      h("button", { type: "button", "data-action": action, class: action === "hang-up" || action === "decline" ? "danger" : action === "accept" ? "primary" : "", onclick, ...extra }, label);
    const elapsed = h("span", { class: "elapsed" });
    const text: Record<CallState["phase"], string> = {
      incoming: `Incoming voice call from ${state.peerName}`,
      outgoing: `Calling ${state.peerName}…`,
      connecting: `Connecting to ${state.peerName}…`,
      connected: `In a call with ${state.peerName}`,
      ended: state.note,
    };
    const controls =
      state.phase === "incoming"
        ? [button("accept", "Accept", () => void this.calls.accept()), button("decline", "Decline", () => void this.calls.decline())]
        : state.phase === "ended"
          ? [button("close", "Close", () => this.calls.dismiss())]
          : [
              state.phase === "outgoing"
                ? null
                : button("mute", "Mute", () => void this.calls.setMuted(!state.muted), { "aria-pressed": String(state.muted) }),
              button("hang-up", state.phase === "outgoing" ? "Cancel call" : "Hang up", () => void this.calls.hangUp()),
            ];
    replace(
      this.element,
      h(
        "p",
        { class: "what", role: "status", "aria-live": state.phase === "incoming" ? "assertive" : "polite" },
        h("span", { "aria-hidden": "true", class: "icon" }, state.phase === "ended" ? "☎ " : "📞 "),
        text[state.phase],
        state.phase === "connected" ? elapsed : null,
        state.phase === "connected" && state.peerMuted ? h("span", { class: "peer-muted" }, ` · ${state.peerName} is muted`) : null,
        state.phase !== "ended" && state.phase !== "incoming" && state.muted ? h("span", { class: "peer-muted" }, " · you are muted") : null,
      ),
      h("div", { class: "controls" }, ...controls),
      this.#audio,
    );
    clearInterval(this.#tick);
    if (state.phase === "connected") {
      if (entered) this.#since = Date.now();
      const show = () => {
        const seconds = Math.floor((Date.now() - this.#since) / 1000);
        replace(elapsed, ` · ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`);
      };
      show();
      this.#tick = setInterval(show, 1000);
    }
    if (focused !== undefined) {
      // The focused control may be gone (Accept once answered): the first one left takes the focus.
      const same = this.element.querySelector<HTMLElement>(`[data-action="${focused}"]`);
      (same ?? this.element.querySelector<HTMLElement>("[data-action]"))?.focus();
    }
    if (entered && state.phase === "incoming") this.element.focus();
  }
}
