/**
 * The Parley web app: sign-in (`view/sign-in.ts`), then the list and one conversation at a time
 * (`view/app.ts`, `view/chat.ts`). No framework: a few screens re-rendered from state with `h()` (see
 * `dom.ts`) keep the bundle small and every byte auditable, which matters for the code that holds
 * the keys.
 */

import { restore } from "./account.js";
import type { Device } from "./device.js";
import { App } from "./view/app.js";
import { showSignIn } from "./view/sign-in.js";

const root = document.getElementById("app") as HTMLElement;

function signIn(notice = ""): void {
  showSignIn(root, "login", notice, start);
}

function start(device: Device): void {
  new App(device, root, signIn).start();
}

async function boot(): Promise<void> {
  try {
    const device = await restore();
    if (device !== undefined) {
      start(device);
      return;
    }
  } catch (error) {
    console.warn("could not restore the session", error);
  }
  signIn();
}

void boot();
