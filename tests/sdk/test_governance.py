"""RFC-0013 through the SDK: governance policies, approval requests and escalations in the one
approval queue of /v1 (decided there, seen here), coordinator leases and decision records."""

from __future__ import annotations

import time

import httpx
import pytest
from openintent.exceptions import (
    ConflictError,
    LeaseConflictError,
    NotFoundError,
    OpenIntentError,
    ValidationError,
)
from openintent.models import DecisionType, EventType, IntentStatus

from conftest import ADMIN_KEY, CLIENT_TIMEOUT_S
from sdkhelpers import event_types, new_intent, py310_instant, set_statuses, unique


def wait_for_event(client, intent_id: str, event_type: str, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        seen = event_types(client, intent_id)
        if event_type in seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


@pytest.fixture
def v1(base_url: str):
    """The /v1 face with the admin key: the approval queue's approver."""
    with httpx.Client(
        base_url=base_url, headers={"X-API-Key": ADMIN_KEY}, timeout=CLIENT_TIMEOUT_S
    ) as c:
        yield c


def queued(v1: httpx.Client, approval_id: str) -> dict | None:
    response = v1.get("/v1/approvals", params={"pageSize": 100})
    assert response.status_code == 200, response.text
    return next((a for a in response.json()["data"]["items"] if a["id"] == approval_id), None)


def forbidden(call) -> OpenIntentError:
    with pytest.raises(OpenIntentError) as refused:
        call()
    assert refused.value.status_code == 403, refused.value
    return refused.value


def test_policy_round_trip_and_bad_policies(client):
    intent = new_intent(client)
    assert client.get_governance_policy(intent.id)["governance_policy"] == {}
    policy = {"completion_mode": "quorum", "quorum_threshold": 0.5, "max_cost": 10}
    governed = client.set_governance_policy(intent.id, intent.version, policy)
    assert governed.version == intent.version + 1
    assert governed.governance_policy.completion_mode == "quorum"
    assert governed.governance_policy.max_cost == 10
    view = client.get_governance_policy(intent.id)
    assert view["intent_id"] == intent.id
    assert view["governance_policy"] == policy
    assert view["effective_policy"]["write_scope"] == "any"
    assert view["effective_policy"]["quorum_threshold"] == 0.5
    with pytest.raises(ConflictError):
        client.set_governance_policy(intent.id, intent.version, policy)
    for bad in (
        {"completion_mode": "whenever"},
        {"write_scope": "everyone"},
        {"quorum_threshold": 1.5},
        {"max_cost": -1},
        {"allowed_agents": "research-agent"},
    ):
        with pytest.raises(ValidationError):
            client.set_governance_policy(intent.id, governed.version, bad)
    cleared = client.remove_governance_policy(intent.id, governed.version)
    assert cleared.governance_policy is None
    assert client.get_governance_policy(intent.id)["governance_policy"] == {}
    seen = event_types(client, intent.id)
    assert "governance.policy_set" in seen and "governance.policy_removed" in seen


def test_allowed_agents_bind_the_verified_agent(client, client2):
    intent = new_intent(client)
    intent = client.set_governance_policy(
        intent.id, intent.version, {"allowed_agents": ["research-agent"]}
    )
    refused = forbidden(lambda: client2.update_state(intent.id, intent.version, {"x": 1}))
    assert "allowed_agents" in str(refused.response)
    assert client.get_intent(intent.id).version == intent.version, "the refused write changed nothing"
    forbidden(lambda: client.assign_agent(intent.id, "synth-agent"))
    # The refusals are on the intent's log.
    assert "governance.violation" in wait_for_event(client, intent.id, "governance.violation")
    # The creator writes; an allowed agent may be assigned.
    assert client.update_state(intent.id, intent.version, {"x": 1}).state.to_dict() == {"x": 1}
    client.assign_agent(intent.id, "research-agent")


def test_assigned_only_write_scope(client, client2):
    intent = new_intent(client)
    intent = client.set_governance_policy(intent.id, intent.version, {"write_scope": "assigned_only"})
    forbidden(lambda: client2.log_event(intent.id, EventType.COMMENT, {"text": "hi"}))
    client.assign_agent(intent.id, "synth-agent")
    event = client2.log_event(intent.id, EventType.COMMENT, {"text": "hi"})
    assert event.payload == {"text": "hi"}


def test_cost_ceiling_and_status_reason(client):
    intent = new_intent(client)
    intent = client.set_governance_policy(
        intent.id, intent.version, {"max_cost": 5, "require_status_reason": True}
    )
    client.record_cost(intent.id, "tokens", 4, unit="usd")
    forbidden(lambda: client.record_cost(intent.id, "tokens", 2, unit="usd"))
    _, summary = client.get_costs(intent.id)
    assert summary.total == 4
    forbidden(lambda: client.set_status(intent.id, intent.version, IntentStatus.ACTIVE))
    active = client.set_status(intent.id, intent.version, IntentStatus.ACTIVE, reason="starting")
    assert active.status == IntentStatus.ACTIVE


def test_completion_waits_for_an_approval_decided_in_the_v1_queue(client, v1):
    intent = new_intent(client)
    intent = client.set_governance_policy(
        intent.id, intent.version, {"completion_mode": "require_approval"}
    )
    intent = set_statuses(client, intent, IntentStatus.ACTIVE)
    forbidden(lambda: client.set_status(intent.id, intent.version, IntentStatus.COMPLETED))

    request = client.request_approval(intent.id, "complete", "report ready", {"pages": 3})
    assert request.status == "pending"
    assert request.requested_by == "research-agent"
    assert request.context == {"pages": 3}

    # The same request waits in the /v1 queue, with what to triage it by.
    item = queued(v1, request.id)
    assert item is not None, "the request is not in the /v1 approval queue"
    assert item["subject"] == {"kind": "openintent.approval", "id": intent.id}
    assert item["agentId"] == "research-agent"
    assert item["routingReason"] == "report ready"
    assert "complete" in item["paramsSummary"]
    detail = v1.get(f"/v1/approvals/{request.id}").json()["data"]
    assert detail["request"]["action"] == "complete"
    assert "intent" not in detail

    decided = v1.post(f"/v1/approvals/{request.id}/approve", json={"comment": "signed off"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["data"]["status"] == "approved"

    seen = client.get_approval_status(intent.id, request.id)
    assert seen.status == "approved"
    assert seen.decided_by and seen.decided_at is not None
    assert seen.decision_notes == "signed off"
    assert queued(v1, request.id) is None, "a decided request left the queue"
    assert "governance.approval_granted" in event_types(client, intent.id)

    done = client.set_status(intent.id, intent.version, IntentStatus.COMPLETED)
    assert done.status == IntentStatus.COMPLETED


def test_one_decision_settles_a_request_whichever_face_decides(client, admin_client, v1):
    intent = new_intent(client)
    request = client.request_approval(intent.id, "deploy", "ship it")
    denied = admin_client.deny_approval(intent.id, request.id)
    assert denied["status"] == "denied"
    again = v1.post(f"/v1/approvals/{request.id}/approve", json={})
    assert again.status_code == 400, again.text
    assert again.json()["error"]["code"] == "ALREADY_RESOLVED"
    with pytest.raises(ConflictError):
        admin_client.approve_approval(intent.id, request.id)
    assert client.get_approval_status(intent.id, request.id).status == "denied"
    assert "governance.approval_denied" in event_types(client, intent.id)


def test_deciding_takes_an_approver_and_not_the_requester(client, admin_client):
    intent = new_intent(client)
    request = client.request_approval(intent.id, "deploy")
    # An agent-scope key cannot decide.
    forbidden(lambda: client.approve_approval(intent.id, request.id))
    # The key that asked cannot approve what it asked for.
    own = admin_client.request_approval(intent.id, "deploy")
    forbidden(lambda: admin_client.approve_approval(intent.id, own.id))
    assert admin_client.get_approval_status(intent.id, own.id).status == "pending"
    # The request belongs to its intent only.
    other = new_intent(client)
    with pytest.raises(NotFoundError):
        client.get_approval_status(other.id, request.id)
    with pytest.raises(ValidationError):
        client.request_approval(intent.id, "")


def test_escalations_wait_in_the_queue_and_resolve_once(client, admin_client, v1):
    intent = new_intent(client)
    escalation = client.escalate_to_human(intent.id, "sources disagree", priority="high")
    assert escalation.status == "pending"
    assert escalation.priority == "high"
    assert escalation.escalated_by == "research-agent"
    item = queued(v1, escalation.id)
    assert item is not None and item["subject"]["kind"] == "openintent.escalation"

    pending = client.list_escalations(intent_id=intent.id, status="pending")
    assert [e.id for e in pending] == [escalation.id]
    resolved = admin_client.resolve_escalation(escalation.id, "use_source_a", notes="audited")
    assert resolved.status == "resolved"
    assert resolved.resolution == "use_source_a"
    assert resolved.resolution_notes == "audited"
    assert resolved.resolved_at is not None
    with pytest.raises(ConflictError):
        admin_client.resolve_escalation(escalation.id, "again")
    assert [e.id for e in client.list_escalations(intent_id=intent.id, status="resolved")] == [
        escalation.id
    ]
    assert client.list_escalations(intent_id=intent.id, status="pending") == []

    # Rejected through /v1: resolved, with the rejection as its resolution.
    second = client.escalate_to_human(intent.id, "budget")
    v1.post(f"/v1/approvals/{second.id}/reject", json={"reason": "no budget"})
    [seen] = [e for e in client.list_escalations(intent_id=intent.id) if e.id == second.id]
    assert (seen.status, seen.resolution, seen.resolution_notes) == (
        "resolved",
        "rejected",
        "no budget",
    )
    with pytest.raises(ValidationError):
        client.escalate_to_human(intent.id, "x", priority="urgent")
    with pytest.raises(ValidationError):
        client.list_escalations(status="open")


def test_deleting_an_intent_cancels_its_requests(client, v1):
    intent = new_intent(client)
    request = client.request_approval(intent.id, "deploy")
    client._client.delete(f"/api/v1/intents/{intent.id}")
    assert queued(v1, request.id) is None
    assert v1.get(f"/v1/approvals/{request.id}").json()["data"]["status"] == "cancelled"


def test_coordinator_lease_is_exclusive_and_heartbeats(client, client2):
    intent = new_intent(client)
    lease = client.create_coordinator_lease(
        "research-agent", intent.id, supervisor_id="ops-lead", guardrails={"max_budget_usd": 5}
    )
    assert lease.id.startswith("clease_")
    assert lease.status.value == "active"
    assert lease.guardrails.max_budget_usd == 5
    with pytest.raises(LeaseConflictError):
        client2.create_coordinator_lease("synth-agent", intent.id)
    assert [l.id for l in client.list_coordinator_leases(intent.id)] == [lease.id]
    assert client.get_coordinator_lease(lease.id).agent_id == "research-agent"

    beat = client.coordinator_heartbeat(lease.id)
    assert beat["status"] == "ok"
    assert py310_instant(beat["next_heartbeat_at"])
    forbidden(lambda: client2.coordinator_heartbeat(lease.id))
    assert client.get_coordinator_lease(lease.id).version == lease.version + 1

    record = client.create_decision_record(
        lease.id, intent.id, DecisionType.PLAN_CREATED, "four tasks", "no agent does it all",
        alternatives_considered=[{"description": "one task"}], confidence=0.8,
    )
    assert record["type"] == "coordinator.decision"
    assert record["coordinator_id"] == lease.id
    forbidden(lambda: client2.create_decision_record(
        lease.id, intent.id, DecisionType.PLAN_MODIFIED, "mine now", "because"
    ))
    with pytest.raises(ValidationError):
        client.create_decision_record(lease.id, intent.id, DecisionType.PLAN_CREATED, "", "x")
    records = client.list_decision_records(intent.id)
    assert [r["id"] for r in records] == [record["id"]]
    seen = event_types(client, intent.id)
    assert "coordinator.heartbeat" in seen and "coordinator.decision" in seen


def test_a_silent_coordinator_is_taken_over(client, client2):
    intent = new_intent(client)
    lease = client.create_coordinator_lease(
        "research-agent", intent.id, heartbeat_interval_seconds=1
    )
    time.sleep(2.3)
    assert client.get_coordinator_lease(lease.id).status.value == "unresponsive"
    successor = client2.create_coordinator_lease("synth-agent", intent.id)
    assert successor.status.value == "active"
    assert client.get_coordinator_lease(lease.id).status.value == "failed_over"
    with pytest.raises(OpenIntentError) as gone:
        client.coordinator_heartbeat(lease.id)
    assert gone.value.status_code == 410
    assert "coordinator.failed_over" in event_types(client, intent.id)


def test_bad_leases_are_refused(client):
    intent = new_intent(client)
    with pytest.raises(ValidationError):
        client.create_coordinator_lease("research-agent")
    with pytest.raises(ValidationError):
        client.create_coordinator_lease("research-agent", intent.id, scope="galaxy")
    with pytest.raises(ValidationError):
        client.create_coordinator_lease("research-agent", intent.id, heartbeat_interval_seconds=0)
    with pytest.raises(NotFoundError):
        client.create_coordinator_lease("research-agent", "oin_missing")
    # A bound key cannot hand the role to another agent.
    forbidden(lambda: client.create_coordinator_lease("synth-agent", intent.id))


def test_other_tenants_see_none_of_it(client, other_tenant_client):
    intent = new_intent(client)
    request = client.request_approval(intent.id, "deploy")
    escalation = client.escalate_to_human(intent.id, "help")
    lease = client.create_coordinator_lease("research-agent", intent.id)
    calls = [
        lambda: other_tenant_client.get_governance_policy(intent.id),
        lambda: other_tenant_client.set_governance_policy(intent.id, 1, {"max_cost": 1}),
        lambda: other_tenant_client.remove_governance_policy(intent.id, 1),
        lambda: other_tenant_client.request_approval(intent.id, "deploy"),
        lambda: other_tenant_client.get_approval_status(intent.id, request.id),
        lambda: other_tenant_client.approve_approval(intent.id, request.id),
        lambda: other_tenant_client.deny_approval(intent.id, request.id),
        lambda: other_tenant_client.escalate_to_human(intent.id, "x"),
        lambda: other_tenant_client.resolve_escalation(escalation.id, "done"),
        lambda: other_tenant_client.list_escalations(intent_id=intent.id),
        lambda: other_tenant_client.get_coordinator_lease(lease.id),
        lambda: other_tenant_client.list_coordinator_leases(intent.id),
        lambda: other_tenant_client.coordinator_heartbeat(lease.id),
        lambda: other_tenant_client.create_decision_record(
            lease.id, intent.id, DecisionType.PLAN_CREATED, "s", "r"
        ),
        lambda: other_tenant_client.list_decision_records(intent.id),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            call()
    assert other_tenant_client.list_escalations() == []
    assert client.get_approval_status(intent.id, request.id).status == "pending"


@pytest.mark.asyncio
async def test_async_client_requests_and_coordinates(async_client, v1):
    intent = await async_client.create_intent(title=unique("async-governed"), description="")
    request = await async_client.request_approval(intent.id, "complete", "ready")
    v1.post(f"/v1/approvals/{request.id}/approve", json={})
    seen = await async_client.get_approval_status(intent.id, request.id)
    assert seen.status == "approved"
    escalation = await async_client.escalate_to_human(intent.id, "stuck")
    assert [e.id for e in await async_client.list_escalations(intent_id=intent.id)] == [
        escalation.id
    ]
    lease = await async_client.create_coordinator_lease("research-agent", intent.id)
    assert (await async_client.coordinator_heartbeat(lease.id))["status"] == "ok"
    assert [l.id for l in await async_client.list_coordinator_leases(intent.id)] == [lease.id]
    record = await async_client.create_decision_record(
        lease.id, intent.id, DecisionType.TASK_ASSIGNED, "gave it to synth", "it is free"
    )
    assert [r["id"] for r in await async_client.list_decision_records(intent.id)] == [record["id"]]
    governed = await async_client.set_governance_policy(
        intent.id, (await async_client.get_intent(intent.id)).version, {"max_cost": 3}
    )
    assert governed.governance_policy.max_cost == 3
