// The intents explorer: every intent of the tenant, newest first, filtered on the server.

import { api } from "../api.js";
import { badge, fill, filterForm, h, pager, select, table, textInput, time } from "../dom.js";

const STATUSES = ["pending", "pending_approval", "approved", "rejected", "blocked", "expired", "cancelled", "completed", "failed"];
const FILTERS = ["status", "agentId", "domain", "type", "from", "to", "page"];

export async function render(main, { query }) {
  const request = new URLSearchParams();
  for (const name of FILTERS) if (query.get(name)) request.set(name, query.get(name));
  request.set("pageSize", "25");
  const list = await api(`/v1/intents?${request}`);
  fill(
    main,
    h("h1", {}, "Intents"),
    filterForm("Filter intents", "/intents", query, [
      { name: "status", label: "Status", control: select("status", STATUSES) },
      { name: "agentId", label: "Agent", control: textInput("agentId", { size: 14 }) },
      { name: "domain", label: "Domain", control: textInput("domain", { size: 10 }) },
      { name: "type", label: "Type", control: textInput("type", { size: 18 }) },
      { name: "from", label: "From", control: textInput("from", { type: "date" }) },
      { name: "to", label: "To", control: textInput("to", { type: "date" }) },
    ]),
    table(
      "Intents, newest first",
      [
        ["Intent", (i) => h("a", { href: `#/intents/${i.id}` }, i.type)],
        ["Status", (i) => badge(i.status)],
        ["Agent", (i) => h("a", { href: `#/agents/${encodeURIComponent(i.agentId)}` }, i.agentId)],
        ["Rule", (i) => i.decision?.rule || "—"],
        ["Created", (i) => time(i.createdAt)],
      ],
      list.items,
    ),
    pager(list, query, "/intents"),
  );
}
