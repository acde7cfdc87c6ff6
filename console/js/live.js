// One Server-Sent Events stream of the tenant's events (GET /v1/events) for the whole page;
// pages subscribe while they are shown.

// crate::webhooks::EVENTS: what /v1/events carries and what webhook endpoints subscribe to.
export const EVENTS = [
  "intent.submitted",
  "intent.approved",
  "intent.rejected",
  "intent.blocked",
  "intent.cancelled",
  "intent.completed",
  "intent.failed",
  "agent.registered",
  "agent.trust.changed",
];

const listeners = new Set();
let source = null;

function dispatch(message) {
  let body = null;
  try {
    body = JSON.parse(message.data);
  } catch {
    return;
  }
  for (const listener of listeners) listener(message.type, body);
}

/** Opens the stream (again, after a sign-in); the browser reconnects by itself after drops. */
export function connect() {
  if (source) source.close();
  source = new EventSource("/v1/events");
  for (const type of EVENTS) source.addEventListener(type, dispatch);
  source.addEventListener("open", () => document.body.classList.remove("offline"));
  source.addEventListener("error", () => {
    document.body.classList.add("offline");
    // A closed stream (signed out, server gone) is not retried by the browser: try later.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
}

export function disconnect() {
  if (source) source.close();
  source = null;
}

/** Calls `listener(type, body)` for every event until the returned function is called. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
