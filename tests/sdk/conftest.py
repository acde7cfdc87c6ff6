"""Fixtures of the OpenIntent SDK suite: one server process for the whole session.

The server is the binary at $INTENDEDOPS_BIN (default target/debug/intendedops), started with
`serve` on a free port of 127.0.0.1 against a fresh database: a SQLite file in a temporary
directory, or a fresh schema of $TEST_DATABASE_URL when that is a postgres:// URL. Before it
starts, the CLI creates a second tenant (`other`) with an admin key and a read-scope key.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import httpx
import pytest
import pytest_asyncio
from openintent import AsyncOpenIntentClient, OpenIntentClient

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0
CLIENT_TIMEOUT_S = 15.0

# Development keys of tenant `dev`, seeded by the server when OPENINTENT_DEV_KEYS=true.
ADMIN_KEY = "dev-user-key"
RESEARCH_KEY = "agent-research-key"
SYNTH_KEY = "agent-synth-key"
RESEARCH_AGENT = "research-agent"
SYNTH_AGENT = "synth-agent"
OTHER_TENANT = "other"
OTHER_AGENT = "other-agent"

# Where the session's server log lives, for the failure report at the end.
_SERVER_LOG: dict[str, Path] = {}


def server_binary() -> Path:
    raw = os.environ.get("INTENDEDOPS_BIN", "target/debug/intendedops")
    path = Path(raw)
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).exists() else REPO_ROOT / path
    return path


@dataclass
class Database:
    """The database the server and the CLI share; `url` is the one value both receive."""

    url: str
    cleanup: Callable[[], None] = field(default=lambda: None)


def _postgres_database(base_url: str) -> Database:
    """A fresh schema of the PostgreSQL database at `base_url`, dropped at the end."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.exit("TEST_DATABASE_URL is a PostgreSQL URL but psql is not installed", returncode=2)
    schema = f"sdk_{uuid.uuid4().hex[:16]}"

    def run_sql(sql: str) -> None:
        subprocess.run(
            [psql, base_url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
            check=True,
            capture_output=True,
            timeout=CLI_TIMEOUT_S,
        )

    run_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base_url else "?"
    url = f"{base_url}{separator}options=-c%20search_path%3D{schema}&application_name={schema}"

    def cleanup() -> None:
        try:
            run_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE application_name = '{schema}'"
            )
            run_sql(f"DROP SCHEMA {schema} CASCADE")
        except Exception as error:  # noqa: BLE001 - cleanup must not mask results
            print(f"tests/sdk: could not drop schema {schema}: {error}")

    return Database(url=url, cleanup=cleanup)


def database_for(workdir: Path) -> Database:
    """The single place that decides which database the session uses."""
    candidate = os.environ.get("TEST_DATABASE_URL", "")
    if candidate.startswith(("postgres://", "postgresql://")):
        return _postgres_database(candidate)
    return Database(url=f"sqlite://{workdir}/oi.db")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    for inherited in ("REDIS_URL", "OPENINTENT_PORT", "OPENINTENT_HOST"):
        env.pop(inherited, None)
    env.update(
        {
            "DATABASE_URL": database_url,
            "OPENINTENT_HOST": "127.0.0.1",
            "OPENINTENT_DEV_KEYS": "true",
            # Seals stored secrets; a server over PostgreSQL does not start without one.
            "INTENDEDOPS_SECRET_KEY": "sdk:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "INTENDEDOPS_RATE_LIMIT_PER_MINUTE": "100000",
            "INTENDEDOPS_AUTH_FAILURES_PER_MINUTE": "100000",
            "INTENDEDOPS_SHUTDOWN_GRACE_SECS": "1",
            # The async client's subscribe() requires a webhook_url; the suite's point at the
            # loopback discard port, which the server refuses as a target unless allowed.
            "INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE": "true",
            "OPENINTENT_LOG_LEVEL": env.get("OPENINTENT_LOG_LEVEL", "info"),
        }
    )
    return env


def _cli(binary: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(binary), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.exit(
            f"`intendedops {' '.join(args)}` failed with status {result.returncode}:\n"
            f"{result.stderr}",
            returncode=2,
        )
    return result.stdout


@dataclass
class Server:
    base_url: str
    other_tenant_key: str
    other_tenant_reader_key: str
    log_path: Path
    # What a second process on the same database needs (start_server).
    binary: Path = Path()
    env: dict = field(default_factory=dict)
    workdir: Path = Path()


def _wait_healthy(process: subprocess.Popen, base_url: str, log_path: Path) -> Optional[str]:
    """None when /health answers 200 in time, else why not."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the server exited with status {process.returncode}"
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return f"GET /health did not answer 200 within {STARTUP_TIMEOUT_S:.0f} s"


def _tail(path: Path, lines: int = 200) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    binary = server_binary()
    if not binary.is_file():
        pytest.exit(f"no server binary at {binary}: build it first (cargo build)", returncode=2)

    workdir = tmp_path_factory.mktemp("intendedops")
    database = database_for(workdir)
    env = _server_env(database.url)

    # The second tenant exists before the server starts (no concurrent writers on SQLite).
    _cli(binary, env, "tenant", "create", OTHER_TENANT)
    other_key = _cli(
        binary, env, "key", "create", "--tenant", OTHER_TENANT, "--name", "sdk", "--scope", "admin"
    ).strip()
    assert other_key and "\n" not in other_key, f"unexpected key output: {other_key!r}"
    reader_key = _cli(
        binary, env, "key", "create", "--tenant", OTHER_TENANT, "--name", "sdk-reader",
        "--scope", "read",
    ).strip()

    log_path = workdir / "server.log"
    _SERVER_LOG["path"] = log_path
    process, base_url, failure = start_server(binary, env, workdir, log_path)
    if failure is not None:
        database.cleanup()
        pytest.exit(f"the server did not start: {failure}\n--- server log ---\n{_tail(log_path)}",
                    returncode=2)

    try:
        yield Server(
            base_url=base_url,
            other_tenant_key=other_key,
            other_tenant_reader_key=reader_key,
            log_path=log_path,
            binary=binary,
            env=env,
            workdir=workdir,
        )
    finally:
        stop_server(process)
        database.cleanup()


def start_server(binary: Path, env: dict, workdir: Path, log_path: Path):
    """Starts `serve` on a free loopback port: (process, base URL, None), or why it failed."""
    env = dict(env)
    process, base_url, failure = None, "", "not started"
    for _attempt in range(3):  # a freshly picked port can be taken before the bind
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        env["OPENINTENT_PORT"] = str(port)
        log = open(log_path, "ab")
        process = subprocess.Popen(
            [str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
        log.close()
        failure = _wait_healthy(process, base_url, log_path)
        if failure is None:
            break
        stop_server(process)
        if "address" not in _tail(log_path, 20).lower():
            break
    return process, base_url, failure


def stop_server(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """On failure, show the end of the server's log (stdout and stderr)."""
    path = _SERVER_LOG.get("path")
    if exitstatus != 0 and path is not None:
        terminalreporter.section("intendedops server log (last 200 lines)")
        terminalreporter.write_line(_tail(path))


# ---------------------------------------------------------------- clients


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.base_url


def _client(base_url: str, key: str, agent: str) -> OpenIntentClient:
    return OpenIntentClient(base_url=base_url, api_key=key, agent_id=agent, timeout=CLIENT_TIMEOUT_S)


@pytest.fixture
def client(base_url: str):
    """The research agent (agent scope) of tenant `dev`."""
    c = _client(base_url, RESEARCH_KEY, RESEARCH_AGENT)
    yield c
    c.close()


@pytest.fixture
def client2(base_url: str):
    """The synthesis agent (agent scope) of tenant `dev`."""
    c = _client(base_url, SYNTH_KEY, SYNTH_AGENT)
    yield c
    c.close()


@pytest.fixture
def admin_client(base_url: str):
    """The development user (admin scope) of tenant `dev`."""
    c = _client(base_url, ADMIN_KEY, "dev-user")
    yield c
    c.close()


@pytest.fixture
def other_tenant_client(server: Server):
    """An admin key of tenant `other`, created with the CLI."""
    c = _client(server.base_url, server.other_tenant_key, OTHER_AGENT)
    yield c
    c.close()


@pytest.fixture
def other_tenant_reader(server: Server):
    """A read-scope key of tenant `other`, created with the CLI."""
    c = _client(server.base_url, server.other_tenant_reader_key, "reader-agent")
    yield c
    c.close()


@pytest_asyncio.fixture
async def async_client(base_url: str):
    async with AsyncOpenIntentClient(
        base_url=base_url, api_key=RESEARCH_KEY, agent_id=RESEARCH_AGENT, timeout=CLIENT_TIMEOUT_S
    ) as c:
        yield c


@pytest_asyncio.fixture
async def async_client2(base_url: str):
    async with AsyncOpenIntentClient(
        base_url=base_url, api_key=SYNTH_KEY, agent_id=SYNTH_AGENT, timeout=CLIENT_TIMEOUT_S
    ) as c:
        yield c


@pytest.fixture
def raw(base_url: str):
    """Plain httpx with the research agent's headers, for what the SDK does not expose."""
    with httpx.Client(
        base_url=base_url,
        headers={"X-API-Key": RESEARCH_KEY, "X-Agent-ID": RESEARCH_AGENT},
        timeout=CLIENT_TIMEOUT_S,
    ) as c:
        yield c
