"""RFC-0011: access control lists and access requests."""

from __future__ import annotations

import pytest
from openintent import OpenIntentClient
from openintent.exceptions import NotFoundError, OpenIntentError
from openintent.models import AccessPolicy, AccessRequestStatus, EventType, LeaseStatus, Permission

from sdkhelpers import event_types, ids, new_intent, unique


def test_get_set_grant_revoke_acl(client):
    intent = new_intent(client)
    acl = client.get_acl(intent.id)
    assert acl.intent_id == intent.id
    assert acl.default_policy == AccessPolicy.OPEN

    acl = client.set_acl(
        intent.id,
        default_policy=AccessPolicy.CLOSED,
        entries=[
            {"principal_id": "research-agent", "principal_type": "agent", "permission": "admin"},
            {"principal_id": "synth-agent", "principal_type": "agent", "permission": "write"},
        ],
    )
    assert acl.intent_id == intent.id
    assert acl.default_policy == AccessPolicy.CLOSED
    assert sorted((e.principal_id, e.permission) for e in acl.entries) == [
        ("research-agent", Permission.ADMIN),
        ("synth-agent", Permission.WRITE),
    ]
    assert all(isinstance(e.id, str) and e.id for e in acl.entries)

    entry = client.grant_access(
        intent.id, "auditor-agent", permission=Permission.READ, reason="quarterly audit"
    )
    assert isinstance(entry.id, str) and entry.id
    assert entry.principal_id == "auditor-agent"
    assert entry.principal_type == "agent"
    assert entry.permission == Permission.READ
    assert entry.reason == "quarterly audit"
    assert entry.granted_by == "research-agent"

    acl = client.get_acl(intent.id)
    assert acl.default_policy == AccessPolicy.CLOSED
    assert sorted(e.principal_id for e in acl.entries) == [
        "auditor-agent",
        "research-agent",
        "synth-agent",
    ]

    client.revoke_access(intent.id, entry.id)
    acl = client.get_acl(intent.id)
    assert entry.id not in ids(acl.entries)
    assert sorted(e.principal_id for e in acl.entries) == ["research-agent", "synth-agent"]
    with pytest.raises(NotFoundError):
        client.revoke_access(intent.id, entry.id)

    types = event_types(client, intent.id)
    assert "access_granted" in types
    assert "access_revoked" in types

    # set_acl replaces the whole list.
    acl = client.set_acl(intent.id, default_policy=AccessPolicy.OPEN, entries=[])
    assert acl.default_policy == AccessPolicy.OPEN
    assert acl.entries == []
    assert client.get_acl(intent.id).entries == []


def test_access_request_approve_and_deny(client, client2):
    intent = new_intent(client)
    request = client2.request_access(
        intent.id,
        "synth-agent",
        permission=Permission.WRITE,
        reason="need to write the synthesis",
        capabilities=["summarize", "cite"],
    )
    assert isinstance(request.id, str) and request.id
    assert request.intent_id == intent.id
    assert request.principal_id == "synth-agent"
    assert request.principal_type == "agent"
    assert request.requested_permission == Permission.WRITE
    assert request.reason == "need to write the synthesis"
    assert request.capabilities == ["summarize", "cite"]
    assert request.status == AccessRequestStatus.PENDING

    other = client2.request_access(intent.id, "helper-agent", permission=Permission.ADMIN)
    assert other.status == AccessRequestStatus.PENDING

    pending = client.list_access_requests(intent.id)
    assert sorted(ids(pending)) == sorted([request.id, other.id])
    assert all(r.status == AccessRequestStatus.PENDING for r in pending)

    approved = client.approve_access_request(
        intent.id, request.id, permission=Permission.READ, reason="read is enough"
    )
    assert approved.id == request.id
    assert approved.status == AccessRequestStatus.APPROVED
    assert approved.decided_by == "research-agent"
    assert approved.decided_at is not None

    # Approval grants the access: an ACL entry for the principal.
    entries = client.get_acl(intent.id).entries
    granted = [e for e in entries if e.principal_id == "synth-agent"]
    assert len(granted) == 1
    assert granted[0].permission == Permission.READ

    denied = client.deny_access_request(intent.id, other.id, reason="too broad")
    assert denied.id == other.id
    assert denied.status == AccessRequestStatus.DENIED
    assert denied.decided_by == "research-agent"
    assert "helper-agent" not in [e.principal_id for e in client.get_acl(intent.id).entries]

    statuses = {r.id: r.status for r in client.list_access_requests(intent.id)}
    assert statuses == {
        request.id: AccessRequestStatus.APPROVED,
        other.id: AccessRequestStatus.DENIED,
    }

    types = event_types(client, intent.id)
    assert types.count("access_requested") == 2
    assert "access_request_approved" in types
    assert "access_request_denied" in types
    requested = client.get_events(intent.id, event_type=EventType.ACCESS_REQUESTED)
    assert len(requested) == 2


def test_access_request_on_unknown_intent(client):
    with pytest.raises(NotFoundError):
        client.request_access("missing-" + unique("a"), "x-agent")
    with pytest.raises(NotFoundError):
        client.get_acl("missing-" + unique("a"))


def test_unknown_access_request_is_not_found(client):
    intent = new_intent(client)
    with pytest.raises(NotFoundError):
        client.approve_access_request(intent.id, "missing-request")
    with pytest.raises(NotFoundError):
        client.deny_access_request(intent.id, "missing-request")


def test_closed_acl_is_enforced(client, client2, admin_client):
    """RFC-0011: a closed intent admits its creator, admin keys and listed principals only."""
    intent = new_intent(client)
    client.set_acl(intent.id, default_policy=AccessPolicy.CLOSED, entries=[])

    # The creator keeps access; an admin-scope key passes; another agent is refused.
    assert client.get_intent(intent.id).id == intent.id
    assert admin_client.get_intent(intent.id).id == intent.id
    with pytest.raises(OpenIntentError) as caught:
        client2.get_intent(intent.id)
    assert caught.value.status_code == 403
    with pytest.raises(OpenIntentError) as caught:
        client2.update_state(intent.id, intent.version, {"x": 1})
    assert caught.value.status_code == 403

    read = client.grant_access(intent.id, "synth-agent", permission=Permission.READ)
    assert client2.get_intent(intent.id).id == intent.id
    with pytest.raises(OpenIntentError) as caught:
        client2.update_state(intent.id, intent.version, {"x": 1})
    assert caught.value.status_code == 403

    write = client.grant_access(intent.id, "synth-agent", permission=Permission.WRITE)
    patched = client2.update_state(intent.id, intent.version, {"x": 1})
    assert patched.version == intent.version + 1

    client.revoke_access(intent.id, write.id)
    with pytest.raises(OpenIntentError) as caught:
        client2.update_state(intent.id, patched.version, {"x": 2})
    assert caught.value.status_code == 403
    client.revoke_access(intent.id, read.id)
    with pytest.raises(OpenIntentError) as caught:
        client2.get_intent(intent.id)
    assert caught.value.status_code == 403
    assert client.get_intent(intent.id).version == patched.version


def test_request_access_works_without_access(client, client2):
    """The SDK documents request_access as working 'even without existing access'."""
    intent = new_intent(client)
    client.set_acl(intent.id, default_policy=AccessPolicy.CLOSED, entries=[])
    with pytest.raises(OpenIntentError):
        client2.get_intent(intent.id)
    request = client2.request_access(
        intent.id, "synth-agent", permission=Permission.WRITE, reason="let me in"
    )
    assert request.status == AccessRequestStatus.PENDING
    assert request.principal_id == "synth-agent"
    assert [r.id for r in client.list_access_requests(intent.id)] == [request.id]
    client.approve_access_request(intent.id, request.id)
    assert client2.update_state(intent.id, intent.version, {"in": True}).version == 2


def test_revoke_access_releases_the_principals_leases(client, client2):
    """The SDK documents revoke_access as 'removes ACL entry and cascades to leases'."""
    intent = new_intent(client)
    client.set_acl(intent.id, default_policy=AccessPolicy.CLOSED, entries=[])
    entry = client.grant_access(intent.id, "synth-agent", permission=Permission.WRITE)
    lease = client2.acquire_lease(intent.id, "drafting")
    assert lease.agent_id == "synth-agent"

    client.revoke_access(intent.id, entry.id)
    active = [l for l in client.get_leases(intent.id) if l.status == LeaseStatus.ACTIVE]
    assert lease.id not in ids(active)
    # The scope is free again.
    assert client.acquire_lease(intent.id, "drafting").agent_id == "research-agent"


def test_read_scope_key_cannot_write(other_tenant_client, other_tenant_reader):
    intent = other_tenant_client.create_intent(title=unique("read-scope"))
    assert other_tenant_reader.get_intent(intent.id).id == intent.id
    assert intent.id in ids(other_tenant_reader.list_intents(limit=100))
    with pytest.raises(OpenIntentError) as caught:
        other_tenant_reader.create_intent(title=unique("nope"))
    assert caught.value.status_code == 403
    with pytest.raises(OpenIntentError) as caught:
        other_tenant_reader.update_state(intent.id, intent.version, {"x": 1})
    assert caught.value.status_code == 403
    with pytest.raises(OpenIntentError) as caught:
        other_tenant_reader.log_event(intent.id, EventType.COMMENT, {})
    assert caught.value.status_code == 403
    assert other_tenant_client.get_intent(intent.id).version == 1


def test_a_bound_key_cannot_claim_another_agent(base_url, client, client2):
    """The development agent keys are bound: the research key may not act as synth-agent,
    so a closed intent of the synthesis agent stays closed to it."""
    theirs = new_intent(client2)
    client2.set_acl(theirs.id, default_policy=AccessPolicy.CLOSED, entries=[])
    with OpenIntentClient(
        base_url=base_url, api_key="agent-research-key", agent_id="synth-agent", timeout=15.0
    ) as impostor:
        for attempt in (
            lambda: impostor.get_intent(theirs.id),
            lambda: impostor.update_state(theirs.id, theirs.version, {"x": 1}),
            lambda: impostor.create_intent(title=unique("as synth")),
        ):
            with pytest.raises(OpenIntentError) as caught:
                attempt()
            assert caught.value.status_code == 403
    # Under its own name the same key works, and meets the closed ACL like any other agent.
    assert new_intent(client).created_by == "research-agent"
    with pytest.raises(OpenIntentError) as caught:
        client.get_intent(theirs.id)
    assert caught.value.status_code == 403
