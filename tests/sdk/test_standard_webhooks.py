"""Standard Webhooks: the official libraries (PyPI and npm `standardwebhooks`) verify real
deliveries of the server, before and during a secret rotation, and refuse altered ones.

A loopback receiver records each delivery exactly as it arrived (raw body bytes and headers);
the libraries then verify those bytes with the secret the API handed out.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import ADMIN_KEY, REPO_ROOT
from sdkhelpers import unique

DELIVERY_TIMEOUT_S = 30.0
NODE_VERIFIER = REPO_ROOT / "tests" / "webhooks" / "verify.mjs"


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.deliveries: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait_for(self, count: int) -> list[dict]:
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.05)
        pytest.fail(f"expected {count} deliveries, got {len(self.deliveries)}")


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            self.server.deliveries.append(
                {"body": body, "headers": {k.lower(): v for k, v in self.headers.items()}}
            )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def receiver():
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _api(server, method: str, path: str, body: dict | None = None) -> dict:
    response = httpx.request(
        method, f"{server.base_url}{path}", headers={"x-api-key": ADMIN_KEY}, json=body,
        timeout=15.0,
    )
    assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()["data"]


def _register_agent(server) -> None:
    _api(server, "POST", "/v1/agents", {"name": unique("hooked")})


def _node_verdicts(cases: list[dict]) -> list[str]:
    """What the npm library says of each {secret, body, headers}."""
    modules = os.environ.get("STANDARDWEBHOOKS_NODE_MODULES")
    if not modules or not Path(modules, "standardwebhooks").is_dir():
        pytest.fail(
            "STANDARDWEBHOOKS_NODE_MODULES does not hold the npm standardwebhooks package: "
            "run the suite with tests/sdk/run.sh, which installs it"
        )
    result = subprocess.run(
        ["node", str(NODE_VERIFIER)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STANDARDWEBHOOKS_NODE_MODULES": modules},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _case(secret: str, delivery: dict) -> dict:
    return {"secret": secret, "body": delivery["body"].decode(), "headers": delivery["headers"]}


def test_the_official_libraries_verify_deliveries_before_and_during_a_rotation(server, receiver):
    created = _api(
        server, "POST", "/v1/webhooks",
        {"url": receiver.url, "events": ["agent.registered"], "description": "standard webhooks"},
    )
    first_secret = created["secret"]
    assert first_secret.startswith("whsec_")

    _register_agent(server)
    [first] = receiver.wait_for(1)
    headers = first["headers"]
    # The Standard Webhooks headers, beside the seed's own.
    assert headers["webhook-id"] == headers["x-intendedops-id"]
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]
    assert "x-intendedops-signature" in headers
    payload = Webhook(first_secret).verify(first["body"], headers)
    assert payload["event"] == "agent.registered"
    assert payload["id"] == headers["webhook-id"]

    rotated = _api(server, "POST", f"/v1/webhooks/{created['id']}/rotate")
    second_secret = rotated["secret"]
    assert second_secret != first_secret
    _register_agent(server)
    second = receiver.wait_for(2)[1]
    signatures = second["headers"]["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    # Receivers holding either secret accept the delivery during the grace period.
    for secret in (second_secret, first_secret):
        assert Webhook(secret).verify(second["body"], second["headers"])["event"] == "agent.registered"

    # Altered deliveries are refused: another body, another id, a stale timestamp, another secret.
    tampered = second["body"].replace(b"agent.registered", b"agent.registerex")
    stale = {**second["headers"], "webhook-timestamp": str(int(time.time()) - 6 * 60)}
    other_id = {**second["headers"], "webhook-id": "whk_forged"}
    for body, hdrs, secret in [
        (tampered, second["headers"], second_secret),
        (second["body"], stale, second_secret),
        (second["body"], other_id, second_secret),
        (first["body"], first["headers"], second_secret),
    ]:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, hdrs)

    # The npm library agrees on all of it.
    verdicts = _node_verdicts([
        _case(first_secret, first),
        _case(second_secret, second),
        _case(first_secret, second),
        {**_case(second_secret, second), "headers": stale},
        {**_case(second_secret, second), "body": tampered.decode()},
    ])
    assert verdicts[:3] == ["ok", "ok", "ok"], verdicts
    assert all(v.startswith("refused") for v in verdicts[3:]), verdicts
