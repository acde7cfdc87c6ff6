// The console's shell: sign-in on load, the navigation, and a hash router that shows one page
// at a time (each page may return a cleanup, run when the next page is shown).

import { fill, h, problem } from "./dom.js";
import { connect, disconnect } from "./live.js";
import { can, restore, session, signIn, signOut, whenSignedIn } from "./session.js";
import * as agents from "./pages/agents.js";
import * as audit from "./pages/audit.js";
import * as intent from "./pages/intent.js";
import * as intents from "./pages/intents.js";
import * as keys from "./pages/keys.js";
import * as policy from "./pages/policy.js";
import * as queue from "./pages/queue.js";
import * as usage from "./pages/usage.js";
import * as users from "./pages/users.js";
import * as webhooks from "./pages/webhooks.js";

// [pattern, section, page]; a pattern's groups are the page's params.
const ROUTES = [
  [/^\/queue$/, "queue", queue],
  [/^\/intents\/([^/]+)$/, "intents", intent],
  [/^\/intents$/, "intents", intents],
  [/^\/agents\/([^/]+)$/, "agents", agents.detail],
  [/^\/agents$/, "agents", agents],
  [/^\/audit$/, "audit", audit],
  [/^\/keys$/, "keys", keys],
  [/^\/webhooks\/([^/]+)$/, "webhooks", webhooks.detail],
  [/^\/webhooks$/, "webhooks", webhooks],
  [/^\/users$/, "users", users],
  [/^\/policy$/, "policy", policy],
  [/^\/usage$/, "usage", usage],
];

const main = document.getElementById("main");
let cleanup = null;
let shownUser = null;
// Which navigation is current: a slow page that finishes after the next one started must
// neither draw over it nor keep its cleanup.
let generation = 0;

function home() {
  return can.decide() ? "#/queue" : "#/intents?status=pending_approval";
}

async function show() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) {
    location.replace(home());
    return;
  }
  const [pattern, section, page] = route;
  const params = pattern.exec(path).slice(1).map(decodeURIComponent);
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const current = ++generation;
  // Admin sections (marked in the navigation) are not offered to other roles; the API
  // refuses their calls to them regardless.
  const link = document.querySelector(`#nav a[data-section="${section}"]`);
  if (link?.closest("[data-role=admin]") && !can.administer()) {
    fill(main, h("h1", {}, link.textContent), h("p", {}, "This page needs the admin role."));
    focusHeading();
    return;
  }
  fill(main, h("p", { class: "muted" }, "Loading…"));
  let outcome;
  try {
    outcome = await page.render(main, { params, query: new URLSearchParams(search) });
  } catch (error) {
    if (current === generation) {
      fill(main, h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, problem(error)));
    }
  }
  if (current !== generation) {
    if (typeof outcome === "function") outcome();
    return;
  }
  cleanup = outcome;
  focusHeading();
}

/** Names the tab after the page and moves focus to its heading, for screen readers. */
function focusHeading() {
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : "Console"} · IntendedOps`;
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function showShell() {
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  for (const item of document.querySelectorAll("#nav [data-role=admin]")) item.hidden = !can.administer();
  document.getElementById("who").textContent =
    `${session.user.email} · ${session.user.role} · ${session.tenantId}`;
  // Someone else signed in on this page: what it shows was theirs to see.
  if (shownUser && shownUser !== session.user.id) {
    shownUser = session.user.id;
    show();
  }
  shownUser = session.user.id;
}

// Every sign-in (the first, after signing out, or after a lost session) opens the shell and
// the event stream with the new cookie.
whenSignedIn(() => {
  showShell();
  connect();
});

async function start() {
  if (await restore()) {
    showShell();
    connect();
  } else {
    await signIn();
  }
  window.addEventListener("hashchange", show);
  if (!location.hash || location.hash === "#/") location.replace(home());
  else show();
}

document.getElementById("sign-out").addEventListener("click", async () => {
  disconnect();
  await signOut();
  shownUser = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  fill(main, h("h1", {}, "Signed out"));
  await signIn("You have signed out.");
  location.hash = home();
  show();
});

start();
