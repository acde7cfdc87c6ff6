// API keys: create one (its secret is shown once, under the form), list them, revoke one.

import { api } from "../api.js";
import { announce, busy, confirmAction, fill, h, pager, secretOnce, table, time } from "../dom.js";

const SCOPES = ["admin", "agent", "approver", "read"];
const PAGE_SIZE = 20;

/** "a, b,,c " → ["a", "b", "c"]. */
const commaList = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

export async function render(main, { query }) {
  const page = query.get("page") || "1";
  const list = h("div");
  // The one place the new key appears: it lives only in this render, so it is gone after
  // navigating away and back.
  const outcome = h("div");
  const submit = h("button", { type: "submit" }, "Create key");
  const form = h(
    "form",
    { class: "stack card", "aria-label": "Create an API key" },
    h("label", {}, "Name ", h("input", { name: "name", required: true, autocomplete: "off" })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Scopes"),
      SCOPES.map((scope) => h("label", {}, h("input", { type: "checkbox", name: "scopes", value: scope }), ` ${scope}`)),
    ),
    h("label", {}, "Bound agents (comma-separated) ", h("input", { name: "agents", autocomplete: "off" })),
    h("label", {}, "Owner (user id or email, optional) ", h("input", { name: "owner", autocomplete: "off" })),
    submit,
  );

  async function load() {
    const keys = await api(`/v1/keys?page=${encodeURIComponent(page)}&pageSize=${PAGE_SIZE}`);
    fill(
      list,
      table(
        "API keys",
        [
          ["Name", (k) => k.name],
          ["Prefix", (k) => h("code", {}, k.prefix)],
          ["Scopes", (k) => k.scopes.join(", ")],
          ["Bound agents", (k) => (k.agents.length ? k.agents.join(", ") : h("span", { class: "muted" }, "any agent"))],
          ["Created", (k) => time(k.createdAt)],
          ["Last used", (k) => (k.lastUsedAt ? time(k.lastUsedAt) : "never")],
          ["Status", (k) => (k.revokedAt ? ["revoked ", time(k.revokedAt)] : "active")],
          // In a named group, so the cell is named "Key actions" and not after the key (a
          // lookup of the key's name finds its Name cell alone).
          ["Actions", (k) => (k.revokedAt ? null : h("div", { role: "group", "aria-label": "Key actions" }, revokeButton(k)))],
        ],
        keys.items,
      ),
      pager(keys, query, "/keys"),
    );
  }

  function revokeButton(key) {
    const button = h("button", { type: "button", class: "danger", "aria-label": `Revoke ${key.name}` }, "Revoke");
    button.addEventListener("click", async () => {
      if (!(await confirmAction(`Revoke ${key.name}? Requests with it are refused at once.`, "Revoke"))) return;
      await busy(button, null, async () => {
        await api(`/v1/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
        announce(`Revoked ${key.name}`);
        await load();
      });
    });
    return button;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, outcome, async () => {
      const field = form.elements;
      const agents = commaList(field.agents.value);
      const owner = field.owner.value.trim();
      const body = {
        name: field.name.value.trim(),
        scopes: [...field.scopes].filter((box) => box.checked).map((box) => box.value),
        // The server denies unknown fields but takes absent optional ones: leave empty ones out.
        ...(agents.length ? { agents } : {}),
        ...(owner ? { owner } : {}),
      };
      const created = await api("/v1/keys", { method: "POST", body });
      form.reset();
      fill(outcome, secretOnce("API key", created.key));
      outcome.querySelector("input")?.focus();
      announce(`Created ${created.name}: copy the key now`, "success");
      await load();
    });
  });

  fill(main, h("h1", {}, "API keys"), form, outcome, list);
  await load();
  return undefined;
}
