"""RFC-0017: triggers through the SDK — CRUD, manual and scheduled firing, deduplication,
and a due trigger fired once with two server processes on one database."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from openintent import OpenIntentClient
from openintent.exceptions import ConflictError, NotFoundError, ValidationError
from openintent.models import IntentStatus, TriggerType

from conftest import CLIENT_TIMEOUT_S, RESEARCH_AGENT, RESEARCH_KEY, start_server, stop_server
from sdkhelpers import event_types, is_utc, new_intent, py310_instant, set_statuses, unique


def soon(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def intents_of(client, trigger_id):
    """The intents a trigger created (their state carries the lineage)."""
    found = []
    offset = 0
    while True:
        page = client.list_intents(limit=100, offset=offset)
        found += [i for i in page if (i.state.get("trigger_lineage") or {}).get("trigger_id") == trigger_id]
        if len(page) < 100:
            return found
        offset += 100


def test_trigger_crud_and_manual_fire(client, raw):
    namespace = unique("ns")
    trigger = client.create_trigger(
        "daily report",
        "schedule",
        condition={"cron": "0 9 * * *"},
        intent_template={"title": "Daily report", "context": {"scope": "sales"}},
        namespace=namespace,
    )
    assert trigger.trigger_id.startswith("trg_")
    assert trigger.type == TriggerType.SCHEDULE
    assert trigger.enabled is True
    assert trigger.fire_count == 0
    assert trigger.version == 1
    assert is_utc(trigger.created_at)
    body = raw.get(f"/api/v1/triggers/{trigger.trigger_id}").json()
    assert py310_instant(body["next_fire_at"]) and body["next_fire_at"].endswith("09:00:00.000+00:00")

    assert client.get_trigger(trigger.trigger_id).name == "daily report"
    assert [t.trigger_id for t in client.list_triggers(namespace=namespace)] == [trigger.trigger_id]
    assert [t.trigger_id for t in client.list_triggers(namespace=namespace, trigger_type="schedule")] == [
        trigger.trigger_id
    ]

    fired = client.fire_trigger(trigger.trigger_id)
    assert fired["fired"] is True
    intent = client.get_intent(fired["intent_id"])
    assert intent.title == "Daily report"
    assert intent.state.get("scope") == "sales"
    assert intent.state.get("trigger_lineage")["trigger_id"] == trigger.trigger_id
    assert "trigger.fired" in event_types(client, intent.id)
    after = client.get_trigger(trigger.trigger_id)
    assert after.fire_count == 1
    assert after.last_fired_at is not None

    updated = client.update_trigger(trigger.trigger_id, after.version, enabled=False, name="paused report")
    assert updated.enabled is False and updated.name == "paused report"
    assert updated.version == after.version + 1
    with pytest.raises(ConflictError):
        client.update_trigger(trigger.trigger_id, after.version, enabled=True)

    client.delete_trigger(trigger.trigger_id)
    with pytest.raises(NotFoundError):
        client.get_trigger(trigger.trigger_id)
    with pytest.raises(NotFoundError):
        client.fire_trigger(trigger.trigger_id)


def test_skip_deduplication_waits_for_the_open_intent(client):
    trigger = client.create_trigger("dedup", "schedule", condition={"cron": "0 9 * * *"}, deduplication="skip")
    first = client.fire_trigger(trigger.trigger_id)
    assert first["fired"] is True
    second = client.fire_trigger(trigger.trigger_id)
    assert second["fired"] is False and second["reason"] == "deduplicated"
    assert client.get_trigger(trigger.trigger_id).fire_count == 1
    open_intent = client.get_intent(first["intent_id"])
    set_statuses(client, open_intent, IntentStatus.ACTIVE, IntentStatus.COMPLETED)
    third = client.fire_trigger(trigger.trigger_id)
    assert third["fired"] is True and third["intent_id"] != first["intent_id"]


def test_a_one_shot_schedule_fires_once(client):
    trigger = client.create_trigger("once", "schedule", condition={"at": soon(1.5)})
    deadline = time.monotonic() + 15
    while client.get_trigger(trigger.trigger_id).fire_count == 0:
        assert time.monotonic() < deadline, "the schedule never fired"
        time.sleep(0.25)
    time.sleep(2.5)
    done = client.get_trigger(trigger.trigger_id)
    assert done.fire_count == 1
    assert len(intents_of(client, trigger.trigger_id)) == 1


def test_a_due_trigger_fires_once_with_two_instances(server, client):
    log_path = server.workdir / "second-server.log"
    second, second_url, failure = start_server(server.binary, server.env, server.workdir, log_path)
    assert failure is None, failure
    try:
        other = OpenIntentClient(
            base_url=second_url, api_key=RESEARCH_KEY, agent_id=RESEARCH_AGENT, timeout=CLIENT_TIMEOUT_S
        )
        triggers = [
            other.create_trigger(f"race-{n}", "schedule", condition={"at": soon(2)}) for n in range(5)
        ]
        deadline = time.monotonic() + 20
        while any(client.get_trigger(t.trigger_id).fire_count == 0 for t in triggers):
            assert time.monotonic() < deadline, "not every trigger fired"
            time.sleep(0.25)
        time.sleep(2.5)  # both schedulers have had several passes since
        for trigger in triggers:
            assert client.get_trigger(trigger.trigger_id).fire_count == 1
            assert len(intents_of(client, trigger.trigger_id)) == 1, trigger.trigger_id
        other.close()
    finally:
        stop_server(second)


def test_an_event_trigger_fires_once_per_matching_event_with_two_instances(server, client):
    """Two schedulers read the same log; each matching event creates one intent."""
    watched = new_intent(client)
    bystander = new_intent(client)
    log_path = server.workdir / "third-server.log"
    second, _, failure = start_server(server.binary, server.env, server.workdir, log_path)
    assert failure is None, failure
    try:
        trigger = client.create_trigger(
            unique("on-activation"),
            "event",
            condition={"event": "intent.state_changed",
                       "filter": {"intent_id": watched.id, "to_state": "active"}},
            intent_template={"title": "Follow up", "context": {"source": "event"}},
        )
        set_statuses(client, bystander, IntentStatus.ACTIVE)
        set_statuses(client, watched, IntentStatus.ACTIVE)
        deadline = time.monotonic() + 20
        while not intents_of(client, trigger.trigger_id):
            assert time.monotonic() < deadline, "the event trigger did not fire"
            time.sleep(0.25)
        time.sleep(3)  # both schedulers have had several passes since
        created = intents_of(client, trigger.trigger_id)
        assert len(created) == 1, created
        lineage = created[0].state.get("trigger_lineage")
        assert lineage["trigger_type"] == "event" and lineage["trigger_depth"] == 1
        assert lineage["source_event_id"].startswith("oev_")
        assert created[0].state.get("source") == "event"
        assert client.get_trigger(trigger.trigger_id).fire_count == 1
        assert "trigger.fired" in event_types(client, created[0].id)
    finally:
        stop_server(second)


def test_bad_triggers_are_400s(client):
    for kwargs in (
        {"condition": {"cron": "every day"}},
        {"condition": {"cron": "* * * * * *"}},  # every second: more often than allowed
        {"condition": {}},
        {"condition": {"cron": "0 9 * * *", "timezone": "Europe/Paris"}},
        {"condition": {"cron": "0 9 * * *"}, "deduplication": "sometimes"},
    ):
        with pytest.raises(ValidationError):
            client.create_trigger("bad", "schedule", **kwargs)
    with pytest.raises(ValidationError):
        client.create_trigger("bad", "cosmic", condition={})
    for condition in ({}, {"event": ""}, {"event": "status_changed", "filter": ["x"]}):
        with pytest.raises(ValidationError):
            client.create_trigger("bad", "event", condition=condition)


def test_triggers_are_tenant_scoped(client, other_tenant_client):
    trigger = client.create_trigger("mine", "schedule", condition={"cron": "0 9 * * *"})
    for call in (
        lambda: other_tenant_client.get_trigger(trigger.trigger_id),
        lambda: other_tenant_client.update_trigger(trigger.trigger_id, 1, enabled=False),
        lambda: other_tenant_client.fire_trigger(trigger.trigger_id),
        lambda: other_tenant_client.delete_trigger(trigger.trigger_id),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert trigger.trigger_id not in [t.trigger_id for t in other_tenant_client.list_triggers()]
    assert client.get_trigger(trigger.trigger_id).fire_count == 0


@pytest.mark.asyncio
async def test_async_triggers(async_client):
    trigger = await async_client.create_trigger("async", "schedule", condition={"cron": "0 9 * * *"})
    assert (await async_client.get_trigger(trigger.trigger_id)).name == "async"
    fired = await async_client.fire_trigger(trigger.trigger_id)
    assert fired["fired"] is True
    updated = await async_client.update_trigger(trigger.trigger_id, 1, enabled=False)
    assert updated.enabled is False
    assert trigger.trigger_id in [t.trigger_id for t in await async_client.list_triggers()]
    await async_client.delete_trigger(trigger.trigger_id)
