"""The asynchronous client (AsyncOpenIntentClient), including concurrent writers."""

from __future__ import annotations

import asyncio

import pytest
from openintent.exceptions import ConflictError, LeaseConflictError, NotFoundError, ValidationError
from openintent.models import (
    EventType,
    IntentStatus,
    LeaseStatus,
    MembershipRole,
    Permission,
    RetryStrategy,
)

from sdkhelpers import unique

pytestmark = pytest.mark.asyncio


async def test_async_intent_lifecycle(async_client):
    c = async_client
    discovery = await c.discover()
    assert isinstance(discovery, dict)

    intent = await c.create_intent(unique("async"), "async description", initial_state={"n": 0})
    assert intent.status == IntentStatus.DRAFT
    assert intent.version == 1
    assert intent.created_by == "research-agent"

    fetched = await c.get_intent(intent.id)
    assert fetched.title == intent.title

    patched = await c.update_state(intent.id, 1, {"n": 1, "m": "x"})
    assert patched.version == 2
    assert patched.state.to_dict() == {"n": 1, "m": "x"}

    with pytest.raises(ConflictError) as caught:
        await c.update_state(intent.id, 1, {"n": 99})
    assert caught.value.current_version == 2

    active = await c.set_status(intent.id, 2, IntentStatus.ACTIVE)
    assert active.version == 3
    done = await c.set_status(intent.id, 3, IntentStatus.COMPLETED)
    assert done.status == IntentStatus.COMPLETED
    with pytest.raises(ValidationError):
        await c.set_status(intent.id, 4, IntentStatus.ACTIVE)

    completed = await c.list_intents(status=IntentStatus.COMPLETED, limit=50)
    assert all(i.status == IntentStatus.COMPLETED for i in completed)

    with pytest.raises(NotFoundError):
        await c.get_intent("missing-" + unique("a"))


async def test_async_events(async_client):
    c = async_client
    intent = await c.create_intent(unique("async-events"), "")
    logged = await c.log_event(intent.id, EventType.COMMENT, {"hello": "world"}, trace_id="t-1")
    assert logged.trace_id == "t-1"
    comments = await c.get_events(intent.id, event_type=EventType.COMMENT)
    assert [e.id for e in comments] == [logged.id]
    assert comments[0].payload == {"hello": "world"}
    tool = await c.log_tool_call_started(intent.id, "calc", "t1", {"x": 1})
    assert tool.event_type == EventType.TOOL_CALL_STARTED
    llm = await c.log_llm_request_completed(intent.id, "r1", "openai", "gpt", 1, total_tokens=7)
    assert llm.payload["total_tokens"] == 7
    types = [e.event_type for e in await c.get_events(intent.id)]
    assert EventType.INTENT_CREATED in types
    assert EventType.TOOL_CALL_STARTED in types
    assert EventType.LLM_REQUEST_COMPLETED in types


async def test_async_leases_and_governance(async_client, async_client2):
    c = async_client
    intent = await c.create_intent(unique("async-lease"), "")
    lease = await c.acquire_lease(intent.id, "scope-a", duration_seconds=60)
    assert lease.agent_id == "research-agent"
    with pytest.raises(LeaseConflictError) as caught:
        await async_client2.acquire_lease(intent.id, "scope-a")
    assert caught.value.existing_lease.get("id") == lease.id
    renewed = await c.renew_lease(intent.id, lease.id, duration_seconds=600)
    assert renewed.expires_at > lease.expires_at
    assert [l.id for l in await c.get_leases(intent.id) if l.status == LeaseStatus.ACTIVE] == [
        lease.id
    ]
    await c.release_lease(intent.id, lease.id)
    assert [l for l in await c.get_leases(intent.id) if l.status == LeaseStatus.ACTIVE] == []

    arbitration = await c.request_arbitration(intent.id, "tie", {"k": 1})
    assert arbitration.requester_id == "research-agent"
    decision = await c.record_decision(intent.id, "arbitration", "a", "because")
    assert [d.id for d in await c.get_decisions(intent.id)] == [decision.id]

    assigned = await c.assign_agent(intent.id, "synth-agent")
    assert assigned.get("agent_id") == "synth-agent"
    await c.unassign_agent(intent.id, "synth-agent")
    assert (await c.get_intent(intent.id)).version == 1


async def test_async_portfolios(async_client):
    c = async_client
    portfolio = await c.create_portfolio(unique("async-portfolio"), metadata={"a": 1})
    first = await c.create_intent(unique("p-member"), "")
    second = await c.create_intent(unique("p-member"), "")
    second = await c.set_status(second.id, second.version, IntentStatus.ACTIVE)
    await c.set_status(second.id, second.version, IntentStatus.COMPLETED)
    membership = await c.add_intent_to_portfolio(portfolio.id, first.id, MembershipRole.PRIMARY, 5)
    assert membership.priority == 5
    await c.add_intent_to_portfolio(portfolio.id, second.id)
    intents, aggregate = await c.get_portfolio_intents(portfolio.id)
    assert sorted(i.id for i in intents) == sorted([first.id, second.id])
    assert aggregate.total == 2
    assert aggregate.completion_percentage == 50
    assert portfolio.id in [p.id for p in await c.get_intent_portfolios(first.id)]
    await c.remove_intent_from_portfolio(portfolio.id, first.id)
    intents, aggregate = await c.get_portfolio_intents(portfolio.id)
    assert [i.id for i in intents] == [second.id]
    assert aggregate.completion_percentage == 100
    assert portfolio.id in [p.id for p in await c.list_portfolios(created_by="research-agent")]


async def test_async_access_control(async_client):
    c = async_client
    first = await c.create_intent(unique("async-acl"), "")
    entry = await c.grant_access(first.id, "reader-agent", permission=Permission.READ)
    assert entry.id in [e.id for e in (await c.get_acl(first.id)).entries]
    await c.revoke_access(first.id, entry.id)
    request = await c.request_access(first.id, "asker-agent")
    assert [r.id for r in await c.list_access_requests(first.id)] == [request.id]
    denied = await c.deny_access_request(first.id, request.id)
    assert denied.status.value == "denied"


# The async client's record methods send other field names than the sync client's
# (content_type/url/size_bytes, no agent_id in costs, error_type/recoverable for failures,
# a required webhook_url and a naive expires_at for subscriptions): the server must take both.


async def test_async_attachments(async_client):
    c = async_client
    intent = await c.create_intent(unique("async-attach"), "")
    attachment = await c.add_attachment(intent.id, "a.txt", "text/plain", "s3://b/a.txt", 3)
    assert attachment.filename == "a.txt"
    assert attachment.size == 3
    assert attachment.mime_type == "text/plain"
    assert attachment.storage_url == "s3://b/a.txt"
    assert [a.id for a in await c.get_attachments(intent.id)] == [attachment.id]
    await c.delete_attachment(intent.id, attachment.id)
    assert await c.get_attachments(intent.id) == []


async def test_async_costs(async_client):
    c = async_client
    intent = await c.create_intent(unique("async-costs"), "")
    cost = await c.record_cost(intent.id, "compute", 7, "seconds")
    assert cost.agent_id == "research-agent"  # from X-Agent-ID: the async body has no agent_id
    await c.record_cost(intent.id, "compute", 5, "seconds", provider="aws")
    costs, summary = await c.get_costs(intent.id)
    assert len(costs) == 2
    assert summary.total == 12
    assert summary.by_type == {"compute": 12}
    assert summary.by_agent == {"research-agent": 12}


async def test_async_retry_policy_and_failures(async_client):
    c = async_client
    intent = await c.create_intent(unique("async-retry"), "")
    assert await c.get_retry_policy(intent.id) is None
    policy = await c.set_retry_policy(intent.id, RetryStrategy.NONE, max_retries=0)
    assert policy.strategy == RetryStrategy.NONE
    assert policy.max_retries == 0
    assert policy.max_delay_ms == 30000
    assert (await c.get_retry_policy(intent.id)).max_retries == 0

    failure = await c.record_failure(intent.id, "timeout", "upstream timed out", recoverable=False)
    assert failure.intent_id == intent.id
    assert failure.error_message == "upstream timed out"
    assert [f.id for f in await c.get_failures(intent.id)] == [failure.id]
    types = [e.event_type for e in await c.get_events(intent.id)]
    assert EventType.FAILURE_RECORDED in types


async def test_async_subscriptions(async_client):
    c = async_client
    intent = await c.create_intent(unique("async-subs"), "")
    sub = await c.subscribe(
        "http://127.0.0.1:9/openintent", event_types=["comment"], intent_id=intent.id
    )
    assert sub.intent_id == intent.id
    assert sub.webhook_url == "http://127.0.0.1:9/openintent"
    assert sub.event_types == ["comment"]
    assert sub.subscriber_id == "research-agent"
    assert [s.id for s in await c.get_subscriptions(intent_id=intent.id)] == [sub.id]
    await c.unsubscribe(sub.id)
    assert await c.get_subscriptions(intent_id=intent.id) == []


async def test_concurrent_state_patches_exactly_one_wins(async_client):
    """Optimistic concurrency under real concurrency: one writer per version."""
    c = async_client
    intent = await c.create_intent(unique("race"), "", initial_state={"winner": None})
    writers = 8
    results = await asyncio.gather(
        *(c.update_state(intent.id, intent.version, {"winner": n}) for n in range(writers)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1, results
    assert all(isinstance(e, ConflictError) for e in losses), losses
    assert all(e.current_version == 2 for e in losses), [e.current_version for e in losses]
    final = await c.get_intent(intent.id)
    assert final.version == 2
    assert final.state.to_dict() == wins[0].state.to_dict()
    patched = await c.get_events(intent.id, event_type=EventType.STATE_PATCHED)
    assert len(patched) == 1


async def test_concurrent_versions_are_serial(async_client):
    """Each writer retries on conflict: every patch lands once, the version counts them."""
    c = async_client
    intent = await c.create_intent(unique("serial"), "")

    async def writer(n: int) -> None:
        while True:
            current = await c.get_intent(intent.id)
            try:
                await c.update_state(intent.id, current.version, {f"w{n}": n})
                return
            except ConflictError:
                await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(6)))
    final = await c.get_intent(intent.id)
    assert final.version == 7
    assert final.state.to_dict() == {f"w{n}": n for n in range(6)}


async def test_concurrent_lease_acquisition_one_holder(async_client, async_client2):
    intent = await async_client.create_intent(unique("lease-race"), "")
    results = await asyncio.gather(
        async_client.acquire_lease(intent.id, "contested"),
        async_client2.acquire_lease(intent.id, "contested"),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert isinstance(losses[0], LeaseConflictError), losses
    assert losses[0].existing_lease.get("id") == wins[0].id
    active = [l for l in await async_client.get_leases(intent.id) if l.status == LeaseStatus.ACTIVE]
    assert [l.id for l in active] == [wins[0].id]
