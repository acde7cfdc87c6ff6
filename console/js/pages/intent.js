// The decision page of one intent: its params, the policy decision and why (with the trace
// of the policy in force), the agent's record, the approvals so far, and the decision form.

import { api } from "../api.js";
import { decisionForm, decisionList } from "../decide.js";
import { badge, errorBox, fill, h, json, problem, table, time } from "../dom.js";
import { subscribe } from "../live.js";
import { can } from "../session.js";

const percent = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)} %`);

function decisionSection(intent, trace) {
  const d = intent.decision;
  return h(
    "section",
    { class: "card", "aria-labelledby": "decision-title" },
    h("h2", { id: "decision-title" }, "Policy decision"),
    d
      ? h(
          "dl",
          {},
          h("dt", {}, "Outcome"), h("dd", {}, badge(d.outcome)),
          h("dt", {}, "Rule"), h("dd", {}, d.rule || "the policy's default"),
          h("dt", {}, "Why"), h("dd", {}, d.reason),
          d.blockReason ? [h("dt", {}, "Block reason"), h("dd", {}, d.blockReason)] : null,
          h("dt", {}, "Policy version"), h("dd", {}, String(d.policyVersion)),
          d.requiredApprovals ? [h("dt", {}, "Approvers needed"), h("dd", {}, String(d.requiredApprovals))] : null,
        )
      : h("p", { class: "muted" }, "Not decided yet."),
    traceTable(trace, d),
  );
}

function traceTable(trace, decision) {
  if (!trace) return null;
  if (trace.error) return h("p", { class: "muted" }, `No trace: ${problem(trace.error)}`);
  const version = trace.decision?.policyVersion;
  const same = decision && version === decision.policyVersion;
  return h(
    "div",
    {},
    h("h3", {}, "Rules tried"),
    h("p", { class: "muted" }, same
      ? `The policy in force (version ${version}) read against this intent, rule by rule.`
      : `The policy in force now (version ${version}) read against this intent; it was decided under version ${decision?.policyVersion ?? "—"}.`),
    table(
      "Rules tried, in order",
      [
        ["Rule", (s) => s.rule],
        ["Matched", (s) => (s.matched ? "yes" : "no")],
        ["Detail (the failing predicate)", (s) => s.detail],
      ],
      trace.trace || [],
      (s) => ({ class: s.matched ? "matched" : null }),
    ),
  );
}

function agentSection(intent, metrics, recent) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "agent-title" },
    h("h2", { id: "agent-title" }, "Agent ", h("a", { href: `#/agents/${encodeURIComponent(intent.agentId)}` }, intent.agentId)),
    metrics
      ? h(
          "dl",
          {},
          h("dt", {}, "Trust tier"), h("dd", {}, badge(metrics.trustTier, "tier"), ` score ${metrics.trustScore.toFixed(2)}`),
          h("dt", {}, "Approval rate"), h("dd", {}, percent(metrics.approvalRate)),
          h("dt", {}, "Success rate"), h("dd", {}, percent(metrics.successRate)),
        )
      : h("p", { class: "muted" }, "The agent's record is not available."),
    h("h3", {}, `Recent ${intent.type} intents`),
    table(
      "Recent intents of the same type by this agent",
      [
        ["Intent", (i) => h("a", { href: `#/intents/${i.id}` }, i.id)],
        ["Status", (i) => badge(i.status)],
        ["Created", (i) => time(i.createdAt)],
      ],
      recent.filter((i) => i.id !== intent.id).slice(0, 5),
    ),
  );
}

function approvalsSection(detail) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "approvals-title", id: "approvals" },
    h("h2", { id: "approvals-title" }, "Approvals"),
    detail.approvals.length === 0
      ? h("p", { class: "muted" }, "Policy asked for no approval.")
      : detail.approvals.map((a) =>
          h(
            "div",
            { class: "approval", dataset: { id: a.id } },
            h("p", {}, badge(a.status), ` ${a.decisions.filter((d) => d.decision === "approve").length} of ${a.requiredApprovals} approvers`,
              a.expiresAt && a.status === "pending" ? [" · expires ", time(a.expiresAt)] : null,
              a.reason ? ` · ${a.reason}` : null),
            decisionList(a),
          ),
        ),
  );
}

async function optional(promise) {
  try {
    return await promise;
  } catch (error) {
    return { error };
  }
}

export async function render(main, { params: [id] }) {
  const load = () => api(`/v1/intents/${encodeURIComponent(id)}`);
  let detail = await load();
  const query = new URLSearchParams({ agentId: detail.agentId, type: detail.type, pageSize: "6" });
  const [metrics, recent, trace] = await Promise.all([
    optional(api(`/v1/agents/${encodeURIComponent(detail.agentId)}/metrics`)),
    optional(api(`/v1/intents?${query}`)),
    optional(api("/v1/policies/simulate", {
      method: "POST",
      body: { type: detail.type, domain: detail.domain, agentId: detail.agentId, params: detail.params },
    })),
  ]);
  const pending = () => detail.approvals.find((a) => a.status === "pending");
  const approvals = h("div", {});
  const banner = h("div", { "aria-live": "polite" });
  const status = h("span", {});
  const drawState = () => {
    fill(status, badge(detail.status));
    fill(approvals, approvalsSection(detail));
  };
  const open = pending();
  fill(
    main,
    h("h1", {}, detail.type, " ", status),
    h("p", { class: "muted" }, `${detail.id} · ${detail.domain} · submitted `, time(detail.createdAt)),
    banner,
    open && can.decide()
      ? h("section", { class: "card", "aria-labelledby": "decide-title" }, h("h2", { id: "decide-title" }, "Your decision"),
          decisionForm(open, async () => {
            detail = await load();
            drawState();
          }))
      : null,
    open && !can.decide() ? h("p", { class: "notice" }, "Waiting for an approver. Your role can read it but not decide.") : null,
    h("section", { class: "card", "aria-labelledby": "params-title" }, h("h2", { id: "params-title" }, "Params"), json(detail.params),
      detail.justification ? h("p", {}, h("strong", {}, "Justification: "), detail.justification) : null,
      detail.description ? h("p", {}, h("strong", {}, "Description: "), detail.description) : null),
    decisionSection(detail, trace),
    approvals,
    agentSection(detail, metrics.error ? null : metrics, recent.error ? [] : recent.items),
    detail.result || detail.error
      ? h("section", { class: "card" }, h("h2", {}, "Outcome"), detail.error ? errorBox({ message: detail.error }) : json(detail.result))
      : null,
  );
  drawState();
  // Someone else deciding (or the agent reporting) changes this page: say so, keep the form.
  return subscribe(async (type, event) => {
    if (event?.data?.intentId !== id) return;
    const before = detail.status;
    detail = await load();
    drawState();
    if (before !== detail.status) {
      fill(banner, h("p", { class: "notice", role: "status" }, `This intent is now ${detail.status} (${type}).`));
    }
  });
}
