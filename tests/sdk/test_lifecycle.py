"""RFC-0016: agent lifecycle and health over the one agent registry."""

from __future__ import annotations

import time

import httpx
import pytest
from openintent import AsyncOpenIntentClient, OpenIntentClient
from openintent.exceptions import ConflictError, NotFoundError, OpenIntentError, ValidationError
from openintent.models import AgentStatus

from conftest import ADMIN_KEY, CLIENT_TIMEOUT_S
from sdkhelpers import is_utc, py310_instant, unique


@pytest.fixture
def fresh_agent(base_url):
    """A client of a new agent (the development tenant registers agents on first use)."""
    agent_id = unique("lifecycle")
    c = OpenIntentClient(base_url=base_url, api_key=ADMIN_KEY, agent_id=agent_id, timeout=CLIENT_TIMEOUT_S)
    c.list_intents(limit=1)  # first use: the agent enters /v1/agents
    yield c, agent_id
    c.close()


def test_register_heartbeat_drain_deregister(fresh_agent, base_url):
    client, agent_id = fresh_agent
    record = client.register_agent(
        agent_id,
        capabilities=["search", "summarize"],
        role_id="researcher",
        capacity={"max_concurrent_tasks": 3, "current_load": 0},
        metadata={"team": "r&d"},
    )
    assert record.agent_id == agent_id
    assert record.status == AgentStatus.ACTIVE
    assert record.capabilities == ["search", "summarize"]
    assert record.role_id == "researcher"
    assert record.capacity.max_concurrent_tasks == 3
    assert record.heartbeat_config.unhealthy_after_seconds == 90
    assert is_utc(record.registered_at)
    assert record.version == 1

    with pytest.raises(ConflictError):
        client.register_agent(agent_id)

    ack = client.agent_heartbeat(agent_id, current_load=2, tasks_in_progress=["tsk_1"])
    assert ack["status"] == "active"
    assert py310_instant(ack["last_heartbeat_at"])
    fetched = client.get_agent_record(agent_id)
    assert fetched.capacity.current_load == 2
    assert fetched.metadata == {"team": "r&d"}
    assert agent_id in [a.agent_id for a in client.list_agents(role_id="researcher")]
    assert agent_id in [a.agent_id for a in client.list_agents(status="active")]

    draining = client.update_agent_status(agent_id, "draining")
    assert draining["status"] == "draining"
    assert agent_id not in [a.agent_id for a in client.list_agents(status="active")]
    # An unknown status is a 400; a move the machine forbids, a 409.
    with pytest.raises(ValidationError):
        client.update_agent_status(agent_id, "asleep")
    with pytest.raises(ConflictError):
        client.update_agent_status(agent_id, "dead")

    gone = client.update_agent_status(agent_id, "deregistered")
    assert gone["status"] == "deregistered"
    with pytest.raises(OpenIntentError) as refused:
        client.agent_heartbeat(agent_id)
    assert refused.value.status_code == 410
    # Registering again brings it back.
    again = client.register_agent(agent_id, capabilities=["search"])
    assert again.status == AgentStatus.ACTIVE
    assert again.version == 4


def test_missed_heartbeats_make_an_agent_unhealthy_then_dead(fresh_agent):
    client, agent_id = fresh_agent
    client.register_agent(
        agent_id,
        heartbeat_config={"interval_seconds": 1, "unhealthy_after_seconds": 1, "dead_after_seconds": 3},
    )
    deadline = time.monotonic() + 10
    while client.get_agent_record(agent_id).status != AgentStatus.UNHEALTHY:
        assert time.monotonic() < deadline, "never marked unhealthy"
        time.sleep(0.2)
    # A heartbeat revives it.
    assert client.agent_heartbeat(agent_id)["status"] == "active"
    assert client.get_agent_record(agent_id).status == AgentStatus.ACTIVE
    while client.get_agent_record(agent_id).status != AgentStatus.DEAD:
        assert time.monotonic() < deadline + 10, "never marked dead"
        time.sleep(0.2)
    with pytest.raises(OpenIntentError) as refused:
        client.agent_heartbeat(agent_id)
    assert refused.value.status_code == 410


def test_a_drain_past_its_timeout_deregisters_the_agent(fresh_agent, base_url):
    client, agent_id = fresh_agent
    client.register_agent(agent_id, drain_timeout_seconds=1)
    assert client.update_agent_status(agent_id, "draining")["status"] == "draining"
    assert client.agent_heartbeat(agent_id)["status"] == "draining"  # it may finish its work
    deadline = time.monotonic() + 10
    while client.get_agent_record(agent_id).status != AgentStatus.DEREGISTERED:
        assert time.monotonic() < deadline, "the drain timeout never deregistered the agent"
        time.sleep(0.2)
    with pytest.raises(OpenIntentError) as refused:
        client.agent_heartbeat(agent_id)
    assert refused.value.status_code == 410
    # Without a timeout, draining lasts until the agent says otherwise.
    other = unique("lifecycle")
    with OpenIntentClient(base_url=base_url, api_key=ADMIN_KEY, agent_id=other,
                          timeout=CLIENT_TIMEOUT_S) as patient:
        patient.list_intents(limit=1)
        patient.register_agent(other)
        patient.update_agent_status(other, "draining")
        time.sleep(2.5)
        assert patient.get_agent_record(other).status == AgentStatus.DRAINING


def test_bound_keys_manage_only_their_agents(client, client2):
    # research-agent's key may not register or beat for synth-agent.
    for call in (
        lambda: client.register_agent("synth-agent"),
        lambda: client.agent_heartbeat("synth-agent"),
        lambda: client.update_agent_status("synth-agent", "draining"),
    ):
        with pytest.raises(OpenIntentError) as refused:
            call()
        assert refused.value.status_code == 403


def test_unknown_agents_and_bad_bodies(fresh_agent, base_url):
    client, agent_id = fresh_agent
    with pytest.raises(NotFoundError):
        client.get_agent_record(agent_id)  # in the registry, never registered with RFC-0016
    with pytest.raises(NotFoundError):
        client.register_agent(unique("nobody"))
    with pytest.raises(ValidationError):
        client.register_agent(
            agent_id,
            heartbeat_config={"interval_seconds": 10, "unhealthy_after_seconds": 5, "dead_after_seconds": 20},
        )
    with pytest.raises(ValidationError):
        client.list_agents(status="sleeping")
    answer = httpx.post(
        f"{base_url}/api/v1/agents/register",
        headers={"X-API-Key": ADMIN_KEY, "X-Agent-ID": agent_id, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_lifecycle_is_tenant_scoped(fresh_agent, other_tenant_client):
    client, agent_id = fresh_agent
    client.register_agent(agent_id)
    with pytest.raises(NotFoundError):
        other_tenant_client.get_agent_record(agent_id)
    assert agent_id not in [a.agent_id for a in other_tenant_client.list_agents()]
    with pytest.raises(NotFoundError):
        other_tenant_client.agent_heartbeat(agent_id)
    with pytest.raises(NotFoundError):
        other_tenant_client.update_agent_status(agent_id, "deregistered")
    assert client.get_agent_record(agent_id).status == AgentStatus.ACTIVE


@pytest.mark.asyncio
async def test_async_lifecycle(base_url):
    agent_id = unique("async-lifecycle")
    async with AsyncOpenIntentClient(base_url=base_url, api_key=ADMIN_KEY, agent_id=agent_id) as client:
        await client.list_intents(limit=1)
        record = await client.register_agent(agent_id, capabilities=["x"])
        assert record.status == AgentStatus.ACTIVE
        ack = await client.agent_heartbeat(agent_id, current_load=1)
        assert ack["status"] == "active"
        assert agent_id in [a.agent_id for a in await client.list_agents()]
        assert (await client.get_agent_record(agent_id)).capacity.current_load == 1
