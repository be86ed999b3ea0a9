/** Signing in and creating an account: the one screen before the app. */

import { login, register } from "../account.js";
import type { Device } from "../device.js";
import { field, h, replace } from "../dom.js";
import { describe } from "./format.js";

export function showSignIn(root: HTMLElement, mode: "login" | "register", notice: string, signedIn: (device: Device) => void): void {
  document.title = "Parley: sign in";
  const error = h("p", { class: "error", role: "alert", id: "auth-error" }, notice);
  const busy = (form: HTMLFormElement, on: boolean) => {
    for (const control of Array.from(form.elements)) (control as HTMLInputElement).disabled = on;
  };
  const input = (name: string, label: string, attrs: Record<string, string | boolean> = {}) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: `${mode}-${name}` }, label),
      h("input", { id: `${mode}-${name}`, name, required: true, "aria-describedby": "auth-error", ...attrs }),
    );
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    busy(form, true);
    replace(error, mode === "login" ? "Signing in…" : "Creating your account and keys…");
    try {
      const device =
        mode === "login"
          ? await login(field(form, "identity"), field(form, "password"))
          : await register({
              username: field(form, "username"),
              email: field(form, "email"),
              password: field(form, "password"),
              displayName: field(form, "display_name"),
            });
      signedIn(device);
    } catch (failure) {
      busy(form, false);
      replace(error, describe(failure));
    }
  };
  const form =
    mode === "login"
      ? h(
          "form",
          { onsubmit: submit, "aria-labelledby": "auth-title" },
          input("identity", "Username or email", { autocomplete: "username", autocapitalize: "none", spellcheck: "false" }),
          input("password", "Password", { type: "password", autocomplete: "current-password" }),
          h("button", { type: "submit", class: "primary" }, "Sign in"),
        )
      : h(
          "form",
          { onsubmit: submit, "aria-labelledby": "auth-title" },
          input("username", "Username", {
            autocomplete: "username",
            autocapitalize: "none",
            spellcheck: "false",
            pattern: "[a-z0-9_.\\-]+",
            title: "Lower-case letters, digits, _, . and -",
          }),
          input("email", "Email", { type: "email", autocomplete: "email" }),
          input("password", "Password (at least 8 characters)", { type: "password", autocomplete: "new-password", minlength: "8" }),
          h(
            "div",
            { class: "field" },
            h("label", { for: "register-display_name" }, "Display name (optional)"),
            h("input", { id: "register-display_name", name: "display_name", autocomplete: "nickname" }),
          ),
          h("button", { type: "submit", class: "primary" }, "Create account"),
        );
  replace(
    root,
    h(
      "main",
      { class: "auth" },
      h("h1", {}, "Parley"),
      h("p", { class: "lede" }, "End-to-end encrypted messaging. Your keys stay in this browser."),
      h("h2", { id: "auth-title" }, mode === "login" ? "Sign in" : "Create an account"),
      form,
      error,
      h(
        "p",
        {},
        mode === "login" ? "No account yet? " : "Already have an account? ",
        h(
          "button",
          { type: "button", class: "link", onclick: () => showSignIn(root, mode === "login" ? "register" : "login", "", signedIn) },
          mode === "login" ? "Create one" : "Sign in",
        ),
      ),
    ),
  );
  form.querySelector("input")?.focus();
}

