// Usage: each active key's requests and headroom in the current one-minute rate-limit
// window, and the intents submitted per day, refreshed while the page is shown.

import { api } from "../api.js";
import { busy, errorBox, fill, h, relative, table, time } from "../dom.js";

const REFRESH_MS = 10000;

function keyTable(keys) {
  return table(
    "Requests per key this minute",
    [
      ["Name", (k) => k.name],
      ["Prefix", (k) => h("code", {}, k.prefix)],
      ["Requests", (k) => String(k.requestsThisWindow)],
      ["Limit", (k) => String(k.limit)],
      ["Remaining", (k) => String(k.remaining)],
      // low/high let the browser colour a nearly spent key.
      ["Headroom", (k) => h("meter", { min: 0, max: k.limit, value: k.remaining, low: k.limit * 0.2, high: k.limit * 0.5, optimum: k.limit, "aria-label": `Headroom of ${k.name}` })],
      ["Last used", (k) => (k.lastUsedAt ? time(k.lastUsedAt) : "never")],
    ],
    keys,
  );
}

/** Bars scaled to the busiest day; the stylesheet lays them out, only heights are ours. */
function dayChart(days) {
  const most = Math.max(1, ...days.map((d) => d.intents));
  const first = days[0];
  const last = days[days.length - 1];
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", {}, first ? `Intents submitted per UTC day, ${first.date} to ${last.date} (busiest: ${most}).` : "No days to show."),
    h(
      "div",
      { class: "bars" },
      days.map((d) => {
        const words = `${d.date}: ${d.intents} intents`;
        const bar = h("div", { class: "bar", role: "img", title: words, "aria-label": words });
        bar.style.height = `${(d.intents / most) * 100}%`;
        return bar;
      }),
    ),
  );
}

/** The chart's numbers for screen readers. */
function dayTable(days) {
  return h(
    "div",
    { class: "visually-hidden" },
    table("Intents per day", [["Day", (d) => d.date], ["Intents", (d) => String(d.intents)]], days),
  );
}

export async function render(main) {
  const view = h("div");

  async function load() {
    const usage = await api("/v1/usage");
    fill(
      view,
      h("p", { class: "muted" }, "Counts start again ", relative(usage.windowResetsAt), " (", time(usage.windowResetsAt), ")."),
      keyTable(usage.keys),
      h("h2", {}, "Intents per day"),
      dayChart(usage.intentsPerDay),
      dayTable(usage.intentsPerDay),
    );
  }

  const trouble = h("div");
  // The timer must not disable the button (that would take the focus from it), so only a
  // click goes through busy(); a failure is said once, not every ten seconds.
  const reload = () =>
    load().then(
      () => trouble.replaceChildren(),
      (error) => {
        if (!trouble.hasChildNodes()) trouble.append(errorBox(error));
      },
    );
  const refresh = h("button", { type: "button" }, "Refresh");
  refresh.addEventListener("click", () => busy(refresh, null, reload));

  fill(main, h("h1", {}, "Usage"), h("div", { class: "actions" }, refresh), trouble, view);
  await load();
  // Also stops itself should the router have lost this cleanup (a page replaced while it was
  // still loading).
  const timer = setInterval(() => (view.isConnected ? reload() : clearInterval(timer)), REFRESH_MS);
  return () => clearInterval(timer);
}
