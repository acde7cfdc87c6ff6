"""RFC-0003 governance (arbitration, decisions), agent assignment, RFC-0006 subscriptions."""

from __future__ import annotations

import pytest
from openintent.exceptions import NotFoundError
from openintent.models import EventType

from sdkhelpers import event_types, ids, is_utc, new_intent, unique


def test_request_arbitration(client):
    intent = new_intent(client)
    request = client.request_arbitration(
        intent.id, "agents disagree on the summary", context={"options": ["a", "b"]}
    )
    assert isinstance(request.id, str) and request.id
    assert request.intent_id == intent.id
    assert request.requester_id == "research-agent"
    assert request.reason == "agents disagree on the summary"
    assert request.context == {"options": ["a", "b"]}
    assert isinstance(request.status, str) and request.status
    assert is_utc(request.created_at)

    events = client.get_events(intent.id, event_type=EventType.ARBITRATION_REQUESTED)
    assert len(events) == 1
    assert "agents disagree on the summary" in str(events[0].payload)
    assert client.get_intent(intent.id).version == intent.version


def test_record_and_get_decisions(client, client2):
    intent = new_intent(client)
    assert client.get_decisions(intent.id) == []
    first = client.record_decision(intent.id, "arbitration", "option-a", "a is better sourced")
    second = client2.record_decision(intent.id, "escalation", "escalate", "needs a human")

    assert first.intent_id == intent.id
    assert first.decision_type == "arbitration"
    assert first.outcome == "option-a"
    assert first.reasoning == "a is better sourced"
    assert first.decision_maker_id == "research-agent"
    assert second.decision_maker_id == "synth-agent"
    assert is_utc(first.created_at)

    decisions = client.get_decisions(intent.id)
    assert sorted(ids(decisions)) == sorted([first.id, second.id])
    by_id = {d.id: d for d in decisions}
    assert by_id[first.id].outcome == "option-a"
    assert by_id[second.id].reasoning == "needs a human"

    recorded = client.get_events(intent.id, event_type=EventType.DECISION_RECORDED)
    assert len(recorded) == 2


def test_decisions_on_unknown_intent_are_not_found(client):
    with pytest.raises(NotFoundError):
        client.get_decisions("missing-" + unique("d"))
    with pytest.raises(NotFoundError):
        client.record_decision("missing-" + unique("d"), "t", "o", "r")
    with pytest.raises(NotFoundError):
        client.request_arbitration("missing-" + unique("d"), "why")


def test_assign_and_unassign_agent(client, client2):
    intent = new_intent(client)
    assigned = client.assign_agent(intent.id, "writer-agent")
    assert isinstance(assigned, dict)
    assert assigned.get("agent_id") == "writer-agent", assigned
    # Without an agent id, the SDK assigns the caller (its X-Agent-ID).
    assert client2.assign_agent(intent.id).get("agent_id") == "synth-agent"
    assert client.assign_agent(intent.id).get("agent_id") == "research-agent"

    assigned_events = client.get_events(intent.id, event_type=EventType.AGENT_ASSIGNED)
    assert len(assigned_events) == 3
    for agent in ("writer-agent", "synth-agent", "research-agent"):
        assert any(agent in str(e.payload) for e in assigned_events), agent

    client.unassign_agent(intent.id, "writer-agent")
    client2.unassign_agent(intent.id)
    client.unassign_agent(intent.id)
    unassigned = client.get_events(intent.id, event_type=EventType.AGENT_UNASSIGNED)
    assert len(unassigned) == 3
    assert client.get_intent(intent.id).version == intent.version


def test_unassign_agent_never_assigned_is_not_found(client):
    intent = new_intent(client)
    with pytest.raises(NotFoundError):
        client.unassign_agent(intent.id, "nobody-agent")


# ---------------------------------------------------------------- subscriptions (RFC-0006)


def test_subscribe_list_unsubscribe_intent(client):
    intent = new_intent(client)
    sub = client.subscribe(intent_id=intent.id, event_types=["state_patched", "status_changed"])
    assert isinstance(sub.id, str) and sub.id
    assert sub.intent_id == intent.id
    assert sub.portfolio_id is None
    assert sub.subscriber_id == "research-agent"
    assert sorted(sub.event_types) == ["state_patched", "status_changed"]
    assert sub.active is True

    listed = client.get_subscriptions(intent_id=intent.id)
    assert ids(listed) == [sub.id]
    assert listed[0].event_types == sub.event_types
    assert sub.id in ids(client.get_subscriptions())

    client.unsubscribe(sub.id)
    assert sub.id not in ids(client.get_subscriptions(intent_id=intent.id))
    with pytest.raises(NotFoundError):
        client.unsubscribe(sub.id)

    # The intent's event log stays readable by the SDK after subscription changes.
    assert "intent_created" in event_types(client, intent.id)


def test_subscribe_portfolio(client):
    portfolio = client.create_portfolio(unique("subscribed"))
    sub = client.subscribe(portfolio_id=portfolio.id)
    assert sub.portfolio_id == portfolio.id
    assert sub.intent_id is None
    assert sub.event_types == []
    assert ids(client.get_subscriptions(portfolio_id=portfolio.id)) == [sub.id]
    client.unsubscribe(sub.id)
    assert client.get_subscriptions(portfolio_id=portfolio.id) == []


def test_subscribe_to_unknown_intent_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.subscribe(intent_id="missing-" + unique("s"))
