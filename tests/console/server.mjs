// The server under test: the binary at $INTENDEDOPS_BIN on a free loopback port, over a fresh
// SQLite file, or a fresh schema of $TEST_DATABASE_URL when that is a postgres:// URL.

import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

const STARTUP_MS = 30000;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function database(workdir) {
  const base = process.env.TEST_DATABASE_URL || "";
  if (!/^postgres(ql)?:\/\//.test(base)) return { url: `sqlite://${workdir}/console.db`, drop() {} };
  const schema = `console_${randomBytes(8).toString("hex")}`;
  const sql = (text) => execFileSync("psql", [base, "-v", "ON_ERROR_STOP=1", "-Atqc", text], { stdio: "pipe" });
  sql(`CREATE SCHEMA ${schema}`);
  const join = base.includes("?") ? "&" : "?";
  return {
    url: `${base}${join}options=-c%20search_path%3D${schema}&application_name=${schema}`,
    drop() {
      try {
        sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${schema}'`);
        sql(`DROP SCHEMA ${schema} CASCADE`);
      } catch (error) {
        console.error(`could not drop schema ${schema}: ${error.message}`);
      }
    },
  };
}

/**
 * Starts the server with tenant `acme`, an admin key and the console `users` ({email, role,
 * password}). `stop()` keeps its log as `keepLogAt` (when given) for a failure's post-mortem.
 */
export async function startServer(users, keepLogAt) {
  const binary = process.env.INTENDEDOPS_BIN;
  const workdir = mkdtempSync(join(tmpdir(), "intendedops-console-"));
  const db = database(workdir);
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    OPENINTENT_HOST: "127.0.0.1",
    OPENINTENT_PORT: String(port),
    OPENINTENT_DEV_KEYS: "false",
    INTENDEDOPS_SECRET_KEY: "console:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    INTENDEDOPS_RATE_LIMIT_PER_MINUTE: "100000",
    INTENDEDOPS_AUTH_FAILURES_PER_MINUTE: "100000",
    INTENDEDOPS_SHUTDOWN_GRACE_SECS: "1",
    // The test's webhook receiver listens on loopback.
    INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE: "true",
  };
  delete env.REDIS_URL;
  if (process.env.TEST_REDIS_URL) env.REDIS_URL = process.env.TEST_REDIS_URL;
  const cli = (...args) => execFileSync(binary, args, { env, cwd: workdir, encoding: "utf8" }).trim();
  const cliWithInput = (input, ...args) =>
    execFileSync(binary, args, { env, cwd: workdir, encoding: "utf8", input }).trim();

  const logPath = join(workdir, "server.log");
  const log = openSync(logPath, "a");
  // Seeded before the server starts: no concurrent writers on SQLite.
  cli("tenant", "create", "acme");
  const adminKey = cli("key", "create", "--tenant", "acme", "--name", "console-tests", "--scope", "admin");
  for (const user of users) {
    cliWithInput(user.password, "user", "create", "--tenant", "acme", "--email", user.email, "--role", user.role, "--password-stdin");
  }
  const child = spawn(binary, ["serve"], { env, cwd: workdir, stdio: ["ignore", log, log] });
  // However the test run ends (a failure, a timeout, ^C), the server ends with it.
  const killServer = () => child.exitCode === null && child.kill("SIGKILL");
  process.on("exit", killServer);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${readFileSync(logPath, "utf8").slice(-4000)}`);
    if (Date.now() > deadline) {
      killServer();
      throw new Error("the server did not answer /health in time");
    }
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    adminKey,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      process.off("exit", killServer);
      if (keepLogAt) copyFileSync(logPath, keepLogAt);
      db.drop();
      rmSync(workdir, { recursive: true, force: true });
    },
  };
}

/** A `/v1` call with an API key: `{status, body}`. */
export async function call(base, key, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "x-api-key": key, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
