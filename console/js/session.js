// Who is signed in, what their role lets the page offer, and the sign-in dialog. The page
// only hides what a role cannot do; the server refuses it regardless.

import { api, onSessionLost, setCsrfToken } from "./api.js";

export const session = { tenantId: null, user: null, expiresAt: null };

const DECIDERS = new Set(["admin", "approver"]);

export const can = {
  decide: () => DECIDERS.has(session.user?.role),
  administer: () => session.user?.role === "admin",
};

function apply(data) {
  session.tenantId = data.tenantId;
  session.user = data.user;
  session.expiresAt = data.expiresAt;
  setCsrfToken(data.csrfToken);
}

/** Picks up a session the browser already holds (a reload); false when there is none. */
export async function restore() {
  try {
    apply(await api("/v1/auth/session", { retry: false }));
    return true;
  } catch (error) {
    if (error.status === 401) return false;
    throw error;
  }
}

export async function signOut() {
  try {
    await api("/v1/auth/logout", { method: "POST", retry: false });
  } finally {
    session.user = null;
    setCsrfToken(null);
  }
}

let pending = null;
const signedInListeners = new Set();

/** Calls `listener(session)` after every sign-in through the dialog. */
export function whenSignedIn(listener) {
  signedInListeners.add(listener);
}

/**
 * Shows the sign-in dialog over whatever the page holds and resolves once signed in. A
 * lost session on a page in use keeps that page (and any reason being typed) underneath.
 */
export function signIn(why = "") {
  if (pending) return pending;
  const dialog = document.getElementById("sign-in-dialog");
  const form = document.getElementById("sign-in-form");
  const failure = document.getElementById("sign-in-error");
  document.getElementById("sign-in-why").textContent = why;
  failure.textContent = "";
  if (session.tenantId) form.elements.tenantId.value = session.tenantId;
  if (session.user) form.elements.email.value = session.user.email;
  pending = new Promise((resolve) => {
    const blockEscape = (event) => event.preventDefault();
    const submit = async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      failure.textContent = "";
      try {
        const data = await api("/v1/auth/login", {
          method: "POST",
          retry: false,
          body: {
            tenantId: form.elements.tenantId.value.trim(),
            email: form.elements.email.value.trim(),
            password: form.elements.password.value,
          },
        });
        apply(data);
        form.elements.password.value = "";
        form.removeEventListener("submit", submit);
        dialog.removeEventListener("cancel", blockEscape);
        dialog.close();
        pending = null;
        for (const listener of signedInListeners) listener(session);
        resolve(session);
      } catch (error) {
        failure.textContent =
          error.status === 401
            ? "That tenant, email and password do not match an active account."
            : error.message;
      } finally {
        button.disabled = false;
      }
    };
    form.addEventListener("submit", submit);
    dialog.addEventListener("cancel", blockEscape);
    dialog.showModal();
    (form.elements.tenantId.value ? form.elements.password : form.elements.tenantId).focus();
  });
  return pending;
}

onSessionLost((why) => signIn(why));
