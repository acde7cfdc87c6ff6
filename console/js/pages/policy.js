// The policy in force: what it is, its document (editable by admins, checked as it is typed)
// and a simulator that shows how an intent would be decided, rule by rule.

import { api } from "../api.js";
import { announce, badge, busy, fill, h, json, problem, table, time } from "../dom.js";
import { can } from "../session.js";

const DEBOUNCE_MS = 300;

/**
 * Where and why `text` is not JSON, as "Line 3, column 7: …". Browsers word JSON.parse
 * errors differently and some give no position at all, so this small scanner finds it.
 */
function jsonFault(text) {
  let i = 0;
  const fail = (expected) => {
    throw { at: i, what: `expected ${expected}, ${i < text.length ? `found ${JSON.stringify(text[i])}` : "the text ended"}` };
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i += 1;
  };
  const token = (pattern, fault) => {
    pattern.lastIndex = i;
    if (!pattern.test(text)) fault();
    i = pattern.lastIndex;
  };
  const string = () =>
    token(/"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y, () => {
      throw { at: i, what: "this string is not closed, or holds a bad escape or a raw line break" };
    });
  // Members of an object or items of an array, up to `close`.
  const members = (close, member) => {
    i += 1;
    space();
    if (text[i] === close) return void (i += 1);
    for (;;) {
      member();
      space();
      if (text[i] === close) return void (i += 1);
      if (text[i] !== ",") fail(`',' or '${close}'`);
      i += 1;
    }
  };
  function value() {
    space();
    const c = text[i];
    if (c === "{") {
      members("}", () => {
        space();
        if (text[i] !== '"') fail("a property name in double quotes");
        string();
        space();
        if (text[i] !== ":") fail("':'");
        i += 1;
        value();
      });
    } else if (c === "[") members("]", value);
    else if (c === '"') string();
    else token(/true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y, () => fail("a value"));
  }
  try {
    value();
    space();
    if (i < text.length) fail("the end of the document");
    return null;
  } catch (thrown) {
    if (!thrown || thrown.at === undefined) return null; // not ours (say, nesting too deep)
    const lines = text.slice(0, thrown.at).split("\n");
    return `Line ${lines.length}, column ${lines[lines.length - 1].length + 1}: ${thrown.what}.`;
  }
}

/** `{value}`, or `{fault}` saying where the JSON breaks. */
function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { fault: jsonFault(text) || error.message };
  }
}

/** A failed call as lines: each field of a VALIDATION_ERROR on its own, else the message. */
function faultLines(error) {
  return error.code === "VALIDATION_ERROR" && Array.isArray(error.details)
    ? error.details.map((d) => (d.path && d.path.length ? `${d.path.join(".")}: ${d.message}` : d.message))
    : [problem(error)];
}

/** Lists `lines` in the alert `box` (hidden when empty), marking `control` invalid meanwhile. */
function showFaults(box, lines, control) {
  box.hidden = lines.length === 0;
  fill(box, lines.length ? h("ul", {}, lines.map((line) => h("li", {}, line))) : null);
  if (!control) return;
  if (lines.length) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", box.id);
  } else {
    control.removeAttribute("aria-invalid");
    control.removeAttribute("aria-describedby");
  }
}

const faultBox = (id) => h("div", { id, class: "error", role: "alert", hidden: true });

function describe(about, policy) {
  fill(
    about,
    h(
      "dl",
      {},
      h("dt", {}, "Version"), h("dd", {}, String(policy.version)),
      h("dt", {}, "Source"), h("dd", {}, policy.source, policy.source === "default" ? " (shipped with the service)" : " (stored by this tenant)"),
      h("dt", {}, "Created by"), h("dd", {}, policy.createdBy || "—"),
      h("dt", {}, "Created"), h("dd", {}, time(policy.createdAt)),
      h("dt", {}, "Description"), h("dd", {}, policy.description || "—"),
    ),
  );
}

/** The admin's editor; `saved(policy)` runs after a new version is stored. */
function editor(policy, saved) {
  const errors = faultBox("policy-errors");
  const area = h("textarea", { id: "policy-document", name: "document", rows: 24, spellcheck: "false" }, JSON.stringify(policy.document, null, 2));
  const save = h("button", { type: "submit" }, "Save new version");
  const form = h(
    "form",
    { class: "stack", "aria-label": "Edit the policy" },
    h("label", { for: "policy-document" }, "Policy document (JSON)"),
    area,
    errors,
    h("div", { class: "actions" }, save),
  );
  // The server's faults stay listed while the person fixes them; parse faults follow typing.
  let shownParseFault = false;
  let timer = null;
  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const { fault } = parseJson(area.value);
      if (fault || shownParseFault) showFaults(errors, fault ? [fault] : [], area);
      shownParseFault = Boolean(fault);
    }, DEBOUNCE_MS);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const { value, fault } = parseJson(area.value);
    shownParseFault = Boolean(fault);
    if (fault) {
      showFaults(errors, [fault], area);
      area.focus();
      return;
    }
    busy(save, null, async () => {
      try {
        const stored = await api("/v1/policies", { method: "PUT", body: value });
        showFaults(errors, [], area);
        area.value = JSON.stringify(stored.document, null, 2);
        saved(stored);
      } catch (error) {
        showFaults(errors, faultLines(error), area);
      }
    });
  });
  return { form, stop: () => clearTimeout(timer) };
}

function verdict(simulation) {
  const d = simulation.decision;
  return [
    h(
      "dl",
      {},
      h("dt", {}, "Outcome"), h("dd", {}, badge(d.outcome), " — the intent would start ", badge(simulation.status)),
      h("dt", {}, "Rule"), h("dd", {}, d.rule || "none: the policy's default decided"),
      h("dt", {}, "Reason"), h("dd", {}, d.reason),
      d.blockReason ? [h("dt", {}, "Told to the agent"), h("dd", {}, d.blockReason)] : null,
      d.requiredApprovals ? [h("dt", {}, "Approvers needed"), h("dd", {}, String(d.requiredApprovals), d.roles && d.roles.length ? ` (roles: ${d.roles.join(", ")})` : "")] : null,
      h("dt", {}, "Policy version"), h("dd", {}, String(d.policyVersion)),
    ),
    table(
      "Trace",
      [
        ["Rule", (step) => step.rule],
        ["Matched", (step) => (step.matched ? "yes" : "no")],
        ["Detail", (step) => step.detail],
      ],
      simulation.trace,
      (step) => ({ class: step.matched ? "matched" : null }),
    ),
  ];
}

function simulator() {
  const faults = faultBox("simulate-errors");
  const outcome = h("div");
  const params = h("textarea", { id: "simulate-params", name: "params", rows: 6, spellcheck: "false" }, "{}");
  const run = h("button", { type: "submit" }, "Simulate");
  const input = (label, name, example) => h("label", {}, `${label} `, h("input", { name, required: true, placeholder: example, autocomplete: "off" }));
  const form = h(
    "form",
    { class: "stack card", "aria-label": "Simulate an intent" },
    input("Type", "type", "billing.send_invoice"),
    input("Domain", "domain", "billing"),
    input("Agent", "agent", "billing-agent"),
    h("label", { for: "simulate-params" }, "Params (JSON)"),
    params,
    faults,
    h("div", { class: "actions" }, run),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { value, fault } = parseJson(params.value);
    showFaults(faults, fault ? [`Params: ${fault}`] : [], params);
    if (fault) return;
    const field = form.elements;
    busy(run, null, async () => {
      try {
        const simulation = await api("/v1/policies/simulate", {
          method: "POST",
          body: { type: field.type.value.trim(), domain: field.domain.value.trim(), agentId: field.agent.value.trim(), params: value },
        });
        fill(outcome, verdict(simulation));
        announce(`Simulated: ${simulation.decision.outcome}`);
      } catch (error) {
        outcome.replaceChildren();
        showFaults(faults, faultLines(error));
      }
    });
  });
  return [h("h2", {}, "Simulate"), form, outcome];
}

export async function render(main) {
  const policy = await api("/v1/policies");
  const about = h("section", { class: "card", "aria-label": "Policy in force" });
  describe(about, policy);
  // Everyone may read the policy; only admins get the form (the server refuses others).
  const edit = can.administer()
    ? editor(policy, (stored) => {
        describe(about, stored);
        announce(`Saved policy version ${stored.version}`, "success");
      })
    : null;
  fill(main, h("h1", {}, "Policy"), about, h("h2", {}, "Document"), edit ? edit.form : json(policy.document), simulator());
  return edit ? edit.stop : undefined;
}
