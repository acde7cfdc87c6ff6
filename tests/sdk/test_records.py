"""RFC-0005 attachments, RFC-0009 costs, RFC-0010 retry policies and failures."""

from __future__ import annotations

import pytest
from openintent.exceptions import NotFoundError
from openintent.models import EventType, RetryStrategy

from sdkhelpers import event_types, ids, new_intent, unique


# ---------------------------------------------------------------- attachments


def test_add_get_delete_attachment(client):
    intent = new_intent(client)
    assert client.get_attachments(intent.id) == []
    attachment = client.add_attachment(
        intent.id,
        filename="report.pdf",
        mime_type="application/pdf",
        size=20480,
        storage_url="s3://bucket/report.pdf",
        metadata={"pages": 12},
    )
    assert isinstance(attachment.id, str) and attachment.id
    assert attachment.intent_id == intent.id
    assert attachment.filename == "report.pdf"
    assert attachment.mime_type == "application/pdf"
    assert attachment.size == 20480
    assert attachment.storage_url == "s3://bucket/report.pdf"
    assert attachment.metadata == {"pages": 12}
    assert attachment.uploaded_by == "research-agent"

    image = client.add_attachment(intent.id, "chart.png", "image/png", 512, "https://cdn/x.png")
    assert image.metadata == {}

    listed = client.get_attachments(intent.id)
    assert sorted(ids(listed)) == sorted([attachment.id, image.id])
    by_id = {a.id: a for a in listed}
    assert by_id[attachment.id].size == 20480
    assert by_id[image.id].mime_type == "image/png"

    client.delete_attachment(intent.id, attachment.id)
    assert ids(client.get_attachments(intent.id)) == [image.id]
    with pytest.raises(NotFoundError):
        client.delete_attachment(intent.id, attachment.id)

    added = client.get_events(intent.id, event_type=EventType.ATTACHMENT_ADDED)
    assert len(added) == 2
    assert "report.pdf" in str([e.payload for e in added])
    # Every event the server logged is one the SDK can parse (get_events raises otherwise).
    assert "intent_created" in event_types(client, intent.id)


def test_attachments_of_unknown_intent(client):
    with pytest.raises(NotFoundError):
        client.get_attachments("missing-" + unique("a"))
    with pytest.raises(NotFoundError):
        client.add_attachment("missing-" + unique("a"), "f", "text/plain", 1, "s3://x")


# ---------------------------------------------------------------- costs


def test_record_cost_and_summary(client, client2):
    intent = new_intent(client)
    costs, summary = client.get_costs(intent.id)
    assert costs == []
    assert summary.total == 0

    tokens = client.record_cost(
        intent.id, "tokens", 1500, "tokens", provider="openai", metadata={"model": "gpt-4o"}
    )
    assert isinstance(tokens.id, str) and tokens.id
    assert tokens.intent_id == intent.id
    assert tokens.agent_id == "research-agent"
    assert tokens.cost_type == "tokens"
    assert tokens.amount == 1500
    assert tokens.unit == "tokens"
    assert tokens.provider == "openai"
    assert tokens.metadata == {"model": "gpt-4o"}

    api_call = client.record_cost(intent.id, "api_call", 3, "calls")
    assert api_call.provider is None
    synth = client2.record_cost(intent.id, "tokens", 500, "tokens", provider="anthropic")
    assert synth.agent_id == "synth-agent"

    costs, summary = client.get_costs(intent.id)
    assert sorted(ids(costs)) == sorted([tokens.id, api_call.id, synth.id])
    assert summary.total == 2003
    assert summary.by_type == {"tokens": 2000, "api_call": 3}
    assert summary.by_agent == {"research-agent": 1503, "synth-agent": 500}

    assert "intent_created" in event_types(client, intent.id)
    assert client.get_intent(intent.id).version == intent.version


def test_costs_of_unknown_intent(client):
    with pytest.raises(NotFoundError):
        client.get_costs("missing-" + unique("c"))


# ---------------------------------------------------------------- retry policy and failures


def test_retry_policy_lifecycle(client):
    intent = new_intent(client)
    assert client.get_retry_policy(intent.id) is None

    policy = client.set_retry_policy(
        intent.id,
        strategy=RetryStrategy.LINEAR,
        max_retries=5,
        base_delay_ms=500,
        max_delay_ms=10_000,
        fallback_agent_id="synth-agent",
        failure_threshold=2,
    )
    assert isinstance(policy.id, str) and policy.id
    assert policy.intent_id == intent.id
    assert policy.strategy == RetryStrategy.LINEAR
    assert policy.max_retries == 5
    assert policy.base_delay_ms == 500
    assert policy.max_delay_ms == 10_000
    assert policy.fallback_agent_id == "synth-agent"
    assert policy.failure_threshold == 2

    fetched = client.get_retry_policy(intent.id)
    assert fetched is not None
    assert fetched.to_dict() == policy.to_dict()

    replaced = client.set_retry_policy(intent.id, strategy=RetryStrategy.FIXED, max_retries=1)
    assert replaced.strategy == RetryStrategy.FIXED
    assert replaced.max_retries == 1
    assert replaced.base_delay_ms == 1000
    assert replaced.max_delay_ms == 60000
    assert replaced.fallback_agent_id is None
    assert replaced.failure_threshold == 3
    again = client.get_retry_policy(intent.id)
    assert again.strategy == RetryStrategy.FIXED
    assert again.max_retries == 1

    assert "intent_created" in event_types(client, intent.id)


def test_retry_policy_of_unknown_intent(client):
    with pytest.raises(NotFoundError):
        client.set_retry_policy("missing-" + unique("r"))


def test_record_and_get_failures(client, client2):
    intent = new_intent(client)
    assert client.get_failures(intent.id) == []
    first = client.record_failure(
        intent.id, 1, error_code="TIMEOUT", error_message="upstream timed out",
        metadata={"upstream": "search"},
    )
    assert isinstance(first.id, str) and first.id
    assert first.intent_id == intent.id
    assert first.agent_id == "research-agent"
    assert first.attempt_number == 1
    assert first.error_code == "TIMEOUT"
    assert first.error_message == "upstream timed out"
    assert first.metadata == {"upstream": "search"}

    second = client2.record_failure(intent.id, 2, error_message="rate limited")
    assert second.agent_id == "synth-agent"
    assert second.error_code is None

    failures = client.get_failures(intent.id)
    assert sorted(ids(failures)) == sorted([first.id, second.id])
    assert sorted(f.attempt_number for f in failures) == [1, 2]

    recorded = client.get_events(intent.id, event_type=EventType.FAILURE_RECORDED)
    assert len(recorded) == 2
    assert "TIMEOUT" in str([e.payload for e in recorded])
