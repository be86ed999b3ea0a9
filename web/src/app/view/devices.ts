/**
 * The people of a conversation and their devices: for each device with keys, the safety number
 * with it (compare it in person or over a call to know nobody is in between) and whether the user
 * marked it verified. A device's key is pinned on first use, so a changed key stops messages.
 */

import type { Participant } from "../api.js";
import type { Device } from "../device.js";
import { h, replace } from "../dom.js";
import { describe } from "./format.js";

export async function renderDevices(
  panel: HTMLElement,
  device: Device,
  participants: readonly Participant[],
  online: ReadonlyMap<string, boolean>,
): Promise<void> {
  replace(panel, h("p", {}, "Computing safety numbers…"));
  try {
    const people: HTMLElement[] = [];
    for (const participant of participants) {
      const mine = participant.user_id === device.userId;
      const name = mine ? "You" : (participant.username ?? participant.display_name ?? "Contact");
      const rows: HTMLElement[] = [];
      const devices = await device.devicesOf(participant.user_id);
      for (const other of devices.devices) {
        if (other.id === device.deviceId) {
          rows.push(h("li", { class: "device" }, h("p", { class: "meta" }, `This device ${other.id.slice(0, 8)}`)));
          continue;
        }
        if (!other.has_active_keys) {
          rows.push(h("li", { class: "device" }, h("p", { class: "meta" }, `Device ${other.id.slice(0, 8)}: no keys yet`)));
          continue;
        }
        const number = await device.safetyNumber(participant.user_id, other.id);
        const trust = await device.trust(other.id);
        const verified = trust?.verified === true;
        const toggle = h(
          "button",
          {
            type: "button",
            class: "link",
            "aria-pressed": String(verified),
            disabled: trust === undefined,
            onclick: async () => {
              await device.setVerified(other.id, !verified);
              await renderDevices(panel, device, participants, online);
            },
          },
          verified ? "Verified ✓ (undo)" : "Mark as verified",
        );
        rows.push(
          h(
            "li",
            { class: "device", "data-device-id": other.id },
            h("p", { class: "meta" }, `${mine ? "Your other device" : `${name}'s device`} ${other.id.slice(0, 8)}`),
            h("p", { class: "number", "aria-label": `Safety number ${number.groups().join(" ")}` }, number.toString()),
            toggle,
          ),
        );
      }
      const presence = mine ? "" : online.get(participant.user_id) ? " · online" : " · offline";
      people.push(
        h(
          "li",
          { class: "person" },
          h("h4", {}, name, h("span", { class: "meta" }, presence), participant.role === "owner" && participants.length > 2 ? h("span", { class: "meta" }, " · owner") : null),
          h("ul", { class: "devices" }, ...rows),
        ),
      );
    }
    replace(
      panel,
      h("h3", {}, "People and devices"),
      h("p", {}, "Compare a safety number with its owner in person or over a call: if it matches, nobody is in between."),
      h("ul", { class: "people" }, ...people),
    );
  } catch (error) {
    replace(panel, h("p", { class: "error" }, describe(error)));
  }
}
