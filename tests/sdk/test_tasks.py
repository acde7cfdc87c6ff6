"""RFC-0012: tasks and plans, through the SDK's own methods (sync and async)."""

from __future__ import annotations

import pytest
from openintent.exceptions import ConflictError, NotFoundError, OpenIntentError, ValidationError
from openintent.models import PlanState, TaskStatus

from sdkhelpers import event_types, ids, is_utc, new_intent, py310_instant


def walk(client, task, *statuses):
    """Moves a task through `statuses`, each at the version it is at."""
    for status in statuses:
        moved = client.update_task(task.id, task.version, status=status)
        assert moved.status == TaskStatus(status)
        assert moved.version == task.version + 1
        task = moved
    return task


def test_task_round_trip_and_status_machine(client):
    intent = new_intent(client)
    task = client.create_task(
        intent.id,
        "fetch_financials",
        description="Q1 numbers",
        input={"quarter": "Q1"},
        capabilities_required=["finance"],
        metadata={"owner": "research", "nested": {"n": 1}},
    )
    assert task.id.startswith("tsk_")
    assert task.intent_id == intent.id
    assert task.status == TaskStatus.PENDING
    assert task.version == 1
    assert task.input == {"quarter": "Q1"}
    assert task.metadata == {"owner": "research", "nested": {"n": 1}}
    assert task.capabilities_required == ["finance"]
    assert is_utc(task.created_at)

    raw_task = client._client.get(f"/api/v1/tasks/{task.id}").json()
    assert py310_instant(raw_task["created_at"]) and py310_instant(raw_task["updated_at"])

    fetched = client.get_task(task.id)
    assert fetched.name == "fetch_financials"
    assert fetched.metadata == task.metadata

    task = walk(client, task, "ready", "claimed")
    assert task.assigned_agent == "research-agent"
    task = walk(client, task, "running")
    assert is_utc(task.started_at)
    done = client.update_task(task.id, task.version, status="completed", output={"rows": 12})
    assert done.status == TaskStatus.COMPLETED
    assert done.output == {"rows": 12}
    assert is_utc(done.completed_at)

    # A completed task moves nowhere; an unknown status is a 400.
    with pytest.raises(ConflictError):
        client.update_task(done.id, done.version, status="running")
    with pytest.raises(ValidationError):
        client.update_task(done.id, done.version, status="finished")
    assert client.get_task(done.id).version == done.version

    assert event_types(client, intent.id)[-5:] == [
        "task.created",
        "task.ready",
        "task.claimed",
        "task.started",
        "task.completed",
    ]


def test_invalid_transition_and_stale_version_are_409(client):
    task = client.create_task(new_intent(client).id, "skip-ahead")
    with pytest.raises(ConflictError):
        client.update_task(task.id, task.version, status="running")
    ready = walk(client, task, "ready")
    with pytest.raises(ConflictError) as stale:
        client.update_task(ready.id, task.version, status="claimed")
    assert stale.value.current_version == ready.version
    assert client.get_task(task.id).status == TaskStatus.READY


def test_retry_counts_attempts_and_stops_at_max(client):
    task = client.create_task(new_intent(client).id, "flaky", max_attempts=2)
    task = walk(client, task, "ready", "claimed", "running", "failed")
    task = walk(client, task, "ready")
    assert task.attempt == 2
    task = walk(client, task, "claimed", "running", "failed")
    with pytest.raises(ConflictError):
        client.update_task(task.id, task.version, status="ready")
    assert "task.retrying" in event_types(client, task.intent_id)


def test_blocked_and_unblocked(client):
    task = client.create_task(new_intent(client).id, "needs-input")
    task = walk(client, task, "ready", "claimed", "running")
    blocked = client.update_task(
        task.id, task.version, status="blocked", blocked_reason="waiting for approval"
    )
    assert blocked.blocked_reason == "waiting for approval"
    running = walk(client, blocked, "running")
    assert running.blocked_reason is None
    types = event_types(client, task.intent_id)
    assert types.index("task.blocked") < types.index("task.unblocked")


def test_completing_the_last_dependency_readies_the_dependent(client):
    intent = new_intent(client)
    first = client.create_task(intent.id, "first")
    second = client.create_task(intent.id, "second")
    last = client.create_task(intent.id, "last", depends_on=[first.id, second.id])
    assert client.get_task(first.id).blocks == [last.id]

    walk(client, client.get_task(first.id), "ready", "claimed", "running", "completed")
    assert client.get_task(last.id).status == TaskStatus.PENDING
    walk(client, client.get_task(second.id), "ready", "claimed", "running", "completed")
    released = client.get_task(last.id)
    assert released.status == TaskStatus.READY
    assert released.version == 2

    with pytest.raises(ValidationError):
        client.create_task(intent.id, "bad", depends_on=["tsk_missing"])
    other = client.create_task(new_intent(client).id, "elsewhere")
    with pytest.raises(ValidationError):
        client.create_task(intent.id, "cross", depends_on=[other.id])


def test_list_tasks_filters_and_pages(client):
    intent = new_intent(client)
    made = [client.create_task(intent.id, f"t{n}") for n in range(5)]
    walk(client, made[0], "ready")
    listed = client.list_tasks(intent.id)
    assert ids(listed) == ids(made)
    assert ids(client.list_tasks(intent.id, status=TaskStatus.READY)) == [made[0].id]
    assert ids(client.list_tasks(intent.id, limit=2, offset=1)) == ids(made[1:3])


def test_only_the_claimant_moves_a_claimed_task(client, client2):
    task = client.create_task(new_intent(client).id, "mine")
    task = walk(client, task, "ready", "claimed")
    with pytest.raises(OpenIntentError) as refused:
        client2.update_task(task.id, task.version, status="running")
    assert refused.value.status_code == 403
    cancelled = client2.update_task(task.id, task.version, status="cancelled")
    assert cancelled.status == TaskStatus.CANCELLED


def test_plan_round_trip_and_checkpoint(client):
    intent = new_intent(client)
    first = client.create_task(intent.id, "gather")
    second = client.create_task(intent.id, "report")
    plan = client.create_plan(
        intent.id,
        tasks=[first.id, second.id],
        checkpoints=[{"name": "review", "after_task": first.id}],
        metadata={"owner": "research"},
    )
    assert plan.id.startswith("pln_")
    assert plan.state == PlanState.DRAFT
    assert plan.tasks == [first.id, second.id]
    assert plan.checkpoints[0].id == "cp_1"
    assert plan.checkpoints[0].status == "pending"
    assert client.get_plan(plan.id).metadata == {"owner": "research"}
    assert ids(client.list_plans(intent.id)) == [plan.id]

    active = client.update_plan(plan.id, plan.version, state="active")
    assert active.state == PlanState.ACTIVE
    with pytest.raises(ConflictError):
        client.update_plan(plan.id, plan.version, state="paused")

    walk(client, first, "ready", "claimed", "running", "completed")
    paused = client.get_plan(plan.id)
    assert paused.state == PlanState.PAUSED
    assert paused.checkpoints[0].status == "reached"
    resumed = client.update_plan(paused.id, paused.version, state="active")
    assert resumed.checkpoints[0].status == "approved"
    assert resumed.checkpoints[0].approved_by == "research-agent"
    types = event_types(client, intent.id)
    for expected in ["plan.created", "plan.activated", "plan.checkpoint_reached",
                     "plan.checkpoint_approved", "plan.resumed"]:
        assert expected in types

    with pytest.raises(ConflictError):
        client.update_plan(resumed.id, resumed.version, state="draft")
    with pytest.raises(ValidationError):
        client.update_plan(resumed.id, resumed.version, state="sleeping")
    with pytest.raises(ValidationError):
        client.create_plan(intent.id, tasks=["tsk_missing"])


def test_tasks_and_plans_are_tenant_scoped(client, other_tenant_client):
    intent = new_intent(client)
    task = client.create_task(intent.id, "private")
    plan = client.create_plan(intent.id, tasks=[task.id])
    for call in (
        lambda: other_tenant_client.get_task(task.id),
        lambda: other_tenant_client.update_task(task.id, 1, status="ready"),
        lambda: other_tenant_client.list_tasks(intent.id),
        lambda: other_tenant_client.create_task(intent.id, "intruder"),
        lambda: other_tenant_client.get_plan(plan.id),
        lambda: other_tenant_client.update_plan(plan.id, 1, state="active"),
        lambda: other_tenant_client.list_plans(intent.id),
        lambda: other_tenant_client.create_plan(intent.id),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert client.get_task(task.id).version == 1


def test_bad_bodies_are_json_400s(raw, client):
    intent = new_intent(client)
    for body in (
        {"intent_id": intent.id},
        {"intent_id": intent.id, "name": ""},
        {"intent_id": intent.id, "name": "x", "priority": "urgent"},
        {"intent_id": intent.id, "name": "x", "input": [1]},
        {"intent_id": intent.id, "name": "x", "max_attempts": 0},
        {"intent_id": intent.id, "name": "x", "requires_tools": ["github"]},
        {"intent_id": intent.id, "name": "x", "memory_policy": True},
    ):
        answer = raw.post("/api/v1/tasks", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]
    task = client.create_task(intent.id, "needs-version")
    not_object = raw.patch(f"/api/v1/tasks/{task.id}", json={"output": [1]}, headers={"If-Match": "1"})
    assert not_object.status_code == 400, not_object.text
    missing = raw.patch(f"/api/v1/tasks/{task.id}", json={"status": "ready"})
    assert missing.status_code == 400
    assert "If-Match" in missing.text


@pytest.mark.asyncio
async def test_async_tasks_and_plans(async_client):
    intent = await async_client.create_intent(title="async tasks", description="")
    task = await async_client.create_task(intent.id, "async-task", metadata={"k": "v"})
    ready = await async_client.update_task(task.id, task.version, status="ready")
    assert ready.status == TaskStatus.READY
    assert (await async_client.get_task(task.id)).metadata == {"k": "v"}
    assert ids(await async_client.list_tasks(intent.id)) == [task.id]
    plan = await async_client.create_plan(intent.id, tasks=[task.id])
    active = await async_client.update_plan(plan.id, plan.version, state="active")
    assert active.state == PlanState.ACTIVE
    assert ids(await async_client.list_plans(intent.id)) == [plan.id]
    assert (await async_client.get_plan(plan.id)).version == 2


def test_deleting_an_intent_deletes_its_tasks_and_plans(client, raw):
    intent = new_intent(client)
    task = client.create_task(intent.id, "doomed")
    plan = client.create_plan(intent.id, tasks=[task.id])
    assert raw.delete(f"/api/v1/intents/{intent.id}").status_code == 204
    with pytest.raises(NotFoundError):
        client.get_task(task.id)
    with pytest.raises(NotFoundError):
        client.get_plan(plan.id)
