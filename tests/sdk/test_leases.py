"""RFC-0003: scope leases."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from openintent.exceptions import (
    ConflictError,
    LeaseConflictError,
    NotFoundError,
    OpenIntentError,
    ValidationError,
)
from openintent.models import EventType, LeaseStatus

from sdkhelpers import event_types, ids, is_utc, new_intent


def active_leases(client, intent_id):
    return [l for l in client.get_leases(intent_id) if l.status == LeaseStatus.ACTIVE]


def test_acquire_get_renew_release(client):
    intent = new_intent(client)
    before = datetime.now(timezone.utc)
    lease = client.acquire_lease(intent.id, "research", duration_seconds=120)
    assert isinstance(lease.id, str) and lease.id
    assert lease.intent_id == intent.id
    assert lease.agent_id == "research-agent"
    assert lease.scope == "research"
    assert lease.status == LeaseStatus.ACTIVE
    assert is_utc(lease.expires_at)
    # expires_at ≈ now + 120 s (a few seconds of slack for slow machines)
    assert before + timedelta(seconds=110) <= lease.expires_at <= before + timedelta(seconds=130)

    listed = client.get_leases(intent.id)
    assert lease.id in ids(listed)
    same = next(l for l in listed if l.id == lease.id)
    assert same.scope == "research"
    assert same.agent_id == "research-agent"
    assert same.status == LeaseStatus.ACTIVE

    renewed = client.renew_lease(intent.id, lease.id, duration_seconds=600)
    assert renewed.id == lease.id
    assert renewed.status == LeaseStatus.ACTIVE
    assert renewed.expires_at > lease.expires_at + timedelta(seconds=400)

    client.release_lease(intent.id, lease.id)
    assert lease.id not in ids(active_leases(client, intent.id))

    types = event_types(client, intent.id)
    assert "lease_acquired" in types
    assert "lease_released" in types
    acquired = client.get_events(intent.id, event_type=EventType.LEASE_ACQUIRED)
    assert len(acquired) == 1
    assert "research" in str(acquired[0].payload)


def test_lease_context_manager(client):
    intent = new_intent(client)
    with client.lease(intent.id, "synthesis", duration_seconds=60) as lease:
        assert lease.scope == "synthesis"
        assert lease.agent_id == "research-agent"
        inside = active_leases(client, intent.id)
        assert [l.id for l in inside] == [lease.id]
    assert active_leases(client, intent.id) == []
    released = client.get_events(intent.id, event_type=EventType.LEASE_RELEASED)
    assert len(released) == 1


def test_second_agent_gets_lease_conflict(client, client2):
    intent = new_intent(client)
    lease = client.acquire_lease(intent.id, "analysis")

    with pytest.raises(LeaseConflictError) as caught:
        client2.acquire_lease(intent.id, "analysis")
    error = caught.value
    assert error.status_code == 409
    assert isinstance(error.existing_lease, dict), error.response
    assert error.existing_lease.get("id") == lease.id
    assert error.existing_lease.get("agent_id") == "research-agent"
    assert error.existing_lease.get("scope") == "analysis"

    # Another scope of the same intent is free.
    other = client2.acquire_lease(intent.id, "writing")
    assert other.agent_id == "synth-agent"
    assert sorted(l.scope for l in active_leases(client, intent.id)) == ["analysis", "writing"]

    # Once released, the scope can be taken by the second agent.
    client.release_lease(intent.id, lease.id)
    taken = client2.acquire_lease(intent.id, "analysis")
    assert taken.agent_id == "synth-agent"
    assert taken.id != lease.id


def test_lease_conflict_is_not_a_version_conflict(client, client2):
    intent = new_intent(client)
    client.acquire_lease(intent.id, "exclusive")
    with pytest.raises(LeaseConflictError):
        client2.acquire_lease(intent.id, "exclusive")
    # The SDK classifies 409s by the word "lease" in the body; a version conflict must not say it.
    with pytest.raises(ConflictError):
        client.update_state(intent.id, intent.version + 1, {"k": 1})


def test_lease_on_unknown_intent_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.acquire_lease("missing-intent-lease", "scope")


def test_release_unknown_lease_is_not_found(client):
    intent = new_intent(client)
    with pytest.raises(NotFoundError):
        client.release_lease(intent.id, "missing-lease")


def test_expired_lease_frees_the_scope(client, client2):
    intent = new_intent(client)
    lease = client.acquire_lease(intent.id, "short", duration_seconds=1)
    with pytest.raises(LeaseConflictError):
        client2.acquire_lease(intent.id, "short")
    time.sleep(1.2)
    assert lease.id not in ids(active_leases(client, intent.id))
    taken = client2.acquire_lease(intent.id, "short")
    assert taken.agent_id == "synth-agent"
    # An expired lease cannot be renewed back to life.
    with pytest.raises(OpenIntentError) as caught:
        client.renew_lease(intent.id, lease.id, duration_seconds=60)
    assert caught.value.status_code in (404, 409), caught.value.status_code


def test_lease_duration_is_validated(client):
    intent = new_intent(client)
    with pytest.raises(ValidationError) as caught:
        client.acquire_lease(intent.id, "bad", duration_seconds=0)
    assert caught.value.errors, caught.value.response  # the 400 lists what is wrong
    assert client.get_leases(intent.id) == []
