// Small DOM helpers shared by every page: element building, formatting, status messages.

/** Builds an element: h("button", {type: "button", onclick}, "Approve"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** "3 min ago", "in 2 h 5 min": a duration people read at a glance. */
export function relative(iso, now = Date.now()) {
  if (!iso) return "—";
  const ms = new Date(iso).getTime() - now;
  const words = duration(Math.abs(ms));
  return ms >= 0 ? `in ${words}` : `${words} ago`;
}

export function duration(ms) {
  const minutes = Math.floor(ms / 60000);
  if (minutes < 1) return `${Math.max(0, Math.floor(ms / 1000))} s`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A local, readable time with the exact UTC time as its machine value. */
export function time(iso) {
  if (!iso) return "—";
  const t = new Date(iso);
  return h("time", { datetime: iso, title: iso }, t.toLocaleString());
}

export function badge(text, kind = text) {
  return text === null || text === undefined
    ? "—"
    : h("span", { class: `badge badge-${String(kind).replace(/[^a-z0-9_-]/gi, "")}` }, text);
}

/** Announces `message` to screen readers and shows it briefly. */
export function announce(message, kind = "info") {
  const box = document.getElementById("status");
  box.className = `toast toast-${kind} shown`;
  box.textContent = message;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => box.classList.remove("shown"), 6000);
}

/** The message of a failed call, for a person: code first, then what the server said. */
export function problem(error) {
  if (!error) return "";
  const code = error.code ? `${error.code}: ` : "";
  const fields = Array.isArray(error.details)
    ? error.details
        .map((d) => (d && Array.isArray(d.path) ? `${d.path.join(".")}: ${d.message}` : ""))
        .filter(Boolean)
    : [];
  return code + (error.message || String(error)) + (fields.length ? ` (${fields.join("; ")})` : "");
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, problem(error));
}

/** A table from rows: columns are [header, cell(row)] pairs. It scrolls sideways on its own
 * when wider than the page. */
export function table(caption, columns, rows, rowAttrs = () => ({})) {
  return h("div", { class: "table-scroll" }, h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h(
      "tbody",
      {},
      rows.length === 0
        ? h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing here."))
        : rows.map((row) =>
            h("tr", rowAttrs(row), columns.map(([title, cell]) => h("td", { "data-label": title }, cell(row)))),
          ),
    ),
  ));
}

/** Previous / next links for a `{total, page, pageSize}` list, keeping the other query values. */
export function pager(list, query, base) {
  const pages = Math.max(1, Math.ceil(list.total / list.pageSize));
  const link = (page, label) => {
    const next = new URLSearchParams(query);
    next.set("page", String(page));
    return h("a", { href: `#${base}?${next}`, class: "button" }, label);
  };
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    list.page > 1 ? link(list.page - 1, "← Previous") : null,
    h("span", {}, `Page ${list.page} of ${pages} · ${list.total} in all`),
    list.page < pages ? link(list.page + 1, "Next →") : null,
  );
}

/** A filter form whose fields map onto the route's query; submitting navigates. */
export function filterForm(label, base, query, fields) {
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": label },
    fields.map((field) => h("label", {}, field.label, " ", field.control(query.get(field.name) || ""))),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const field of fields) {
      const value = form.elements[field.name].value.trim();
      if (value) next.set(field.name, value);
    }
    location.hash = `#${base}${next.toString() ? `?${next}` : ""}`;
  });
  return form;
}

export function textInput(name, attrs = {}) {
  return (value) => h("input", { name, value, ...attrs });
}

export function select(name, options, attrs = {}) {
  return (value) =>
    h(
      "select",
      { name, ...attrs },
      h("option", { value: "" }, "any"),
      options.map((option) => h("option", { value: option, selected: option === value }, option)),
    );
}

/** Pretty-printed JSON. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** A secret shown once, with a copy button. */
export function secretOnce(label, secret) {
  const field = h("input", { readonly: true, value: secret, "aria-label": label, class: "secret" });
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      document.execCommand("copy");
    }
    announce(`${label} copied`);
  });
  return h(
    "div",
    { class: "once", role: "group", "aria-label": label },
    h("p", {}, h("strong", {}, `${label}: `), "copy it now — it is not shown again."),
    field,
    copy,
  );
}

/** Runs `work` with the button disabled; shows a failure in `where`. */
export async function busy(button, where, work) {
  button.disabled = true;
  if (where) where.replaceChildren();
  try {
    return await work();
  } catch (error) {
    if (where) where.append(errorBox(error));
    else announce(problem(error), "error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/**
 * Asks to confirm a consequential action in a modal (not `window.confirm`, which screen
 * readers and test drivers handle poorly); resolves true when confirmed.
 */
export function confirmAction(message, verb) {
  return new Promise((resolve) => {
    const yes = h("button", { type: "submit", class: "danger" }, verb);
    const no = h("button", { type: "button" }, "Cancel");
    const dialog = h(
      "dialog",
      { "aria-label": verb },
      h("form", {}, h("p", {}, message), h("div", { class: "actions" }, yes, no)),
    );
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    no.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      close(true);
    });
    document.body.append(dialog);
    dialog.showModal();
    yes.focus();
  });
}
