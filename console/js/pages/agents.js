// The agents explorer and one agent's page: its record, trust history and recent intents.

import { api } from "../api.js";
import { badge, fill, filterForm, h, pager, select, table, time } from "../dom.js";

const TIERS = ["T0", "T1", "T2", "T3", "T4"];
const STATUSES = ["active", "suspended"];
const percent = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)} %`);

export async function render(main, { query }) {
  const request = new URLSearchParams({ pageSize: "50" });
  for (const name of ["status", "trustTier", "page"]) if (query.get(name)) request.set(name, query.get(name));
  const list = await api(`/v1/agents?${request}`);
  fill(
    main,
    h("h1", {}, "Agents"),
    filterForm("Filter agents", "/agents", query, [
      { name: "trustTier", label: "Tier", control: select("trustTier", TIERS) },
      { name: "status", label: "Status", control: select("status", STATUSES) },
    ]),
    table(
      "Agents in registration order",
      [
        ["Agent", (a) => h("a", { href: `#/agents/${encodeURIComponent(a.id)}` }, a.id)],
        ["Name", (a) => a.name],
        ["Tier", (a) => badge(a.trustTier, "tier")],
        ["Score", (a) => a.trustScore.toFixed(2)],
        ["Status", (a) => badge(a.status)],
        ["Intents", (a) => String(a.intentCounts.total)],
        ["Registered", (a) => time(a.createdAt)],
      ],
      list.items,
    ),
    pager(list, query, "/agents"),
  );
}

export const detail = {
  async render(main, { params: [id] }) {
    const name = encodeURIComponent(id);
    const [agent, metrics, recent] = await Promise.all([
      api(`/v1/agents/${name}`),
      api(`/v1/agents/${name}/metrics`),
      api(`/v1/intents?agentId=${name}&pageSize=10`),
    ]);
    fill(
      main,
      h("h1", {}, agent.name, " ", badge(agent.trustTier, "tier")),
      h("p", { class: "muted" }, `${agent.id} · ${agent.status}${agent.pinnedTier ? ` · tier pinned at ${agent.pinnedTier}` : ""}`),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Record"),
        h(
          "dl",
          {},
          h("dt", {}, "Trust score"), h("dd", {}, metrics.trustScore.toFixed(2)),
          h("dt", {}, "Approval rate"), h("dd", {}, percent(metrics.approvalRate)),
          h("dt", {}, "Success rate"), h("dd", {}, percent(metrics.successRate)),
          h("dt", {}, "Value generated"), h("dd", {}, String(metrics.valueGenerated)),
          h("dt", {}, "Domains"), h("dd", {}, agent.domains.join(", ") || "any"),
          h("dt", {}, "Intent types"), h("dd", {}, agent.intentTypes.join(", ") || "any"),
        ),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Trust history"),
        table(
          "Trust changes, oldest first",
          [
            ["When", (t) => time(t.at)],
            ["Cause", (t) => t.change.cause],
            ["Tier", (t) => `${t.change.tierBefore} → ${t.change.tier}`],
            ["Score", (t) => `${t.change.scoreBefore.toFixed(2)} → ${t.change.score.toFixed(2)}`],
            ["Intent", (t) => (t.change.intentId ? h("a", { href: `#/intents/${t.change.intentId}` }, t.change.intentId) : "—")],
          ],
          metrics.trustHistory,
        ),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Recent intents"),
        table(
          "The agent's latest intents",
          [
            ["Intent", (i) => h("a", { href: `#/intents/${i.id}` }, i.type)],
            ["Status", (i) => badge(i.status)],
            ["Created", (i) => time(i.createdAt)],
          ],
          recent.items,
        ),
      ),
    );
  },
};
