// Console users: create one with a first password, change a role, disable or re-enable.
// Either change ends the person's sessions (the server does that).

import { all, api } from "../api.js";
import { announce, badge, busy, confirmAction, fill, h, problem, table, time } from "../dom.js";

const ROLES = ["admin", "approver", "viewer"];

const roleOptions = (current) => ROLES.map((role) => h("option", { value: role, selected: role === current }, role));

export async function render(main) {
  const list = h("div");
  const outcome = h("div");
  const submit = h("button", { type: "submit" }, "Create user");
  const form = h(
    "form",
    { class: "stack card", "aria-label": "Create a user" },
    h("label", {}, "Email ", h("input", { name: "email", type: "email", required: true, autocomplete: "off" })),
    // Least privilege unless chosen otherwise.
    h("label", {}, "Role ", h("select", { name: "role" }, roleOptions("viewer"))),
    h(
      "label",
      {},
      "Password ",
      h("input", { name: "password", type: "password", required: true, minlength: 12, autocomplete: "new-password", "aria-describedby": "new-password-hint" }),
    ),
    // There is no endpoint to change a password, so the first one is the one they keep.
    h(
      "p",
      { id: "new-password-hint", class: "muted" },
      "At least 12 characters. The console cannot change a password later, so choose a strong one and share it with the person safely (not in the same message as their email).",
    ),
    submit,
  );

  /** Redraws the table, keeping the focus in the row that was just changed. */
  async function load(focusId) {
    const users = await all("/v1/users");
    fill(
      list,
      table(
        "Users",
        [
          ["Email", (u) => u.email],
          ["Role", roleSelect],
          ["Status", (u) => badge(u.disabled ? "disabled" : "active")],
          ["Created", (u) => time(u.createdAt)],
          // In a named group, so the cell is named "User actions" and not after the email (a
          // lookup of the email finds its Email cell alone).
          ["Actions", (u) => h("div", { role: "group", "aria-label": "User actions" }, toggleButton(u))],
        ],
        users,
        (u) => ({ dataset: { id: u.id } }),
      ),
    );
    if (focusId) list.querySelector(`tr[data-id="${CSS.escape(focusId)}"] button`)?.focus();
  }

  function roleSelect(user) {
    const control = h("select", { "aria-label": `Role of ${user.email}` }, roleOptions(user.role));
    // Not disabled while saving (unlike buttons): that would drop the focus of someone
    // stepping through the options with the arrow keys.
    control.addEventListener("change", async () => {
      try {
        const changed = await api(`/v1/users/${encodeURIComponent(user.id)}`, { method: "PATCH", body: { role: control.value } });
        user.role = changed.role;
        announce(`${user.email} is now ${changed.role}; their sessions have ended.`, "success");
      } catch (error) {
        control.value = user.role; // refused: show the role that still holds
        announce(problem(error), "error");
      }
    });
    return control;
  }

  function toggleButton(user) {
    const verb = user.disabled ? "Enable" : "Disable";
    const button = h("button", { type: "button", class: user.disabled ? null : "danger", "aria-label": `${verb} ${user.email}` }, verb);
    button.addEventListener("click", async () => {
      if (!user.disabled && !(await confirmAction(`Disable ${user.email}? They are signed out at once and cannot sign in.`, "Disable"))) return;
      await busy(button, null, async () => {
        await api(`/v1/users/${encodeURIComponent(user.id)}`, { method: "PATCH", body: { disabled: !user.disabled } });
        announce(`${user.disabled ? "Enabled" : "Disabled"} ${user.email}`, "success");
        await load(user.id);
      });
    });
    return button;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, outcome, async () => {
      const field = form.elements;
      const created = await api("/v1/users", {
        method: "POST",
        body: { email: field.email.value.trim(), role: field.role.value, password: field.password.value },
      });
      form.reset();
      fill(outcome, h("p", { class: "success" }, `Created ${created.email} (${created.role}). Share the password with them safely.`));
      await load();
    });
  });

  fill(main, h("h1", {}, "Users"), form, outcome, list);
  await load();
  return undefined;
}
