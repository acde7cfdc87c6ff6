// Webhook endpoints: register one (its signing secret is shown once), list them, and one
// endpoint's page: test, rotate, enable/disable, delete, and its deliveries, kept fresh.

import { all, api } from "../api.js";
import { announce, badge, busy, confirmAction, errorBox, fill, h, pager, secretOnce, table, time } from "../dom.js";
import { EVENTS, subscribe } from "../live.js";

const POLL_MS = 5000;
// Deliveries are queued asynchronously after an event: look a moment later.
const AFTER_EVENT_MS = 1000;

const enabledText = (e) => (e.enabled ? "yes" : ["no", e.disabledReason ? ` — ${e.disabledReason}` : ""]);

export async function render(main) {
  const list = h("div");
  const outcome = h("div");
  const submit = h("button", { type: "submit" }, "Create endpoint");
  const form = h(
    "form",
    { class: "stack card", "aria-label": "Create a webhook endpoint" },
    h("label", {}, "URL ", h("input", { name: "url", type: "url", required: true, placeholder: "https://example.com/hooks" })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Events"),
      EVENTS.map((event) => h("label", {}, h("input", { type: "checkbox", name: "events", value: event }), ` ${event}`)),
    ),
    h("label", {}, "Description ", h("input", { name: "description", autocomplete: "off" })),
    submit,
  );

  async function load() {
    fill(
      list,
      table(
        "Webhook endpoints",
        [
          ["URL", (e) => h("a", { href: `#/webhooks/${encodeURIComponent(e.id)}` }, e.url)],
          ["Events", (e) => e.events.join(", ")],
          ["Enabled", enabledText],
          ["Failing since", (e) => time(e.failingSince)],
          ["Created", (e) => time(e.createdAt)],
        ],
        await all("/v1/webhooks"),
      ),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, outcome, async () => {
      const field = form.elements;
      const description = field.description.value.trim();
      const created = await api("/v1/webhooks", {
        method: "POST",
        body: {
          url: field.url.value.trim(),
          events: [...field.events].filter((box) => box.checked).map((box) => box.value),
          ...(description ? { description } : {}),
        },
      });
      form.reset();
      fill(outcome, secretOnce("Signing secret", created.secret));
      outcome.querySelector("input")?.focus();
      announce(`Created the endpoint for ${created.url}: copy its signing secret now`, "success");
      await load();
    });
  });

  fill(main, h("h1", {}, "Webhooks"), form, outcome, list);
  await load();
  return undefined;
}

/** One attempt in a line: number, when, what came back, how long it took. */
function attemptLine(a) {
  const answer = [
    a.statusCode !== null && a.statusCode !== undefined ? `HTTP ${a.statusCode}` : null,
    // The error often just repeats the status ("HTTP 503"); say it only when it adds something.
    a.error && a.error !== `HTTP ${a.statusCode}` ? a.error : null,
  ].filter(Boolean);
  return h("li", {}, `Attempt ${a.attempt} · `, time(a.startedAt), ` · ${answer.join(", ") || "no response"} · ${a.latencyMs} ms`);
}

function pingReport(ping) {
  const answer = ping.statusCode === null || ping.statusCode === undefined ? "no response" : `HTTP ${ping.statusCode}`;
  return h(
    "p",
    { class: ping.delivered ? "success" : "error", role: "status" },
    ping.delivered ? "Test event delivered: " : "Test event not delivered: ",
    `${ping.error || answer} in ${ping.latencyMs} ms (event ${ping.eventId}).`,
  );
}

async function renderDetail(main, { params: [id], query }) {
  const path = `/v1/webhooks/${encodeURIComponent(id)}`;
  const page = query.get("page") || "1";
  let endpoint = await api(path);

  const facts = h("dl");
  const result = h("div");
  // Apart from `result`, which every button's failure clears, so a new secret stays visible.
  const secretSlot = h("div");
  const toggle = h("button", { type: "button" });
  const deliveries = h("div");
  const trouble = h("div");

  function drawFacts() {
    fill(
      facts,
      h("dt", {}, "URL"), h("dd", {}, endpoint.url),
      h("dt", {}, "Description"), h("dd", {}, endpoint.description || "—"),
      h("dt", {}, "Events"), h("dd", {}, endpoint.events.join(", ")),
      h("dt", {}, "Enabled"), h("dd", {}, enabledText(endpoint)),
      h("dt", {}, "Failing since"), h("dd", {}, time(endpoint.failingSince)),
      endpoint.previousSecretValidUntil
        ? [h("dt", {}, "Previous secret signs until"), h("dd", {}, time(endpoint.previousSecretValidUntil))]
        : null,
      h("dt", {}, "Created"), h("dd", {}, time(endpoint.createdAt)),
      h("dt", {}, "Updated"), h("dd", {}, time(endpoint.updatedAt)),
    );
    toggle.textContent = endpoint.enabled ? "Disable" : "Enable";
  }

  const test = h("button", { type: "button" }, "Send test event");
  test.addEventListener("click", () =>
    busy(test, result, async () => fill(result, pingReport(await api(`${path}/test`, { method: "POST" })))),
  );

  const rotate = h("button", { type: "button" }, "Rotate secret");
  rotate.addEventListener("click", async () => {
    const sure = await confirmAction(
      "Rotate the signing secret? For 24 hours the current one still signs, in x-intendedops-signature-previous.",
      "Rotate",
    );
    if (!sure) return;
    await busy(rotate, result, async () => {
      const { secret, ...rotated } = await api(`${path}/rotate`, { method: "POST" });
      endpoint = rotated;
      drawFacts();
      fill(secretSlot, secretOnce("New signing secret", secret));
      secretSlot.querySelector("input")?.focus();
    });
  });

  toggle.addEventListener("click", () =>
    busy(toggle, result, async () => {
      endpoint = await api(path, { method: "PATCH", body: { enabled: !endpoint.enabled } });
      drawFacts();
      announce(endpoint.enabled ? "Endpoint enabled" : "Endpoint disabled");
    }),
  );

  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  remove.addEventListener("click", async () => {
    if (!(await confirmAction(`Delete the endpoint ${endpoint.url}? Its undelivered events are given up.`, "Delete"))) return;
    await busy(remove, result, async () => {
      await api(path, { method: "DELETE" });
      announce(`Deleted the endpoint ${endpoint.url}`);
      location.hash = "#/webhooks";
    });
  });

  function retryButton(delivery) {
    const button = h("button", { type: "button", "aria-label": `Retry delivery ${delivery.id}` }, "Retry");
    button.addEventListener("click", () =>
      busy(button, null, async () => {
        await api(`${path}/deliveries/${encodeURIComponent(delivery.id)}/retry`, { method: "POST" });
        announce("Delivery due again now");
        await refresh();
      }),
    );
    return button;
  }

  async function loadDeliveries() {
    const list = await api(`${path}/deliveries?page=${encodeURIComponent(page)}&pageSize=20`);
    // Redrawn every few seconds: keep the focus on the same Retry button if it is still there.
    const focused = deliveries.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    fill(
      deliveries,
      table(
        "Deliveries",
        [
          ["Event", (d) => d.event],
          ["Status", (d) => badge(d.status)],
          ["Attempts", (d) => (d.attempts.length ? h("ul", {}, d.attempts.map(attemptLine)) : h("span", { class: "muted" }, "none yet"))],
          ["Next attempt", (d) => time(d.nextAttemptAt)],
          ["Created", (d) => time(d.createdAt)],
          ["Actions", (d) => (d.status === "delivered" ? null : retryButton(d))],
        ],
        list.items,
      ),
      pager(list, query, `/webhooks/${encodeURIComponent(id)}`),
    );
    if (focused) deliveries.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
  }

  // One load at a time: the poll, a live event and the button may all ask at once.
  let loading = null;
  const refresh = () =>
    (loading ??= loadDeliveries()
      .then(() => trouble.replaceChildren())
      .catch((error) => {
        // A failing poll says so once, not every five seconds.
        if (!trouble.hasChildNodes()) trouble.append(errorBox(error));
      })
      .finally(() => (loading = null)));

  const again = h("button", { type: "button" }, "Refresh deliveries");
  again.addEventListener("click", () => busy(again, null, refresh));

  drawFacts();
  const section = h("section", { class: "card" }, h("h2", {}, "Deliveries"), h("div", { class: "actions" }, again), trouble, deliveries);
  fill(
    main,
    h("p", {}, h("a", { href: "#/webhooks" }, "← Webhook endpoints")),
    h("h1", {}, "Webhook endpoint"),
    h("section", { class: "card" }, facts, h("div", { class: "actions" }, test, rotate, toggle, remove), result, secretSlot),
    section,
  );
  await refresh();

  let soon = null;
  const unsubscribe = subscribe(() => {
    clearTimeout(soon);
    soon = setTimeout(refresh, AFTER_EVENT_MS);
  });
  const poll = setInterval(() => (section.isConnected ? refresh() : stop()), POLL_MS);
  // Also stopped by the poll itself should the router have lost this cleanup (a page
  // replaced while it was still loading).
  function stop() {
    unsubscribe();
    clearTimeout(soon);
    clearInterval(poll);
  }
  return stop;
}

export const detail = { render: renderDetail };
