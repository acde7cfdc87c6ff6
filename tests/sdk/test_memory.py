"""RFC-0015: agent memory through the SDK (sync and async)."""

from __future__ import annotations

import time

import httpx
import pytest
from openintent.exceptions import ConflictError, NotFoundError, OpenIntentError, ValidationError
from openintent.models import MemoryType

from conftest import ADMIN_KEY
from sdkhelpers import event_types, ids, is_utc, new_intent, py310_instant, unique


def test_memory_round_trip_versioned(client):
    namespace = unique("ns")
    entry = client.create_memory(
        "research-agent", namespace, "progress", {"done": 1}, tags=["batch", "q1"]
    )
    assert entry.id.startswith("mem_")
    assert entry.agent_id == "research-agent"
    assert entry.memory_type == MemoryType.WORKING
    assert entry.version == 1
    assert entry.value == {"done": 1}
    assert entry.tags == ["batch", "q1"]
    assert is_utc(entry.created_at)
    assert client.get_memory(entry.id).value == {"done": 1}

    updated = client.update_memory(entry.id, entry.version, value={"done": 2}, pinned=True)
    assert updated.version == 2
    assert updated.value == {"done": 2}
    assert updated.pinned is True
    with pytest.raises(ConflictError) as stale:
        client.update_memory(entry.id, entry.version, value={"done": 3})
    assert stale.value.current_version == 2
    assert client.get_memory(entry.id).value == {"done": 2}

    client.delete_memory(entry.id)
    with pytest.raises(NotFoundError):
        client.get_memory(entry.id)


def test_agent_namespace_key_is_unique(client, client2):
    namespace = unique("ns")
    client.create_memory("research-agent", namespace, "k", {"a": 1})
    with pytest.raises(ConflictError):
        client.create_memory("research-agent", namespace, "k", {"a": 2})
    # Another agent has its own key space for working memory...
    other = client2.create_memory("synth-agent", namespace, "k", {"b": 1})
    assert other.agent_id == "synth-agent"
    # ...but semantic memory is one per namespace and key.
    client.create_memory("research-agent", namespace, "fact", {"x": 1}, memory_type="semantic")
    with pytest.raises(ConflictError):
        client2.create_memory("synth-agent", namespace, "fact", {"x": 2}, memory_type="semantic")


def test_list_filters_by_namespace_type_and_all_tags(client):
    namespace = unique("ns")
    a = client.create_memory("research-agent", namespace, "a", {}, tags=["x", "y"])
    b = client.create_memory("research-agent", namespace, "b", {}, tags=["x"])
    c = client.create_memory(
        "research-agent", namespace, "c", {}, tags=["y"], memory_type="episodic"
    )
    client.create_memory("research-agent", unique("elsewhere"), "d", {}, tags=["x"])
    listed = client.list_memory("research-agent", namespace=namespace)
    assert ids(listed) == [a.id, b.id, c.id]
    assert ids(client.list_memory("research-agent", namespace=namespace, tags=["x"])) == [a.id, b.id]
    assert ids(client.list_memory("research-agent", namespace=namespace, tags=["x", "y"])) == [a.id]
    assert ids(client.list_memory("research-agent", namespace=namespace, memory_type="episodic")) == [c.id]
    assert ids(client.list_memory("research-agent", namespace=namespace, limit=1, offset=1)) == [b.id]


def test_working_memory_is_private_to_its_agent(client, client2):
    namespace = unique("ns")
    private = client.create_memory("research-agent", namespace, "secret", {"s": 1})
    shared = client.create_memory(
        "research-agent", namespace, "fact", {"f": 1}, memory_type="semantic"
    )
    with pytest.raises(NotFoundError):
        client2.get_memory(private.id)
    with pytest.raises(NotFoundError):
        client2.update_memory(private.id, 1, value={})
    assert ids(client2.list_memory("research-agent", namespace=namespace)) == [shared.id]
    assert client2.list_memory("research-agent", namespace=namespace, memory_type="working") == []
    assert client2.get_memory(shared.id).value == {"f": 1}
    # Readable, not writable, by another agent.
    with pytest.raises(OpenIntentError) as refused:
        client2.update_memory(shared.id, 1, value={"f": 2})
    assert refused.value.status_code == 403
    # A key bound to synth-agent cannot write as research-agent.
    with pytest.raises(OpenIntentError) as bound:
        client2.create_memory("research-agent", namespace, "spoof", {})
    assert bound.value.status_code == 403


def test_ttl_expires_entries(client):
    namespace = unique("ns")
    brief = client.create_memory("research-agent", namespace, "brief", {}, ttl="duration:PT1S")
    lasting = client.create_memory("research-agent", namespace, "lasting", {}, ttl="duration:PT1H")
    assert brief.expires_at is not None and is_utc(brief.expires_at)
    time.sleep(1.3)
    with pytest.raises(NotFoundError):
        client.get_memory(brief.id)
    assert ids(client.list_memory("research-agent", namespace=namespace)) == [lasting.id]
    with pytest.raises(ValidationError):
        client.create_memory("research-agent", namespace, "bad", {}, ttl="forever")


def test_expired_entries_are_purged_and_audited(client, base_url):
    entry = client.create_memory("research-agent", unique("ns"), "brief", {}, ttl="duration:PT1S")
    deadline = time.monotonic() + 20
    while True:
        answer = httpx.get(
            f"{base_url}/v1/audit",
            params={"eventType": "openintent.memory.expired", "pageSize": 100},
            headers={"X-API-Key": ADMIN_KEY},
        )
        assert answer.status_code == 200, answer.text
        if entry.id in [item["subject"] for item in answer.json()["data"]["items"]]:
            break
        assert time.monotonic() < deadline, "the expired entry was never purged"
        time.sleep(0.5)


def test_scoped_changes_are_logged_on_the_intent(client, raw):
    intent = new_intent(client)
    entry = client.create_memory(
        "research-agent", unique("ns"), "k", {"v": 1}, scope={"intent_id": intent.id}
    )
    client.update_memory(entry.id, 1, value={"v": 2})
    client.delete_memory(entry.id)
    assert event_types(client, intent.id)[-3:] == ["memory.created", "memory.updated", "memory.deleted"]
    body = raw.get(f"/api/v1/agents/research-agent/memory").json()
    assert all(py310_instant(e["created_at"]) for e in body)


def test_bad_memory_bodies(raw):
    for body in (
        {"namespace": "n"},
        {"namespace": "n", "key": "k", "memory_type": "dream"},
        {"namespace": "n", "key": "k", "value": [1]},
        {"namespace": "n", "key": "k", "tags": ["a,b"]},
        {"namespace": "n", "key": "k", "priority": "urgent"},
    ):
        answer = raw.post("/api/v1/memory", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]


def test_memory_is_tenant_scoped(client, other_tenant_client):
    entry = client.create_memory(
        "research-agent", unique("ns"), "k", {}, memory_type="semantic"
    )
    with pytest.raises(NotFoundError):
        other_tenant_client.get_memory(entry.id)
    with pytest.raises(NotFoundError):
        other_tenant_client.update_memory(entry.id, 1, value={})
    with pytest.raises(NotFoundError):
        other_tenant_client.delete_memory(entry.id)
    assert other_tenant_client.list_memory("research-agent") == []
    assert client.get_memory(entry.id).version == 1


@pytest.mark.asyncio
async def test_async_memory(async_client):
    namespace = unique("ns")
    entry = await async_client.create_memory("research-agent", namespace, "k", {"a": 1})
    assert (await async_client.get_memory(entry.id)).value == {"a": 1}
    updated = await async_client.update_memory(entry.id, entry.version, value={"a": 2})
    assert updated.version == 2
    assert ids(await async_client.list_memory("research-agent", namespace=namespace)) == [entry.id]
    await async_client.delete_memory(entry.id)
    assert await async_client.list_memory("research-agent", namespace=namespace) == []
