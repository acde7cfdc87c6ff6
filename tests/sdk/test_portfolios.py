"""RFC-0004: intent portfolios."""

from __future__ import annotations

import pytest
from openintent.exceptions import NotFoundError
from openintent.models import EventType, IntentStatus, MembershipRole, PortfolioStatus

from sdkhelpers import complete, ids, new_intent, set_statuses, unique


def test_create_get_list_portfolio(client, client2):
    name = unique("portfolio")
    portfolio = client.create_portfolio(
        name,
        description="Q4 research programme",
        governance_policy={"require_all_completed": True},
        metadata={"team": "research", "quarter": 4},
    )
    assert isinstance(portfolio.id, str) and portfolio.id
    assert portfolio.name == name
    assert portfolio.description == "Q4 research programme"
    assert portfolio.created_by == "research-agent"
    assert portfolio.status == PortfolioStatus.ACTIVE
    assert portfolio.metadata == {"team": "research", "quarter": 4}
    assert portfolio.governance_policy == {"require_all_completed": True}

    fetched = client.get_portfolio(portfolio.id)
    assert fetched.id == portfolio.id
    assert fetched.name == name
    assert fetched.metadata == portfolio.metadata
    assert fetched.status == PortfolioStatus.ACTIVE

    theirs = client2.create_portfolio(unique("synth-portfolio"))
    assert theirs.created_by == "synth-agent"
    assert theirs.description is None

    everything = ids(client.list_portfolios())
    assert portfolio.id in everything and theirs.id in everything
    mine = client.list_portfolios(created_by="research-agent")
    assert portfolio.id in ids(mine) and theirs.id not in ids(mine)
    assert all(p.created_by == "research-agent" for p in mine)
    assert client.list_portfolios(created_by="nobody-" + unique("x")) == []


def test_update_portfolio_status(client):
    portfolio = client.create_portfolio(unique("status"))
    done = client.update_portfolio_status(portfolio.id, PortfolioStatus.COMPLETED)
    assert done.id == portfolio.id
    assert done.status == PortfolioStatus.COMPLETED
    assert client.get_portfolio(portfolio.id).status == PortfolioStatus.COMPLETED
    other = client.create_portfolio(unique("status"))
    dropped = client.update_portfolio_status(other.id, PortfolioStatus.ABANDONED)
    assert dropped.status == PortfolioStatus.ABANDONED
    assert client.get_portfolio(other.id).status == PortfolioStatus.ABANDONED


def test_portfolio_membership_and_aggregate_status(client):
    portfolio = client.create_portfolio(unique("aggregate"))
    done = complete(client, new_intent(client))
    active = set_statuses(client, new_intent(client), IntentStatus.ACTIVE)
    draft_a = new_intent(client)
    draft_b = new_intent(client)

    membership = client.add_intent_to_portfolio(
        portfolio.id, done.id, role=MembershipRole.PRIMARY, priority=10
    )
    assert isinstance(membership.id, str) and membership.id
    assert membership.portfolio_id == portfolio.id
    assert membership.intent_id == done.id
    assert membership.role == MembershipRole.PRIMARY
    assert membership.priority == 10
    for intent in (active, draft_a, draft_b):
        m = client.add_intent_to_portfolio(portfolio.id, intent.id)
        assert m.role == MembershipRole.MEMBER
        assert m.priority == 0

    intents, aggregate = client.get_portfolio_intents(portfolio.id)
    assert sorted(ids(intents)) == sorted([done.id, active.id, draft_a.id, draft_b.id])
    statuses = {i.id: i.status for i in intents}
    assert statuses[done.id] == IntentStatus.COMPLETED
    assert statuses[active.id] == IntentStatus.ACTIVE
    assert aggregate.total == 4
    assert {k: v for k, v in aggregate.by_status.items() if v} == {
        "completed": 1,
        "active": 1,
        "draft": 2,
    }
    assert aggregate.completion_percentage == 25

    assert portfolio.id in ids(client.get_intent_portfolios(done.id))
    assert client.get_intent_portfolios(new_intent(client).id) == []

    added = client.get_events(done.id, event_type=EventType.ADDED_TO_PORTFOLIO)
    assert len(added) == 1
    assert portfolio.id in str(added[0].payload)

    client.remove_intent_from_portfolio(portfolio.id, draft_b.id)
    intents, aggregate = client.get_portfolio_intents(portfolio.id)
    assert draft_b.id not in ids(intents)
    assert aggregate.total == 3
    assert aggregate.completion_percentage == 33
    assert client.get_intent_portfolios(draft_b.id) == []
    removed = client.get_events(draft_b.id, event_type=EventType.REMOVED_FROM_PORTFOLIO)
    assert len(removed) == 1

    # Completing the rest brings the portfolio to 100 %.
    complete(client, client.get_intent(draft_a.id))
    set_statuses(client, client.get_intent(active.id), IntentStatus.COMPLETED)
    _, aggregate = client.get_portfolio_intents(portfolio.id)
    assert aggregate.total == 3
    assert {k: v for k, v in aggregate.by_status.items() if v} == {"completed": 3}
    assert aggregate.completion_percentage == 100


def test_empty_portfolio_aggregate(client):
    portfolio = client.create_portfolio(unique("empty"))
    intents, aggregate = client.get_portfolio_intents(portfolio.id)
    assert intents == []
    assert aggregate.total == 0
    assert aggregate.completion_percentage == 0


def test_intent_in_several_portfolios(client):
    intent = new_intent(client)
    first = client.create_portfolio(unique("p1"))
    second = client.create_portfolio(unique("p2"))
    client.add_intent_to_portfolio(first.id, intent.id)
    client.add_intent_to_portfolio(second.id, intent.id, role=MembershipRole.DEPENDENCY)
    assert sorted(ids(client.get_intent_portfolios(intent.id))) == sorted([first.id, second.id])


def test_portfolio_not_found(client):
    missing = "missing-" + unique("p")
    with pytest.raises(NotFoundError):
        client.get_portfolio(missing)
    with pytest.raises(NotFoundError):
        client.get_portfolio_intents(missing)
    with pytest.raises(NotFoundError):
        client.update_portfolio_status(missing, PortfolioStatus.COMPLETED)
    with pytest.raises(NotFoundError):
        client.add_intent_to_portfolio(missing, new_intent(client).id)
    portfolio = client.create_portfolio(unique("p"))
    with pytest.raises(NotFoundError):
        client.add_intent_to_portfolio(portfolio.id, missing)
    with pytest.raises(NotFoundError):
        client.remove_intent_from_portfolio(portfolio.id, new_intent(client).id)
