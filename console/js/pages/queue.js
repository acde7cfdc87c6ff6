// The home page: pending approvals, oldest first, live. Keyboard triage: j/k (or the arrow
// keys) move, Enter opens, a approves, r rejects, / jumps to the filters.

import { all } from "../api.js";
import { confirmDialog } from "../decide.js";
import { announce, badge, duration, fill, filterForm, h, relative, select, table, textInput } from "../dom.js";
import { subscribe } from "../live.js";
import { can } from "../session.js";

const RISKS = ["low", "medium", "high", "critical"];
const REFRESH_MS = 15000;

function timeLeft(expiresAt, now) {
  if (!expiresAt) return "no expiry";
  const ms = new Date(expiresAt).getTime() - now;
  return ms <= 0 ? badge("expiring", "expired") : duration(ms);
}

function matches(query) {
  const wanted = (name) => (query.get(name) || "").toLowerCase();
  return (item) =>
    (!wanted("domain") || item.domain.toLowerCase() === wanted("domain")) &&
    (!wanted("type") || item.intentType.toLowerCase().includes(wanted("type"))) &&
    (!wanted("agent") || item.agentId.toLowerCase().includes(wanted("agent"))) &&
    (!wanted("risk") || item.risk === wanted("risk"));
}

export async function render(main, { query }) {
  if (!can.decide()) {
    fill(
      main,
      h("h1", {}, "Approval queue"),
      h("p", {}, "Your role cannot decide approvals. ", h("a", { href: "#/intents?status=pending_approval" }, "See the intents waiting for approval"), "."),
    );
    return undefined;
  }
  let items = [];
  let seen = null;
  let selected = 0;
  const list = h("div", { class: "queue" });
  const summary = h("p", { class: "muted", "aria-live": "polite" });

  const shown = () => items.filter(matches(query));

  function draw() {
    const rows = shown();
    selected = Math.min(selected, Math.max(0, rows.length - 1));
    const now = Date.now();
    summary.textContent = `${rows.length} waiting${rows.length !== items.length ? ` (of ${items.length})` : ""}.`;
    const focusedId = document.activeElement?.closest?.("tr")?.dataset.id;
    fill(
      list,
      table(
        "Pending approvals, oldest first",
        [
          ["Intent", (q) => h("div", {}, q.subject.kind === "intent" ? h("a", { href: `#/intents/${q.intentId}`, class: "open" }, q.intentType) : h("span", { class: "open", title: `OpenIntent intent ${q.intentId}` }, q.intentType), h("div", { class: "summary" }, q.paramsSummary))],
          ["Agent", (q) => h("div", {}, h("a", { href: `#/agents/${encodeURIComponent(q.agentId)}` }, q.agentId), " ", badge(q.agentTrustTier || "?", "tier"))],
          ["Risk", (q) => badge(q.risk)],
          ["Value", (q) => q.valueCategory || "—"],
          ["Waiting", (q) => relative(q.createdAt, now)],
          ["Time left", (q) => timeLeft(q.expiresAt, now)],
          ["Approvers", (q) => `${q.decisions.filter((d) => d.decision === "approve").length} of ${q.requiredApprovals}`],
          ["Why", (q) => q.routingReason || "—"],
          ["Decide", (q) => h("div", { class: "actions" },
            h("button", { type: "button", class: "decide-approve", "aria-label": `Approve ${q.intentType} from ${q.agentId}`, onclick: () => triage(q, "approve") }, "Approve"),
            h("button", { type: "button", class: "decide-reject", "aria-label": `Reject ${q.intentType} from ${q.agentId}`, onclick: () => triage(q, "reject") }, "Reject"))],
        ],
        rows,
        (q) => ({ dataset: { id: q.id, intentId: q.intentId }, class: rows.indexOf(q) === selected ? "selected" : null }),
      ),
    );
    if (focusedId) list.querySelector(`tr[data-id="${focusedId}"] a.open`)?.focus({ preventScroll: true });
  }

  async function load() {
    const approvals = await all("/v1/approvals?status=pending");
    const arrived = seen ? approvals.filter((a) => !seen.has(a.id)) : [];
    seen = new Set(approvals.map((a) => a.id));
    items = approvals;
    draw();
    for (const a of arrived) list.querySelector(`tr[data-id="${a.id}"]`)?.classList.add("new");
    if (arrived.length) announce(`${arrived.length} new approval${arrived.length > 1 ? "s" : ""}: ${arrived.map((a) => a.intentType).join(", ")}`);
  }

  async function triage(queued, choice) {
    const decided = await confirmDialog(queued, choice);
    if (decided) {
      announce(`${choice === "approve" ? "Approved" : "Rejected"} ${queued.intentType}`);
      await load();
    }
  }

  function move(by) {
    const rows = shown();
    if (!rows.length) return;
    selected = (selected + by + rows.length) % rows.length;
    for (const tr of list.querySelectorAll("tbody tr")) tr.classList.toggle("selected", tr.dataset.id === rows[selected].id);
    list.querySelector(`tr[data-id="${rows[selected].id}"] a.open`)?.focus();
  }

  // Focus (Tab, a click) selects the row it lands in, so the keys act on what is in view.
  list.addEventListener("focusin", (event) => {
    const id = event.target.closest("tr")?.dataset.id;
    const index = shown().findIndex((item) => item.id === id);
    if (index < 0 || index === selected) return;
    selected = index;
    for (const tr of list.querySelectorAll("tbody tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  });

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, dialog")) return;
    const current = shown()[selected];
    const keys = {
      j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
      Enter: () => current && (location.hash = `#/intents/${current.intentId}`),
      o: () => current && (location.hash = `#/intents/${current.intentId}`),
      a: () => current && triage(current, "approve"),
      r: () => current && triage(current, "reject"),
      "/": () => main.querySelector(".filters input, .filters select")?.focus(),
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  fill(
    main,
    h("h1", {}, "Approval queue"),
    filterForm("Filter the queue", "/queue", query, [
      { name: "domain", label: "Domain", control: textInput("domain", { size: 10 }) },
      { name: "type", label: "Type", control: textInput("type", { size: 16 }) },
      { name: "agent", label: "Agent", control: textInput("agent", { size: 14 }) },
      { name: "risk", label: "Risk", control: select("risk", RISKS) },
    ]),
    h("p", { class: "keys", id: "queue-keys" }, "Keys: ", h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " move · ", h("kbd", {}, "Enter"), " open · ", h("kbd", {}, "a"), " approve · ", h("kbd", {}, "r"), " reject · ", h("kbd", {}, "/"), " filter"),
    summary,
    list,
  );
  await load();

  let timer = null;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(() => load().catch(() => {}), 150);
  };
  const unsubscribe = subscribe((type) => {
    if (type.startsWith("intent.") || type === "agent.trust.changed") refresh();
  });
  const ticker = setInterval(() => load().catch(() => {}), REFRESH_MS);
  document.addEventListener("keydown", onKey);
  return () => {
    unsubscribe();
    clearInterval(ticker);
    clearTimeout(timer);
    document.removeEventListener("keydown", onKey);
  };
}
