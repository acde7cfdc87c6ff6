// The audit log: records with filters, the chain verification (and the head hash to write
// down), and a download that `intendedops audit verify-file` checks offline.

import { api } from "../api.js";
import { busy, fill, filterForm, h, pager, table, textInput, time } from "../dom.js";
import { session } from "../session.js";

const FILTERS = ["eventType", "fromDate", "toDate", "page"];

function verification(result) {
  return h(
    "div",
    { class: result.valid ? "success" : "error", role: "status", id: "verify-result" },
    h("p", {}, h("strong", {}, result.valid ? "The chain is intact" : "The chain is broken"),
      ` — ${result.eventCount} records checked.`,
      result.firstInvalidSequence ? ` The first record that does not fit is #${result.firstInvalidSequence}.` : ""),
    result.headHash
      ? h("p", {}, "Head hash (record it to detect a rewrite later): ", h("code", { class: "hash" }, result.headHash))
      : null,
  );
}

async function download(button) {
  const text = await api("/v1/audit/export", { raw: true });
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
  const link = h("a", { href: url, download: `audit-${session.tenantId}.jsonl` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  button.textContent = "Export again";
}

export async function render(main, { query }) {
  const request = new URLSearchParams();
  for (const name of FILTERS) if (query.get(name)) request.set(name, query.get(name));
  request.set("pageSize", "50");
  const list = await api(`/v1/audit?${request}`);
  const outcome = h("div", { "aria-live": "polite" });
  const verify = h("button", { type: "button" }, "Verify chain");
  verify.addEventListener("click", () =>
    busy(verify, outcome, async () => fill(outcome, verification(await api("/v1/audit/verify")))),
  );
  const exportButton = h("button", { type: "button" }, "Export (JSON Lines)");
  exportButton.addEventListener("click", () => busy(exportButton, outcome, () => download(exportButton)));
  fill(
    main,
    h("h1", {}, "Audit log"),
    h("div", { class: "actions" }, verify, exportButton),
    outcome,
    filterForm("Filter audit records", "/audit", query, [
      { name: "eventType", label: "Event", control: textInput("eventType", { size: 18, placeholder: "intent.submitted" }) },
      { name: "fromDate", label: "From", control: textInput("fromDate", { type: "date" }) },
      { name: "toDate", label: "To", control: textInput("toDate", { type: "date" }) },
    ]),
    table(
      "Audit records, oldest first",
      [
        ["#", (r) => String(r.sequence)],
        ["Event", (r) => r.eventType],
        ["Actor", (r) => r.actor],
        ["Subject", (r) => (r.subject.startsWith("int_") ? h("a", { href: `#/intents/${r.subject}` }, r.subject) : r.subject)],
        ["When", (r) => time(r.createdAt)],
        ["Hash", (r) => h("code", { class: "hash", title: r.hash }, r.hash.slice(0, 12))],
      ],
      list.items,
    ),
    pager(list, query, "/audit"),
  );
}
