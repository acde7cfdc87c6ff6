"""RFC-0001: intents, state, status, events, discovery, tenant isolation, error shapes."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from openintent import OpenIntentClient
from openintent.exceptions import (
    ConflictError,
    LeaseConflictError,
    NotFoundError,
    OpenIntentError,
    ValidationError,
)
from openintent.models import EventType, IntentStatus

from sdkhelpers import (
    all_intents,
    event_types,
    ids,
    is_utc,
    mentions_key,
    new_intent,
    py310_instant,
    unique,
)


# ---------------------------------------------------------------- discovery


def test_discover_returns_protocol_version(client):
    doc = client.discover()
    assert isinstance(doc, dict)
    version = doc.get("version", doc.get("protocol_version"))
    assert isinstance(version, str) and version, f"no protocol version in {doc}"


# ---------------------------------------------------------------- create / get / list


def test_create_intent_defaults_and_round_trip(client):
    title = unique("create")
    intent = client.create_intent(
        title=title,
        description="Analyze Q4 data",
        constraints={"rules": ["no-pii"], "budget": 10},
        initial_state={"progress": 0, "notes": {"a": [1, 2]}},
    )
    assert isinstance(intent.id, str) and intent.id
    assert intent.title == title
    assert intent.description == "Analyze Q4 data"
    assert intent.status == IntentStatus.DRAFT
    assert intent.version == 1
    assert intent.state.to_dict() == {"progress": 0, "notes": {"a": [1, 2]}}
    assert intent.constraints == {"rules": ["no-pii"], "budget": 10}
    assert intent.created_by == "research-agent"
    assert intent.parent_intent_id is None
    assert intent.depends_on == []
    assert is_utc(intent.created_at), intent.created_at
    assert is_utc(intent.updated_at), intent.updated_at

    fetched = client.get_intent(intent.id)
    assert fetched.id == intent.id
    assert fetched.title == title
    assert fetched.version == 1
    assert fetched.status == IntentStatus.DRAFT
    assert fetched.state.to_dict() == intent.state.to_dict()
    assert fetched.constraints == intent.constraints
    assert fetched.created_at == intent.created_at


def test_create_intent_logs_intent_created(client):
    intent = new_intent(client)
    events = client.get_events(intent.id, event_type=EventType.INTENT_CREATED)
    assert len(events) == 1
    assert events[0].intent_id == intent.id
    assert isinstance(events[0].id, str) and events[0].id


def test_wire_format_is_snake_case_with_utc_z_times(client, raw):
    intent = new_intent(client)
    response = raw.get(f"/api/v1/intents/{intent.id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    for key in ("id", "title", "status", "version", "state", "created_at", "updated_at"):
        assert key in body, f"{key} missing from {body}"
    assert isinstance(body["id"], str)
    assert py310_instant(body["created_at"]), body["created_at"]
    assert py310_instant(body["updated_at"]), body["updated_at"]


def test_get_unknown_intent_raises_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.get_intent("does-not-exist-" + unique("x"))
    assert caught.value.status_code == 404


def test_list_intents_contains_created_and_paginates(client):
    created = [new_intent(client) for _ in range(3)]
    everything = all_intents(client)
    listed = ids(everything)
    assert len(listed) == len(set(listed)), "an intent appears on two pages"
    for intent in created:
        assert intent.id in listed

    first = client.list_intents(limit=2, offset=0)
    second = client.list_intents(limit=2, offset=2)
    assert len(first) == 2
    assert 1 <= len(second) <= 2
    assert not set(ids(first)) & set(ids(second)), "offset pages overlap"
    assert ids(first) + ids(second) == listed[:4], "limit/offset pages differ from the full order"

    beyond = client.list_intents(limit=10, offset=len(listed))
    assert beyond == []


def test_list_intents_status_filter(client):
    draft = new_intent(client)
    active = new_intent(client)
    active = client.set_status(active.id, active.version, IntentStatus.ACTIVE)

    actives = all_intents(client, status=IntentStatus.ACTIVE)
    assert all(i.status == IntentStatus.ACTIVE for i in actives)
    assert active.id in ids(actives)
    assert draft.id not in ids(actives)

    drafts = all_intents(client, status=IntentStatus.DRAFT)
    assert all(i.status == IntentStatus.DRAFT for i in drafts)
    assert draft.id in ids(drafts)
    assert active.id not in ids(drafts)


# ---------------------------------------------------------------- state


def test_update_state_merges_and_increments_version(client):
    intent = new_intent(client, initial_state={"a": 1, "nested": {"x": 1}})
    updated = client.update_state(intent.id, intent.version, {"a": 2, "b": [1, 2]})
    assert updated.version == intent.version + 1
    assert updated.state.to_dict() == {"a": 2, "nested": {"x": 1}, "b": [1, 2]}

    again = client.update_state(updated.id, updated.version, {"c": {"deep": True}})
    assert again.version == intent.version + 2
    assert again.state.to_dict() == {"a": 2, "nested": {"x": 1}, "b": [1, 2], "c": {"deep": True}}

    fetched = client.get_intent(intent.id)
    assert fetched.version == again.version
    assert fetched.state.to_dict() == again.state.to_dict()

    patched = client.get_events(intent.id, event_type=EventType.STATE_PATCHED)
    assert len(patched) == 2
    assert all(e.intent_id == intent.id for e in patched)
    assert any(mentions_key(e.payload, "b") for e in patched), [e.payload for e in patched]
    assert any(mentions_key(e.payload, "c") for e in patched), [e.payload for e in patched]


def test_update_state_with_stale_version_conflicts(client):
    intent = new_intent(client, initial_state={"k": "v"})
    current = client.update_state(intent.id, intent.version, {"k": "v2"})
    assert current.version == 2

    with pytest.raises(ConflictError) as caught:
        client.update_state(intent.id, 1, {"k": "lost"})
    assert not isinstance(caught.value, LeaseConflictError)
    assert caught.value.status_code == 409
    assert caught.value.current_version == current.version

    fetched = client.get_intent(intent.id)
    assert fetched.version == current.version
    assert fetched.state.to_dict() == {"k": "v2"}


def test_update_state_with_future_version_conflicts(client):
    intent = new_intent(client)
    with pytest.raises(ConflictError) as caught:
        client.update_state(intent.id, intent.version + 5, {"k": 1})
    assert caught.value.current_version == intent.version


def test_stale_version_conflict_body_shape(client, raw):
    intent = new_intent(client)
    client.update_state(intent.id, intent.version, {"x": 1})
    response = raw.post(
        f"/api/v1/intents/{intent.id}/state",
        json={"patches": [{"op": "set", "path": "x", "value": 2}]},
        headers={"If-Match": "1"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body.get("current_version") == 2, body
    assert isinstance(body.get("message"), str) and body["message"], body


def test_update_state_without_if_match_is_rejected(client, raw):
    intent = new_intent(client)
    response = raw.post(
        f"/api/v1/intents/{intent.id}/state",
        json={"patches": [{"op": "set", "path": "x", "value": 2}]},
    )
    assert response.status_code in (400, 428), response.text
    assert client.get_intent(intent.id).version == 1


# ---------------------------------------------------------------- status


def test_status_lifecycle_draft_active_completed(client):
    intent = new_intent(client)
    assert intent.status == IntentStatus.DRAFT
    active = client.set_status(intent.id, intent.version, IntentStatus.ACTIVE)
    assert active.status == IntentStatus.ACTIVE
    assert active.version == 2
    done = client.set_status(intent.id, active.version, IntentStatus.COMPLETED, reason="done")
    assert done.status == IntentStatus.COMPLETED
    assert done.version == 3
    assert client.get_intent(intent.id).status == IntentStatus.COMPLETED

    changes = client.get_events(intent.id, event_type=EventType.STATUS_CHANGED)
    assert len(changes) == 2


def test_illegal_status_transition_raises_validation_error(client):
    intent = new_intent(client)
    done = client.set_status(intent.id, intent.version, IntentStatus.ACTIVE)
    done = client.set_status(intent.id, done.version, IntentStatus.COMPLETED)

    with pytest.raises(ValidationError) as caught:
        client.set_status(intent.id, done.version, IntentStatus.ACTIVE)
    assert caught.value.status_code == 400
    fetched = client.get_intent(intent.id)
    assert fetched.status == IntentStatus.COMPLETED
    assert fetched.version == done.version


def test_illegal_transition_error_body_shape(client, raw):
    intent = new_intent(client)
    response = raw.post(
        f"/api/v1/intents/{intent.id}/status",
        json={"status": "completed"},  # draft -> completed is not allowed
        headers={"If-Match": str(intent.version)},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body


@pytest.mark.parametrize(
    "path, allowed",
    [
        ([], {IntentStatus.ACTIVE, IntentStatus.ABANDONED}),
        (
            [IntentStatus.ACTIVE],
            {
                IntentStatus.BLOCKED,
                IntentStatus.COMPLETED,
                IntentStatus.ABANDONED,
                IntentStatus.SUSPENDED_AWAITING_INPUT,
            },
        ),
        ([IntentStatus.ACTIVE, IntentStatus.BLOCKED], {IntentStatus.ACTIVE, IntentStatus.ABANDONED}),
        (
            [IntentStatus.ACTIVE, IntentStatus.SUSPENDED_AWAITING_INPUT],
            {IntentStatus.ACTIVE, IntentStatus.ABANDONED},
        ),
        ([IntentStatus.ACTIVE, IntentStatus.COMPLETED], set()),
        ([IntentStatus.ABANDONED], set()),
    ],
    ids=["draft", "active", "blocked", "suspended", "completed", "abandoned"],
)
def test_status_machine(client, path, allowed):
    """Every target from every state: allowed ones succeed (+1 version), others are 400."""
    for target in IntentStatus:
        intent = new_intent(client)
        for step in path:
            intent = client.set_status(intent.id, intent.version, step)
        if target in allowed:
            moved = client.set_status(intent.id, intent.version, target)
            assert moved.status == target
            assert moved.version == intent.version + 1
        else:
            with pytest.raises(ValidationError):
                client.set_status(intent.id, intent.version, target)
            assert client.get_intent(intent.id).version == intent.version


def test_set_status_with_stale_version_conflicts(client):
    intent = new_intent(client)
    moved = client.set_status(intent.id, intent.version, IntentStatus.ACTIVE)
    with pytest.raises(ConflictError) as caught:
        client.set_status(intent.id, intent.version, IntentStatus.COMPLETED)
    assert caught.value.current_version == moved.version
    assert client.get_intent(intent.id).status == IntentStatus.ACTIVE


# ---------------------------------------------------------------- events


def test_log_event_and_get_events_filters(client):
    intent = new_intent(client)
    first = client.log_event(intent.id, EventType.COMMENT, {"note": "first"})
    assert first.intent_id == intent.id
    assert first.event_type == EventType.COMMENT
    assert first.payload == {"note": "first"}
    assert first.actor == "research-agent"
    assert isinstance(first.id, str) and first.id
    assert is_utc(first.created_at)

    time.sleep(0.01)  # distinct millisecond timestamps
    second = client.log_event(intent.id, EventType.COMMENT, {"note": "second"})
    time.sleep(0.01)
    third = client.log_event(intent.id, EventType.COMMENT, {"note": "third"})
    assert first.created_at < second.created_at < third.created_at

    comments = client.get_events(intent.id, event_type=EventType.COMMENT)
    assert sorted(e.id for e in comments) == sorted([first.id, second.id, third.id])
    assert {e.payload["note"] for e in comments} == {"first", "second", "third"}
    assert all(e.event_type == EventType.COMMENT for e in comments)

    everything = client.get_events(intent.id)
    types = [e.event_type for e in everything]
    assert EventType.INTENT_CREATED in types
    assert types.count(EventType.COMMENT) == 3

    limited = client.get_events(intent.id, limit=2)
    assert len(limited) == 2
    limited_comments = client.get_events(intent.id, event_type=EventType.COMMENT, limit=1)
    assert len(limited_comments) == 1
    assert limited_comments[0].event_type == EventType.COMMENT

    since = client.get_events(intent.id, since=second.created_at)
    since_ids = [e.id for e in since]
    assert first.id not in since_ids
    assert third.id in since_ids
    assert all(e.created_at >= second.created_at for e in since)

    after_all = client.get_events(intent.id, since=datetime.now(timezone.utc).replace(year=2100))
    assert after_all == []

    # A naive datetime (Python's datetime.utcnow(), sent without an offset) is taken as UTC.
    naive = client.get_events(intent.id, since=second.created_at.replace(tzinfo=None))
    assert [e.id for e in naive] == since_ids


def test_event_trace_id_and_parent_round_trip(client):
    intent = new_intent(client)
    root = client.log_event(intent.id, EventType.COMMENT, {"step": 1}, trace_id="trace-abc123")
    assert root.trace_id == "trace-abc123"
    assert root.parent_event_id is None
    child = client.log_event(
        intent.id, EventType.COMMENT, {"step": 2}, trace_id="trace-abc123", parent_event_id=root.id
    )
    assert child.trace_id == "trace-abc123"
    assert child.parent_event_id == root.id

    by_id = {e.id: e for e in client.get_events(intent.id, event_type=EventType.COMMENT)}
    assert by_id[root.id].trace_id == "trace-abc123"
    assert by_id[child.id].trace_id == "trace-abc123"
    assert by_id[child.id].parent_event_id == root.id


def test_log_event_on_unknown_intent_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.log_event("missing-" + unique("x"), EventType.COMMENT, {})


def test_version_unchanged_by_events_leases_and_assignments(client):
    intent = new_intent(client)
    client.log_event(intent.id, EventType.COMMENT, {"n": 1})
    lease = client.acquire_lease(intent.id, "versioning")
    client.assign_agent(intent.id, "synth-agent")
    client.release_lease(intent.id, lease.id)
    client.unassign_agent(intent.id, "synth-agent")
    assert client.get_intent(intent.id).version == 1


def test_every_mutation_is_in_the_event_log(client):
    intent = new_intent(client)
    intent = client.update_state(intent.id, intent.version, {"k": 1})
    intent = client.set_status(intent.id, intent.version, IntentStatus.ACTIVE)
    client.assign_agent(intent.id, "synth-agent")
    client.unassign_agent(intent.id, "synth-agent")
    types = event_types(client, intent.id)
    for expected in (
        "intent_created",
        "state_patched",
        "status_changed",
        "agent_assigned",
        "agent_unassigned",
    ):
        assert expected in types, f"{expected} missing from {types}"


# ---------------------------------------------------------------- auth and tenants


def test_unknown_api_key_is_rejected(base_url):
    with OpenIntentClient(base_url=base_url, api_key="not-a-key", agent_id="x") as intruder:
        with pytest.raises(OpenIntentError) as caught:
            intruder.list_intents()
    assert caught.value.status_code == 401


def test_other_tenant_cannot_see_intents(client, other_tenant_client):
    mine = new_intent(client)
    with pytest.raises(NotFoundError):
        other_tenant_client.get_intent(mine.id)
    with pytest.raises(NotFoundError):
        other_tenant_client.update_state(mine.id, mine.version, {"hijack": True})
    with pytest.raises(NotFoundError):
        other_tenant_client.get_events(mine.id)
    assert mine.id not in ids(all_intents(other_tenant_client))

    theirs = other_tenant_client.create_intent(title=unique("other-tenant"))
    assert theirs.created_by == "other-agent"
    assert other_tenant_client.get_intent(theirs.id).id == theirs.id
    with pytest.raises(NotFoundError):
        client.get_intent(theirs.id)
    assert theirs.id not in ids(all_intents(client))
    assert client.get_intent(mine.id).version == 1


def test_other_tenant_cannot_touch_portfolios_or_leases(client, other_tenant_client):
    intent = new_intent(client)
    portfolio = client.create_portfolio(unique("tenant-portfolio"))
    with pytest.raises(NotFoundError):
        other_tenant_client.get_portfolio(portfolio.id)
    with pytest.raises(NotFoundError):
        other_tenant_client.acquire_lease(intent.id, "scope")
    with pytest.raises(NotFoundError):
        other_tenant_client.add_intent_to_portfolio(portfolio.id, intent.id)
    assert portfolio.id not in ids(other_tenant_client.list_portfolios())


def test_other_tenant_cannot_stream_or_list_subscriptions(client, other_tenant_client):
    from sdkhelpers import SSECollector

    mine = new_intent(client)
    sub = client.subscribe(intent_id=mine.id)
    assert sub.id not in ids(other_tenant_client.get_subscriptions())
    with pytest.raises(NotFoundError):
        other_tenant_client.unsubscribe(sub.id)
    assert sub.id in ids(client.get_subscriptions(intent_id=mine.id))

    with SSECollector(other_tenant_client.subscribe_sse(mine.id)) as stream:
        first = stream.events.get(timeout=10)
    assert first.type == "error", (first.type, first.data)
    assert first.data.get("status_code") == 404


def test_not_found_body_is_json(raw):
    response = raw.get("/api/v1/intents/" + unique("missing"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), dict)


def test_a_traceparent_reaches_the_events_it_causes(client, raw):
    """RFC-0020: a W3C traceparent on a write puts its trace id on the events it logs."""
    intent = new_intent(client)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    answer = raw.post(
        f"/api/v1/intents/{intent.id}/state",
        json={"patches": [{"op": "set", "path": "step", "value": 1}]},
        headers={"If-Match": str(intent.version), "traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    assert answer.status_code == 200, answer.text
    patched = [e for e in client.get_events(intent.id) if e.event_type == EventType.STATE_PATCHED]
    assert [e.trace_id for e in patched] == [trace]
    created = [e for e in client.get_events(intent.id) if e.event_type == EventType.INTENT_CREATED]
    assert created[0].trace_id is None
