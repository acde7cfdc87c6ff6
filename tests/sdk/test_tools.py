"""RFC-0014 through the SDK: vaults, credentials, tool grants, invocations and the tool proxy,
against a real HTTP tool server on loopback (one per session, one route per adapter).

The tool server echoes what it received (headers included) so the redaction of secrets an
upstream sends back is checked; every response the SDK clients of this module receive, and
the server's log, are searched for every secret used here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from openintent.exceptions import NotFoundError, OpenIntentError, ValidationError
from openintent.models import GrantSource, GrantStatus, ToolGrant

from conftest import CLIENT_TIMEOUT_S, RESEARCH_AGENT, SYNTH_AGENT, SYNTH_KEY
from sdkhelpers import event_types, new_intent, py310_instant, unique

# Every secret this module stores; none may ever come back or reach the log.
SECRETS: set[str] = set()
# Every response body the module's SDK clients received.
BODIES: list[str] = []
FRESH_TOKEN = "fresh-access-token-" + "7" * 24


def secret(label: str) -> str:
    value = unique(f"sekret-{label}") + "-Zq9"
    SECRETS.add(value)
    return value


class ToolServer:
    """A loopback HTTP service: records every request, answers by path."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.token_requests = 0
        self.signing_secrets: dict[str, str] = {}
        tool = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: bytes, content_type="application/json"):
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                seen = {
                    "method": self.command,
                    "path": url.path,
                    "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode(errors="replace"),
                }
                tool.requests.append(seen)
                path = url.path
                if path == "/oauth/token":
                    tool.token_requests += 1
                    answer = {"access_token": FRESH_TOKEN, "token_type": "bearer"}
                    return self._answer(200, json.dumps(answer).encode())
                if path.startswith("/oauth/"):
                    if seen["headers"].get("authorization") != f"Bearer {FRESH_TOKEN}":
                        return self._answer(401, b'{"error": "invalid_token"}')
                if path == "/fail":
                    echo = {"error": "boom", "headers": seen["headers"]}
                    return self._answer(500, json.dumps(echo).encode())
                if path == "/big":
                    return self._answer(200, b'"' + b"x" * (2 << 20) + b'"')
                if path == "/slow":
                    time.sleep(3)
                    return self._answer(200, b"{}")
                if path == "/text":
                    key = seen["query"].get("apikey", "")
                    return self._answer(200, f"plain text with {key}".encode(), "text/plain")
                if path.startswith("/hook/"):
                    expected = tool.signing_secrets.get(path, "")
                    mac = hmac.new(expected.encode(), body, hashlib.sha256).hexdigest()
                    valid = seen["headers"].get("x-openintent-signature") == f"sha256={mac}"
                    answer = {"signature_valid": valid, "received": json.loads(body or b"{}")}
                    return self._answer(200, json.dumps(answer).encode())
                answer = {"hits": 3, "path": path, "query": seen["query"], "headers": seen["headers"]}
                return self._answer(200, json.dumps(answer).encode())

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def last(self, path: str) -> dict:
        return next(r for r in reversed(self.requests) if r["path"] == path)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)


@pytest.fixture(scope="module")
def tools_server():
    server = ToolServer()
    yield server
    server.httpd.shutdown()


def recording(sdk_client):
    """Records the body of every response `sdk_client` receives."""

    def keep(response: httpx.Response) -> None:
        response.read()
        BODIES.append(response.text)

    sdk_client._client.event_hooks["response"].append(keep)
    return sdk_client


@pytest.fixture
def admin(admin_client):
    return recording(admin_client)


@pytest.fixture
def agent(client):
    return recording(client)


@pytest.fixture
def agent2(client2):
    return recording(client2)


def vault(admin) -> dict:
    return admin.create_vault(owner_id="user-ops", name=unique("vault"))


def credential(admin, vault_id: str, scopes: list[str], **kwargs) -> dict:
    kwargs.setdefault("service", unique("svc"))
    service = kwargs.pop("service")
    return admin.create_credential(
        vault_id, service, unique("label"), scopes_available=scopes, **kwargs
    )


def grant(admin, credential_id: str, scopes: list[str], agent=RESEARCH_AGENT, **kwargs) -> ToolGrant:
    return admin.create_tool_grant(credential_id, agent, "user-ops", scopes, **kwargs)


def refusal(call, status: int, code: str) -> dict:
    with pytest.raises(OpenIntentError) as refused:
        call()
    assert refused.value.status_code == status, refused.value.response
    body = refused.value.response
    assert body["error"]["code"] == code, body
    return body


def rest_tool(admin, tools_server, auth_type: str, secret_fields: dict, scope: str, **meta):
    """A vault, a REST credential with `auth_type`, and a grant of `scope` to the research agent."""
    metadata = {"base_url": tools_server.url, **meta}
    metadata.update(secret_fields)  # secret fields sent in metadata are moved out of it
    cred = credential(admin, vault(admin)["id"], [scope], auth_type=auth_type, metadata=metadata)
    return cred, grant(admin, cred["id"], [scope])


def test_vault_credential_and_grant_round_trip(admin, agent):
    made = vault(admin)
    assert made["id"].startswith("vault_") and made["credentials"] == []
    assert py310_instant(made["created_at"])
    key = secret("roundtrip")
    cred = credential(
        admin,
        made["id"],
        ["charges.read", "charges.create"],
        service="stripe",
        metadata={"environment": "production", "api_key": key},
        secret={"password": secret("roundtrip-pw")},
    )
    assert cred["metadata"] == {"environment": "production"}
    assert sorted(cred["secret_fields"]) == ["api_key", "password"]
    assert cred["status"] == "active" and cred["auth_type"] == "api_key"
    assert admin.get_vault(made["id"])["credentials"] == [cred["id"]]
    assert admin.get_credential(cred["id"])["secret_fields"] == cred["secret_fields"]

    made_grant = grant(admin, cred["id"], ["charges.read"], constraints={"max_invocations_per_hour": 5})
    assert isinstance(made_grant, ToolGrant)
    assert made_grant.status == GrantStatus.ACTIVE and made_grant.source == GrantSource.DIRECT
    assert made_grant.constraints.max_invocations_per_hour == 5
    assert made_grant.created_at is not None and made_grant.created_at.tzinfo is not None
    assert admin.get_tool_grant(made_grant.id).scopes == ["charges.read"]
    listed = agent.list_agent_grants(RESEARCH_AGENT)
    assert made_grant.id in [g.id for g in listed]
    granted = agent._client.get("/api/v1/tools/granted").json()
    assert granted["agent_id"] == RESEARCH_AGENT
    mine = [t for t in granted["tools"] if t["grant_id"] == made_grant.id]
    assert mine == [{
        "grant_id": made_grant.id, "service": "stripe", "tool": "charges.read",
        "constraints": {"max_invocations_per_hour": 5}, "source": "direct",
        "delegated_from": None, "context": {}, "expires_at": None,
    }]


def test_scopes_no_wider_than_the_credential_and_bad_inputs(admin):
    cred = credential(admin, vault(admin)["id"], ["read"])
    with pytest.raises(ValidationError):
        grant(admin, cred["id"], ["read", "admin"])
    with pytest.raises(ValidationError):
        grant(admin, cred["id"], ["read"], constraints={"ip_allowlist": ["10.0.0.1"]})
    with pytest.raises(ValidationError):
        grant(admin, cred["id"], ["read"], expires_at="2001-01-01T00:00:00Z")
    with pytest.raises(ValidationError):
        admin.create_credential(cred["vault_id"], "svc", "l", auth_type="magic")
    with pytest.raises(ValidationError):  # a REST credential needs its key
        admin.create_credential(
            cred["vault_id"], "svc", "l", metadata={"base_url": "https://api.example.com"}
        )
    with pytest.raises(NotFoundError):
        admin.create_credential("vault_missing", "svc", "l")


def test_only_admin_keys_manage_vaults(agent, admin):
    with pytest.raises(OpenIntentError) as refused:
        agent.create_vault(owner_id="me", name=unique("vault"))
    assert refused.value.status_code == 403
    cred = credential(admin, vault(admin)["id"], ["read"])
    with pytest.raises(OpenIntentError) as refused:
        agent.create_tool_grant(cred["id"], RESEARCH_AGENT, "me", ["read"])
    assert refused.value.status_code == 403


@pytest.mark.parametrize(
    "auth_type, fields, meta, check",
    [
        (
            "api_key",
            {"api_key": "K"},
            {"auth": {"header_name": "X-API-Key"}},
            lambda seen, s: seen["headers"]["x-api-key"] == s["api_key"],
        ),
        (
            "api_key",
            {"api_key": "K"},
            {"auth": {"location": "query", "query_param": "apikey"}},
            lambda seen, s: seen["query"]["apikey"] == s["api_key"],
        ),
        (
            "bearer_token",
            {"token": "T"},
            {},
            lambda seen, s: seen["headers"]["authorization"] == f"Bearer {s['token']}",
        ),
        (
            "basic_auth",
            {"username": "svc-user", "password": "P"},
            {},
            lambda seen, s: seen["headers"]["authorization"].startswith("Basic "),
        ),
    ],
    ids=["api-key-header", "api-key-query", "bearer", "basic"],
)
def test_rest_adapter_applies_the_credential_and_redacts_echoes(
    admin, agent, tools_server, auth_type, fields, meta, check
):
    scope = unique("search")
    fields = {name: (value if name == "username" else secret(auth_type)) for name, value in fields.items()}
    cred, granted = rest_tool(
        admin,
        tools_server,
        auth_type,
        fields,
        scope,
        endpoints={scope: {"path": "/search", "method": "POST"}},
        **meta,
    )
    assert not set(fields) & set(cred["metadata"])
    answer = agent.invoke_tool(scope, RESEARCH_AGENT, {"query": "filings"})
    assert answer["status"] == "success" and answer["grant_id"] == granted.id
    seen = tools_server.last("/search")
    assert seen["method"] == "POST" and json.loads(seen["body"]) == {"query": "filings"}
    assert check(seen, fields), seen
    # The service echoed the credential back; the agent gets it redacted.
    echoed = json.dumps(answer["result"])
    assert answer["result"]["hits"] == 3
    for value in fields.values():
        if value in SECRETS:
            assert value not in echoed
    assert "[REDACTED]" in echoed
    invocations = agent.list_invocations(granted.id)
    assert [i["invocation_id"] for i in invocations] == [answer["invocation_id"]]
    assert invocations[0]["status"] == "success"
    assert invocations[0]["context"]["http_status"] == 200


def test_path_parameters_and_get_queries(admin, agent, tools_server):
    scope = "charges.read"
    _, granted = rest_tool(
        admin,
        tools_server,
        "api_key",
        {"api_key": secret("path")},
        scope,
        endpoints={scope: {"path": "/charges/{charge_id}", "method": "GET"}},
    )
    answer = agent.invoke_tool(scope, RESEARCH_AGENT, {"charge_id": "ch 1/2", "expand": "customer"},
                               grant_id=granted.id)
    seen = tools_server.last("/charges/ch%201%2F2")
    assert seen["method"] == "GET" and seen["query"] == {"expand": "customer"}
    assert answer["result"]["query"] == {"expand": "customer"}


def test_traced_invocations_carry_their_trace_to_the_service(admin, raw, tools_server):
    scope = unique("traced")
    rest_tool(admin, tools_server, "api_key", {"api_key": secret("traced")}, scope,
              endpoints={scope: {"path": "/traced"}})
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = raw.post(
        "/api/v1/tools/invoke",
        json={"tool_name": scope, "agent_id": RESEARCH_AGENT},
        headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    BODIES.append(response.text)
    assert response.status_code == 200, response.text
    sent = tools_server.last("/traced")["headers"]["traceparent"]
    assert sent.startswith(f"00-{trace}-") and sent.endswith("-01") and len(sent) == 55
    assert "00f067aa0ba902b7" not in sent  # a span of its own


def test_oauth2_refreshes_once_and_keeps_the_new_token(admin, agent, tools_server):
    scope = unique("oauth")
    before = tools_server.token_requests
    _, granted = rest_tool(
        admin,
        tools_server,
        "oauth2_client_credentials",
        {
            "access_token": secret("stale-token"),
            "client_id": "client-1",
            "client_secret": secret("client-secret"),
        },
        scope,
        endpoints={scope: {"path": "/oauth/api", "method": "POST"}},
        token_url=f"{tools_server.url}/oauth/token",
    )
    SECRETS.add(FRESH_TOKEN)
    first = agent.invoke_tool(scope, RESEARCH_AGENT, {"n": 1})
    assert first["status"] == "success", first
    assert tools_server.token_requests == before + 1
    token_request = tools_server.last("/oauth/token")
    assert "grant_type=client_credentials" in token_request["body"]
    assert token_request["headers"]["authorization"].startswith("Basic ")
    # The refreshed token was sealed back: the next call uses it without a refresh.
    second = agent.invoke_tool(scope, RESEARCH_AGENT, {"n": 2})
    assert second["status"] == "success"
    assert tools_server.token_requests == before + 1
    assert FRESH_TOKEN not in json.dumps(first), first
    assert FRESH_TOKEN not in json.dumps(second), second
    assert len(agent.list_invocations(granted.id)) == 2


def test_webhook_adapter_signs_its_posts(admin, agent, tools_server):
    scope = unique("notify")
    signing = secret("signing")
    path = f"/hook/{unique('h')}"
    tools_server.signing_secrets[path] = signing
    cred = credential(
        admin,
        vault(admin)["id"],
        [scope],
        auth_type="custom",
        metadata={"base_url": tools_server.url + path, "adapter": "webhook"},
        secret={"signing_secret": signing},
    )
    grant(admin, cred["id"], [scope])
    answer = agent.invoke_tool(scope, RESEARCH_AGENT, {"to": "ops"})
    assert answer["result"]["signature_valid"] is True
    assert answer["result"]["received"]["tool_name"] == scope
    assert answer["result"]["received"]["parameters"] == {"to": "ops"}


def test_placeholder_result_without_execution_config(admin, agent):
    scope = unique("draft")
    cred = credential(admin, vault(admin)["id"], [scope])
    grant(admin, cred["id"], [scope])
    answer = agent.invoke_tool(scope, RESEARCH_AGENT, {"a": 1})
    assert answer["status"] == "success"
    assert answer["result"]["placeholder"] is True and answer["result"]["parameters"] == {"a": 1}


def test_upstream_failures_are_recorded_and_answered(admin, agent, tools_server):
    scopes = {"fail": "/fail", "big": "/big", "slow": "/slow", "text": "/text"}
    key = secret("failures")
    cred = credential(
        admin,
        vault(admin)["id"],
        list(scopes),
        metadata={
            "base_url": tools_server.url,
            "timeout_ms": 1000,
            "auth": {"location": "query", "query_param": "apikey"},
            "endpoints": {s: {"path": p} for s, p in scopes.items()},
        },
        secret={"api_key": key},
    )
    granted = grant(admin, cred["id"], list(scopes))
    body = refusal(lambda: agent.invoke_tool("fail", RESEARCH_AGENT), 502, "SERVICE_ERROR")
    assert body["error"]["details"]["invocation_id"].startswith("inv_")
    assert key not in json.dumps(body)
    refusal(lambda: agent.invoke_tool("big", RESEARCH_AGENT), 502, "PROXY_ERROR")
    slow = refusal(lambda: agent.invoke_tool("slow", RESEARCH_AGENT), 502, "PROXY_ERROR")
    assert "timed out" in slow["error"]["message"]
    text = agent.invoke_tool("text", RESEARCH_AGENT)
    assert text["result"] == {"raw": "plain text with [REDACTED]"}
    statuses = [i["status"] for i in agent.list_invocations(granted.id)]
    assert statuses == ["error", "error", "error", "success"]
    failed = agent.list_invocations(granted.id)[0]
    assert failed["context"]["http_status"] == 500 and key not in json.dumps(failed)


def test_rate_limits_parameters_and_idempotency(admin, agent, tools_server):
    scope = unique("pay")
    _, granted = rest_tool(
        admin,
        tools_server,
        "api_key",
        {"api_key": secret("limits")},
        scope,
        endpoints={scope: {"path": "/pay"}},
    )
    limited = grant(
        admin,
        granted.credential_id,
        [scope],
        agent=SYNTH_AGENT,
        constraints={
            "max_invocations_per_hour": 2,
            "allowed_parameters": {"currency": ["usd"], "amount_max": 100},
        },
    )
    with httpx.Client(base_url=agent._client.base_url, timeout=CLIENT_TIMEOUT_S,
                      headers={"X-API-Key": SYNTH_KEY, "X-Agent-ID": SYNTH_AGENT}) as synth:
        def invoke(**body):
            response = synth.post("/api/v1/tools/invoke", json={"tool_name": scope, **body})
            BODIES.append(response.text)
            return response

        denied = invoke(parameters={"currency": "eur", "amount": 5})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "GRANT_PARAMETER_DENIED"
        assert invoke(parameters={"amount": 500}).status_code == 403
        before = tools_server.count("/pay")
        first = invoke(parameters={"currency": "usd", "amount": 5}, idempotency_key="pay-1")
        assert first.status_code == 200, first.text
        again = invoke(parameters={"currency": "usd", "amount": 5}, idempotency_key="pay-1")
        assert again.status_code == 200 and again.json()["replayed"] is True
        assert again.json()["invocation_id"] == first.json()["invocation_id"]
        assert tools_server.count("/pay") == before + 1
        assert invoke(parameters={"currency": "usd", "amount": 6}).status_code == 200
        over = invoke(parameters={"currency": "usd", "amount": 7})
        assert over.status_code == 429, over.text
        assert over.json()["error"]["code"] == "GRANT_RATE_LIMITED"
        assert 0 < over.json()["error"]["details"]["retry_after_seconds"] <= 3600
        assert over.headers["retry-after"] == str(over.json()["error"]["details"]["retry_after_seconds"])
        assert tools_server.count("/pay") == before + 2
    assert len(agent.list_invocations(limited.id)) == 2


def test_delegation_revocation_cascade_and_suspension(admin, agent, agent2, base_url):
    scope = unique("read")
    cred = credential(admin, vault(admin)["id"], [scope, "other.scope"])
    source = grant(admin, cred["id"], [scope, "other.scope"], delegatable=True, delegation_depth=1)
    delegate = agent._client.post(
        f"/api/v1/grants/{source.id}/delegate",
        json={"agent_id": SYNTH_AGENT, "scopes": [scope]},
    )
    assert delegate.status_code == 201, delegate.text
    delegated = ToolGrant.from_dict(delegate.json())
    assert delegated.source == GrantSource.DELEGATED and delegated.delegated_from == source.id
    assert delegated.delegation_depth == 0 and delegated.delegatable is False
    wider = agent._client.post(
        f"/api/v1/grants/{source.id}/delegate",
        json={"agent_id": SYNTH_AGENT, "scopes": ["admin.all"]},
    )
    assert wider.status_code == 400
    assert agent2.invoke_tool(scope, SYNTH_AGENT)["grant_id"] == delegated.id

    suspended = admin._client.patch(f"/api/v1/grants/{source.id}/suspend")
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    refusal(lambda: agent2.invoke_tool(scope, SYNTH_AGENT), 403, "GRANT_SUSPENDED")
    assert admin._client.patch(f"/api/v1/grants/{source.id}/resume").status_code == 200
    assert agent2.invoke_tool(scope, SYNTH_AGENT)["status"] == "success"

    revoked = admin.revoke_grant(source.id)
    assert revoked == {"status": "revoked", "grant_id": source.id, "revoked": 2}
    assert admin.get_tool_grant(delegated.id).status == GrantStatus.REVOKED
    refusal(lambda: agent2.invoke_tool(scope, SYNTH_AGENT), 403, "GRANT_REVOKED")
    refusal(lambda: agent.invoke_tool(scope, RESEARCH_AGENT), 403, "GRANT_REVOKED")


def test_expiry_scope_and_credential_revocation(admin, agent):
    scope = unique("s")
    cred = credential(admin, vault(admin)["id"], [scope, "wider"], service="acme")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    short = grant(admin, cred["id"], [scope], expires_at=soon)
    assert agent.invoke_tool(scope, RESEARCH_AGENT)["grant_id"] == short.id
    insufficient = refusal(lambda: agent.invoke_tool("acme.refunds.create", RESEARCH_AGENT),
                           403, "GRANT_SCOPE_INSUFFICIENT")
    assert scope in insufficient["error"]["details"]["available_scopes"]
    time.sleep(2.2)
    assert admin.get_tool_grant(short.id).status == GrantStatus.EXPIRED
    refusal(lambda: agent.invoke_tool(scope, RESEARCH_AGENT), 403, "GRANT_EXPIRED")

    lasting = grant(admin, cred["id"], [scope])
    assert agent.invoke_tool(scope, RESEARCH_AGENT)["grant_id"] == lasting.id
    revoked = admin._client.delete(f"/api/v1/credentials/{cred['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert admin.get_tool_grant(lasting.id).status == GrantStatus.REVOKED
    refusal(lambda: agent.invoke_tool(scope, RESEARCH_AGENT), 403, "GRANT_REVOKED")
    refusal(lambda: agent.invoke_tool(unique("nothing"), RESEARCH_AGENT), 404, "GRANT_NOT_FOUND")


def test_recorded_invocations_and_intent_context(admin, agent):
    scope = unique("ctx")
    cred = credential(admin, vault(admin)["id"], [scope])
    intent = new_intent(agent)
    bound = grant(admin, cred["id"], [scope], context={"intent_id": intent.id})
    refusal(lambda: agent.invoke_tool(scope, RESEARCH_AGENT), 403, "GRANT_CONTEXT_MISMATCH")
    answer = agent.invoke_tool(scope, RESEARCH_AGENT, context={"intent_id": intent.id})
    assert answer["grant_id"] == bound.id
    assert "tool.invoked" in event_types(agent, intent.id)

    recorded = agent.record_invocation(bound.id, cred["service"], scope, RESEARCH_AGENT,
                                       parameters={"q": 1, "api_key": "leak?"}, duration_ms=12)
    assert recorded["status"] == "success" and recorded["parameters"]["api_key"] == "[REDACTED]"
    listed = agent.list_invocations(bound.id, limit=10)
    assert [i["id"] for i in listed] == [answer["invocation_id"], recorded["id"]]
    with pytest.raises(OpenIntentError) as refused:
        agent.record_invocation(bound.id, cred["service"], scope, SYNTH_AGENT)
    assert refused.value.status_code == 403


def test_another_tenant_gets_404_on_every_route(admin, agent, other_tenant_client):
    scope = unique("t")
    made = vault(admin)
    cred = credential(admin, made["id"], [scope])
    granted = grant(admin, cred["id"], [scope])
    invoked = agent.invoke_tool(scope, RESEARCH_AGENT)
    other = recording(other_tenant_client)
    raw = other._client
    calls = [
        lambda: other.get_vault(made["id"]),
        lambda: other.get_credential(cred["id"]),
        lambda: other.get_tool_grant(granted.id),
        lambda: other.revoke_grant(granted.id),
        lambda: other.list_invocations(granted.id),
        lambda: other.create_credential(made["id"], "svc", "l"),
        lambda: other.create_tool_grant(cred["id"], "other-agent", "u", [scope]),
        lambda: other.record_invocation(granted.id, cred["service"], scope, "other-agent"),
        lambda: other.invoke_tool(scope, "other-agent", grant_id=granted.id),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            call()
    for method, path in [
        ("GET", f"/api/v1/vaults/{made['id']}/credentials"),
        ("DELETE", f"/api/v1/vaults/{made['id']}"),
        ("DELETE", f"/api/v1/credentials/{cred['id']}"),
        ("PATCH", f"/api/v1/credentials/{cred['id']}/rotate"),
        ("PATCH", f"/api/v1/grants/{granted.id}/suspend"),
        ("PATCH", f"/api/v1/grants/{granted.id}/resume"),
        ("POST", f"/api/v1/grants/{granted.id}/delegate"),
        ("GET", f"/api/v1/invocations/{invoked['invocation_id']}"),
    ]:
        body = {"agent_id": "other-agent"} if method == "POST" else {"secret": {"api_key": "x" * 8}}
        response = raw.request(method, path, json=body if method != "GET" else None)
        assert response.status_code == 404, (method, path, response.text)
    assert other.list_agent_grants(RESEARCH_AGENT) == []
    assert admin.get_tool_grant(granted.id).status == GrantStatus.ACTIVE


@pytest.mark.asyncio
async def test_async_client_invokes(async_client, base_url, admin):
    scope = unique("async")
    cred = credential(admin, vault(admin)["id"], [scope])
    granted = grant(admin, cred["id"], [scope])
    answer = await async_client.invoke_tool(scope, RESEARCH_AGENT, {"x": 1})
    assert answer["status"] == "success" and answer["grant_id"] == granted.id
    grants = await async_client.list_agent_grants(RESEARCH_AGENT)
    assert granted.id in [g.id for g in grants]
    assert (await async_client.get_tool_grant(granted.id)).scopes == [scope]
    listed = await async_client.list_invocations(granted.id)
    assert [i["invocation_id"] for i in listed] == [answer["invocation_id"]]


def test_secrets_never_left_the_server(server, admin):
    """Last in the module: no response seen here, nor the server log, holds a secret."""
    assert len(SECRETS) >= 8 and len(BODIES) > 40
    everything = "\n".join(BODIES)
    log = server.log_path.read_text(errors="replace")
    for value in SECRETS:
        assert value not in everything, f"a response carried secret {value[:12]}…"
        assert value not in log, f"the server log carried secret {value[:12]}…"
