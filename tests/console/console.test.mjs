// Browser tests of the console: Debian's chromium, driven by playwright-core, against the real
// server. Screenshots of the main pages land in $SCREENSHOTS (1280×800 and 390×844).

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { call, startServer } from "./server.mjs";

const { chromium } = createRequire(`${process.env.CONSOLE_NODE_MODULES}/`)("playwright-core");
const SCREENSHOTS = process.env.SCREENSHOTS;
const WAIT = { timeout: 15000 };
const PASSWORD = "correct horse battery staple";
const USERS = [
  { email: "ada@acme.test", role: "admin", password: PASSWORD },
  { email: "bob@acme.test", role: "approver", password: PASSWORD },
  { email: "cy@acme.test", role: "approver", password: PASSWORD },
  { email: "vi@acme.test", role: "viewer", password: PASSWORD },
];

let server;
let browser;
let agentKey;
let invoiceNumber = 0;

before(async () => {
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startServer(USERS, SCREENSHOTS && `${SCREENSHOTS}/server.log`);
  const agent = await call(server.base, server.adminKey, "POST", "/v1/agents", {
    id: "billing-agent", name: "Billing agent", domains: ["billing"],
  });
  assert.equal(agent.status, 201, JSON.stringify(agent.body));
  const key = await call(server.base, server.adminKey, "POST", "/v1/keys", {
    name: "billing-agent", scopes: ["agent"], agents: ["billing-agent"],
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  agentKey = key.body.data.key;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** An invoice from the T0 billing agent: policy sends it to the approval queue. */
async function submitInvoice() {
  invoiceNumber += 1;
  const submitted = await call(server.base, agentKey, "POST", "/v1/intents", {
    type: "billing.send_invoice", domain: "billing", agentId: "billing-agent",
    params: { customerId: `cust_${invoiceNumber}`, amount: 100 + invoiceNumber },
  });
  assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
  assert.equal(submitted.body.data.status, "pending_approval");
  return submitted.body.data.intentId;
}

async function intent(id) {
  const got = await call(server.base, server.adminKey, "GET", `/v1/intents/${id}`);
  assert.equal(got.status, 200);
  return got.body.data;
}

/** A signed-in page of a fresh browser context (its own cookies) at `size`. */
async function signIn(email, size = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport: size });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`page error (${email}): ${error.message}`));
  await page.goto(`${server.base}/console`);
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.getByLabel("Tenant").fill("acme");
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByLabel("Password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#who").filter({ hasText: email }).waitFor(WAIT);
  return page;
}

async function shoot(page, name) {
  if (!SCREENSHOTS) return;
  await page.screenshot({ path: `${SCREENSHOTS}/${name}-${page.viewportSize().width}.png`, fullPage: true });
}

async function approvalOf(intentId) {
  return (await intent(intentId)).approvals[0];
}

test("an approver signs in and sees a new intent arrive live, then approves it", async () => {
  const page = await signIn("bob@acme.test");
  await page.getByRole("heading", { name: "Approval queue" }).waitFor(WAIT);
  await page.getByText("0 waiting").waitFor(WAIT);
  const id = await submitInvoice();
  // No reload: the row arrives over /v1/events.
  const row = page.locator(`tr[data-intent-id="${id}"]`);
  await row.waitFor(WAIT);
  assert.match(await row.innerText(), /billing\.send_invoice[\s\S]*billing-agent[\s\S]*T0/);
  await shoot(page, "queue");
  await row.getByRole("link", { name: "billing.send_invoice" }).click();
  await page.getByRole("heading", { name: /billing\.send_invoice/, level: 1 }).waitFor(WAIT);
  await page.getByRole("heading", { name: "Rules tried" }).waitFor(WAIT);
  assert.match(await page.locator("tr.matched").first().innerText(), /new-agents-are-reviewed/);
  await shoot(page, "decision");
  await page.getByLabel("Comment (or reason, to reject)").fill("Amount matches the order");
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.getByText("Done: the intent is approved.").waitFor(WAIT);
  const stored = await intent(id);
  assert.equal(stored.status, "approved");
  assert.equal(stored.approvals[0].decisions[0].approverName, "bob@acme.test");
  assert.equal(stored.approvals[0].decisions[0].comment, "Amount matches the order");
  await page.context().close();
});

test("keyboard triage moves through the queue and rejects with a reason", async () => {
  const older = await submitInvoice();
  const id = await submitInvoice();
  const page = await signIn("bob@acme.test");
  const row = page.locator(`tr[data-intent-id="${id}"]`);
  await row.waitFor(WAIT);
  const first = page.locator(`tr[data-intent-id="${older}"]`);
  await first.getByRole("link", { name: "billing.send_invoice" }).focus();
  assert.match(await first.getAttribute("class"), /selected/);
  await page.keyboard.press("j");
  assert.match(await row.getAttribute("class"), /selected/);
  assert.doesNotMatch(await first.getAttribute("class"), /selected/);
  await page.keyboard.press("r");
  const dialog = page.getByRole("dialog", { name: "Reject billing.send_invoice" });
  await dialog.getByLabel("Reason").fill("Customer disputes the amount");
  await dialog.getByRole("button", { name: "Reject" }).click();
  await row.waitFor({ state: "detached", ...WAIT });
  const stored = await intent(id);
  assert.equal(stored.status, "rejected");
  assert.equal(stored.approvals[0].reason, "Customer disputes the amount");
  assert.equal((await intent(older)).status, "pending_approval");
  await page.context().close();
});

test("the second approver is told ALREADY_RESOLVED and sees the first decision", async () => {
  const id = await submitInvoice();
  const first = await signIn("bob@acme.test");
  const second = await signIn("cy@acme.test");
  await first.goto(`${server.base}/console#/intents/${id}`);
  await second.goto(`${server.base}/console#/intents/${id}`);
  await first.getByRole("button", { name: "Approve", exact: true }).click();
  await first.getByText("Done: the intent is approved.").waitFor(WAIT);
  await second.getByRole("button", { name: "Approve", exact: true }).click();
  const notice = second.locator('[data-code="ALREADY_RESOLVED"]');
  await notice.waitFor(WAIT);
  assert.match(await notice.innerText(), /ALREADY_RESOLVED[\s\S]*approved[\s\S]*bob@acme\.test/);
  assert.equal((await approvalOf(id)).decisions.length, 1);
  await first.context().close();
  await second.context().close();
});

test("a viewer has no approve button, and a forged approval with the viewer's session is 403", async () => {
  const id = await submitInvoice();
  const page = await signIn("vi@acme.test");
  await page.goto(`${server.base}/console#/intents/${id}`);
  await page.getByRole("heading", { name: "Params" }).waitFor(WAIT);
  assert.equal(await page.getByRole("button", { name: /approve/i }).count(), 0);
  const approvalId = (await approvalOf(id)).id;
  const forged = await page.evaluate(async (approval) => {
    const session = await (await fetch("/v1/auth/session")).json();
    const response = await fetch(`/v1/approvals/${approval}/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": session.data.csrfToken },
      body: "{}",
    });
    return { status: response.status, body: await response.json() };
  }, approvalId);
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error.code, "FORBIDDEN");
  assert.equal((await intent(id)).status, "pending_approval");
  // Admin pages are not offered: no navigation link, and no form when opened directly.
  assert.equal(await page.getByRole("link", { name: "API keys" }).isVisible(), false);
  await page.goto(`${server.base}/console#/keys`);
  await page.getByText("This page needs the admin role.").waitFor(WAIT);
  assert.equal(await page.getByRole("form", { name: "Create an API key" }).count(), 0);
  await page.context().close();
});

test("a lost session asks to sign in again and keeps the decision being made", async () => {
  const id = await submitInvoice();
  const page = await signIn("bob@acme.test");
  await page.goto(`${server.base}/console#/intents/${id}`);
  await page.getByLabel("Comment (or reason, to reject)").fill("Checked against the contract");
  await page.context().clearCookies();
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.getByLabel("Password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Done: the intent is approved.").waitFor(WAIT);
  assert.equal((await approvalOf(id)).decisions[0].comment, "Checked against the contract");
  await page.context().close();
});

test("an admin creates a key and sees its secret exactly once", async () => {
  const page = await signIn("ada@acme.test");
  await page.goto(`${server.base}/console#/keys`);
  const form = page.getByRole("form", { name: "Create an API key" });
  await form.getByLabel("Name").fill("reporting");
  await form.getByLabel("read", { exact: true }).check();
  await form.getByRole("button", { name: "Create key" }).click();
  const secret = page.getByRole("textbox", { name: "API key" });
  await secret.waitFor(WAIT);
  const key = await secret.inputValue();
  assert.match(key, /^intendedops_acme_/);
  await shoot(page, "keys");
  assert.equal((await call(server.base, key, "GET", "/v1/intents")).status, 200);
  await page.goto(`${server.base}/console#/queue`);
  await page.goto(`${server.base}/console#/keys`);
  await page.getByRole("cell", { name: "reporting" }).waitFor(WAIT);
  assert.equal(await page.getByRole("textbox", { name: "API key" }).count(), 0);
  assert.equal((await page.content()).includes(key), false);
  await page.context().close();
});

test("an admin creates a webhook endpoint and sees a delivery in its log", async () => {
  const received = [];
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(req.headers["x-intendedops-signature"]);
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    const page = await signIn("ada@acme.test");
    await page.goto(`${server.base}/console#/webhooks`);
    const form = page.getByRole("form", { name: "Create a webhook endpoint" });
    await form.getByLabel("URL").fill(`http://127.0.0.1:${receiver.address().port}/hook`);
    await form.getByLabel("intent.submitted").check();
    await form.getByRole("button", { name: "Create endpoint" }).click();
    const secret = page.getByRole("textbox", { name: "Signing secret" });
    await secret.waitFor(WAIT);
    assert.match(await secret.inputValue(), /^whsec_/);
    await submitInvoice();
    await page.getByRole("link", { name: /127\.0\.0\.1/ }).click();
    await page.getByRole("heading", { name: "Deliveries" }).waitFor(WAIT);
    const delivered = page.getByRole("table", { name: "Deliveries" }).getByText("delivered");
    await delivered.first().waitFor(WAIT);
    assert.ok(received.length >= 1 && received[0], "the receiver got a signed delivery");
    await shoot(page, "webhook");
    await page.context().close();
  } finally {
    receiver.close();
  }
});

test("the audit page verifies the chain and shows the head hash", async () => {
  const page = await signIn("vi@acme.test");
  await page.goto(`${server.base}/console#/audit`);
  await page.getByRole("button", { name: "Verify chain" }).click();
  const result = page.locator("#verify-result");
  await result.getByText("The chain is intact").waitFor(WAIT);
  const expected = await call(server.base, server.adminKey, "GET", "/v1/audit/verify");
  assert.match(await result.innerText(), new RegExp(expected.body.data.headHash));
  await shoot(page, "audit");
  await page.context().close();
});

test("the policy editor shows faults inline, stores a version, and the simulator traces it", async () => {
  const page = await signIn("ada@acme.test");
  await page.goto(`${server.base}/console#/policy`);
  const editor = page.getByLabel("Policy document (JSON)");
  const original = await editor.inputValue();
  await editor.fill(`${original.slice(0, -2)},,}`);
  const faults = page.locator("#policy-errors");
  await faults.getByText(/Line \d+, column \d+/).waitFor(WAIT);
  assert.equal(await editor.getAttribute("aria-invalid"), "true");
  const document = JSON.parse(original);
  document.rules[0].condition = "params.amount >";
  await editor.fill(JSON.stringify(document, null, 2));
  await page.getByRole("button", { name: "Save new version" }).click();
  await faults.getByText(/rules\.0\.condition: rule 'large-sums-need-a-trusted-agent': condition is not valid CEL/).waitFor(WAIT);
  document.rules[0].condition = "has(params.amount) && params.amount > 10000";
  assert.equal((await call(server.base, server.adminKey, "GET", "/v1/policies")).body.data.version, 0);
  document.rules[0].outcome = { type: "block", reason: "no invoices today" };
  await editor.fill(JSON.stringify(document, null, 2));
  await page.getByRole("button", { name: "Save new version" }).click();
  await page.getByRole("definition").filter({ hasText: /^1$/ }).waitFor(WAIT);
  assert.equal((await call(server.base, server.adminKey, "GET", "/v1/policies")).body.data.version, 1);
  const simulate = page.getByRole("form", { name: "Simulate an intent" });
  await simulate.getByLabel("Type").fill("billing.send_invoice");
  await simulate.getByLabel("Domain").fill("billing");
  await simulate.getByLabel("Agent").fill("billing-agent");
  await simulate.getByLabel("Params (JSON)").fill('{"customerId": "cust_9", "amount": 20000}');
  await simulate.getByRole("button", { name: "Simulate" }).click();
  const trace = page.getByRole("table", { name: "Trace" });
  await trace.locator("tr.matched").first().waitFor(WAIT);
  assert.match(await trace.locator("tr.matched").first().innerText(), /large-sums-need-a-trusted-agent/);
  // Put the shipped rules back for the tests after this one.
  const restored = await call(server.base, server.adminKey, "PUT", "/v1/policies", JSON.parse(original));
  assert.equal(restored.status, 200, JSON.stringify(restored.body));
  await page.context().close();
});

test("screenshots of the main pages at laptop and phone widths", async () => {
  await submitInvoice();
  for (const size of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    const page = await signIn("ada@acme.test", size);
    for (const [route, name, heading] of [
      ["#/queue", "queue", "Approval queue"],
      ["#/intents", "intents", "Intents"],
      ["#/agents", "agents", "Agents"],
      ["#/agents/billing-agent", "agent", "Billing agent"],
      ["#/audit", "audit", "Audit log"],
      ["#/keys", "keys", "API keys"],
      ["#/webhooks", "webhooks", "Webhooks"],
      ["#/users", "users", "Users"],
      ["#/policy", "policy", "Policy"],
      ["#/usage", "usage", "Usage"],
    ]) {
      await page.goto(`${server.base}/console${route}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor(WAIT);
      // Nothing on a page overflows a phone's width but the tables, which scroll.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${route} is ${overflow}px wider than ${size.width}px`);
      await shoot(page, name);
    }
    await page.context().close();
  }
});

test("every control of every page has an accessible name", async () => {
  const page = await signIn("ada@acme.test");
  for (const route of ["#/queue", "#/intents", "#/agents", "#/audit", "#/keys", "#/webhooks", "#/users", "#/policy", "#/usage"]) {
    await page.goto(`${server.base}/console${route}`);
    await page.locator("main h1").waitFor(WAIT);
    await page.waitForTimeout(200);
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll("main button, main input, main select, main textarea, main a")]
        .filter((el) => el.type !== "hidden" && el.checkVisibility())
        .filter((el) => {
          const labelled = el.labels && el.labels.length > 0;
          const text = (el.getAttribute("aria-label") || el.textContent || "").trim();
          return !labelled && !text && !el.getAttribute("aria-labelledby") && !el.title;
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    assert.deepEqual(unnamed, [], `${route} has controls without a name`);
  }
  await page.context().close();
});
