// The console's only way to the server: the same /v1 API every client uses, authenticated by
// the session cookie, with the session's CSRF token on every request that changes something.

let csrfToken = null;
let reauthenticate = null;

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.details = error.details || null;
  }
}

export function setCsrfToken(token) {
  csrfToken = token;
}

/** `handler(reason)` resolves once the person has signed in again. */
export function onSessionLost(handler) {
  reauthenticate = handler;
}

/**
 * Calls the API and returns the `data` of its envelope. A 401 on a page that was signed in
 * asks the person to sign in again and then repeats the call, so nothing typed is lost.
 */
export async function api(path, { method = "GET", body, raw = false, retry = true } = {}) {
  const headers = { accept: raw ? "*/*" : "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && retry && reauthenticate && !path.startsWith("/v1/auth/")) {
    await reauthenticate("Your session has ended. Sign in again to carry on where you were.");
    return api(path, { method, body, raw, retry: false });
  }
  if (response.ok && raw) return response.text();
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed && "data" in parsed ? parsed.data : parsed;
}

/** Every item of a paged list, up to `limit` items. */
export async function all(path, limit = 500) {
  const items = [];
  const join = path.includes("?") ? "&" : "?";
  for (let page = 1; items.length < limit; page += 1) {
    const list = await api(`${path}${join}page=${page}&pageSize=100`);
    items.push(...list.items);
    if (list.items.length < 100 || items.length >= list.total) break;
  }
  return items;
}
