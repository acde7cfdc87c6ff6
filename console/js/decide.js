// Deciding an approval: the approve / reject form of the decision page, the confirmation
// dialog of the queue's keyboard triage, and what to say when someone else decided first.

import { api } from "./api.js";
import { badge, busy, errorBox, h, relative } from "./dom.js";

/** POSTs the decision; `note` is the approval's comment or the rejection's reason. */
function decide(approvalId, choice, note) {
  const text = note && note.trim();
  const body = text ? (choice === "approve" ? { comment: text } : { reason: text }) : {};
  return api(`/v1/approvals/${encodeURIComponent(approvalId)}/${choice}`, { method: "POST", body });
}

/** Who decided what, in order. */
export function decisionList(approval) {
  if (!approval.decisions.length) return h("p", { class: "muted" }, "No decisions yet.");
  return h(
    "ul",
    { class: "decisions" },
    approval.decisions.map((d) =>
      h(
        "li",
        {},
        badge(d.decision === "approve" ? "approved" : "rejected"),
        " by ",
        h("strong", {}, d.approverName || d.approver),
        ` ${relative(d.createdAt)}`,
        d.comment ? h("q", {}, d.comment) : null,
      ),
    ),
  );
}

/** The plain words for a decision someone else made first, with their decision. */
async function alreadyResolved(approvalId) {
  let approval = null;
  try {
    approval = await api(`/v1/approvals/${encodeURIComponent(approvalId)}`);
  } catch {
    approval = null;
  }
  return h(
    "div",
    { class: "notice", role: "alert", dataset: { code: "ALREADY_RESOLVED" } },
    h("p", {}, h("strong", {}, "ALREADY_RESOLVED"), " — someone else decided this approval first."),
    approval ? h("p", {}, `It is ${approval.status}${approval.reason ? `: ${approval.reason}` : ""}.`) : null,
    approval ? decisionList(approval) : null,
  );
}

/**
 * Runs a decision and reports in `where`: the result, ALREADY_RESOLVED with the other
 * decision, or the error. Resolves to the updated approval, or null.
 */
async function decideInto(where, approvalId, choice, note) {
  try {
    const approval = await decide(approvalId, choice, note);
    where.replaceChildren(
      h(
        "p",
        { class: "success", role: "status" },
        approval.status === "pending"
          ? `Your ${choice === "approve" ? "approval" : "rejection"} is recorded; ` +
              `${approval.decisions.length} of ${approval.requiredApprovals} approvers so far.`
          : `Done: the intent is ${approval.status}.`,
      ),
    );
    return approval;
  } catch (error) {
    where.replaceChildren(error.code === "ALREADY_RESOLVED" ? await alreadyResolved(approvalId) : errorBox(error));
    return null;
  }
}

/** The decision form of a pending approval. `onDecided(approval)` runs after a decision. */
export function decisionForm(approval, onDecided) {
  const note = h("textarea", { name: "note", rows: 3, id: "decision-note" });
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const button = (choice, label) =>
    h("button", { type: "button", class: `decide-${choice}`, dataset: { choice } }, label);
  const approve = button("approve", "Approve");
  const reject = button("reject", "Reject");
  const run = (choice) => async () => {
    if (choice === "reject" && !note.value.trim()) {
      outcome.replaceChildren(errorBox({ message: "Say why you reject it: the agent and the audit trail keep the reason." }));
      note.focus();
      return;
    }
    await busy(choice === "approve" ? approve : reject, outcome, async () => {
      const decided = await decideInto(outcome, approval.id, choice, note.value);
      if (decided) onDecided(decided);
    });
  };
  approve.addEventListener("click", run("approve"));
  reject.addEventListener("click", run("reject"));
  return h(
    "form",
    { class: "decide", "aria-label": "Decide this approval", onsubmit: (e) => e.preventDefault() },
    h("label", { for: "decision-note" }, "Comment (or reason, to reject)"),
    note,
    h("div", { class: "actions" }, approve, reject),
    outcome,
  );
}

/** A modal asking to confirm `choice` on a queued approval; resolves when it is closed. */
export function confirmDialog(queued, choice) {
  return new Promise((resolve) => {
    const verb = choice === "approve" ? "Approve" : "Reject";
    const note = h("textarea", { rows: 3, "aria-label": choice === "approve" ? "Comment" : "Reason" });
    const outcome = h("div", { "aria-live": "polite" });
    const confirm = h("button", { type: "submit", class: `decide-${choice}` }, verb);
    const cancel = h("button", { type: "button" }, "Cancel");
    const dialog = h(
      "dialog",
      { "aria-label": `${verb} ${queued.intentType}` },
      h(
        "form",
        {},
        h("h2", {}, `${verb} ${queued.intentType}?`),
        h("p", {}, `From ${queued.agentId}: ${queued.paramsSummary}`),
        h("label", {}, choice === "approve" ? "Comment (optional)" : "Reason", note),
        outcome,
        h("div", { class: "actions" }, confirm, cancel),
      ),
    );
    const close = (result) => {
      dialog.close();
      dialog.remove();
      resolve(result);
    };
    cancel.addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", () => close(null));
    dialog.querySelector("form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (choice === "reject" && !note.value.trim()) {
        outcome.replaceChildren(errorBox({ message: "Say why you reject it." }));
        note.focus();
        return;
      }
      confirm.disabled = true;
      const decided = await decideInto(outcome, queued.id, choice, note.value);
      confirm.disabled = false;
      if (decided) close(decided);
      else cancel.textContent = "Close";
    });
    document.body.append(dialog);
    dialog.showModal();
    note.focus();
  });
}

