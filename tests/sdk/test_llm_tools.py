"""The SDK's LLM observability helpers: tool calls, LLM requests, streams (all events)."""

from __future__ import annotations

from openintent.models import EventType

from sdkhelpers import new_intent


def only(client, intent_id, event_type):
    events = client.get_events(intent_id, event_type=event_type)
    assert len(events) == 1, (event_type, [e.payload for e in events])
    event = events[0]
    assert event.event_type == event_type
    assert event.intent_id == intent_id
    assert event.actor == "research-agent"
    return event


def assert_subset(expected: dict, actual: dict) -> None:
    for key, value in expected.items():
        assert key in actual, f"{key} missing from {actual}"
        assert actual[key] == value, f"{key}: {actual[key]!r} != {value!r}"


def test_tool_call_events(client):
    intent = new_intent(client)
    started = client.log_tool_call_started(
        intent.id, "web_search", "call-1", {"query": "q4 revenue"},
        provider="openai", model="gpt-4o", parent_request_id="req-1",
    )
    assert started.event_type == EventType.TOOL_CALL_STARTED
    completed = client.log_tool_call_completed(
        intent.id, "web_search", "call-1", {"query": "q4 revenue"},
        result={"hits": 3}, duration_ms=420, provider="openai", model="gpt-4o",
    )
    assert completed.event_type == EventType.TOOL_CALL_COMPLETED
    failed = client.log_tool_call_failed(
        intent.id, "fetch_page", "call-2", {"url": "https://x"}, error="timeout", duration_ms=30000,
    )
    assert failed.event_type == EventType.TOOL_CALL_FAILED

    event = only(client, intent.id, EventType.TOOL_CALL_STARTED)
    assert event.id == started.id
    assert_subset(
        {
            "tool_name": "web_search",
            "tool_id": "call-1",
            "arguments": {"query": "q4 revenue"},
            "provider": "openai",
            "model": "gpt-4o",
            "parent_request_id": "req-1",
        },
        event.payload,
    )
    event = only(client, intent.id, EventType.TOOL_CALL_COMPLETED)
    assert_subset({"tool_id": "call-1", "result": {"hits": 3}, "duration_ms": 420}, event.payload)
    event = only(client, intent.id, EventType.TOOL_CALL_FAILED)
    assert_subset(
        {"tool_name": "fetch_page", "tool_id": "call-2", "error": "timeout", "duration_ms": 30000},
        event.payload,
    )


def test_llm_request_events(client):
    intent = new_intent(client)
    client.log_llm_request_started(
        intent.id, "req-9", "anthropic", "claude", 4,
        tools_available=["web_search"], stream=True, temperature=0.2, max_tokens=800,
    )
    client.log_llm_request_completed(
        intent.id, "req-9", "anthropic", "claude", 4,
        response_content="Revenue grew 12%.", tool_calls=[{"id": "call-1"}],
        finish_reason="stop", prompt_tokens=100, completion_tokens=20, total_tokens=120,
        duration_ms=900,
    )
    client.log_llm_request_failed(
        intent.id, "req-10", "anthropic", "claude", 2, error="overloaded", duration_ms=50
    )

    event = only(client, intent.id, EventType.LLM_REQUEST_STARTED)
    assert_subset(
        {
            "request_id": "req-9",
            "provider": "anthropic",
            "model": "claude",
            "messages_count": 4,
            "tools_available": ["web_search"],
            "stream": True,
            "temperature": 0.2,
            "max_tokens": 800,
        },
        event.payload,
    )
    event = only(client, intent.id, EventType.LLM_REQUEST_COMPLETED)
    assert_subset(
        {
            "request_id": "req-9",
            "response_content": "Revenue grew 12%.",
            "tool_calls": [{"id": "call-1"}],
            "finish_reason": "stop",
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "duration_ms": 900,
        },
        event.payload,
    )
    event = only(client, intent.id, EventType.LLM_REQUEST_FAILED)
    assert_subset({"request_id": "req-10", "error": "overloaded", "duration_ms": 50}, event.payload)


def test_stream_events(client):
    intent = new_intent(client)
    client.start_stream(intent.id, "stream-1", "openai", "gpt-4o")
    for index in range(3):
        client.log_stream_chunk(intent.id, "stream-1", index, token_count=5)
    client.complete_stream(intent.id, "stream-1", "openai", "gpt-4o", chunks_received=3,
                           tokens_streamed=15)
    client.start_stream(intent.id, "stream-2", "openai", "gpt-4o")
    client.cancel_stream(intent.id, "stream-2", "openai", "gpt-4o", reason="user stop",
                         chunks_received=1, tokens_streamed=2)

    started = client.get_events(intent.id, event_type=EventType.STREAM_STARTED)
    assert sorted(e.payload["stream_id"] for e in started) == ["stream-1", "stream-2"]
    first = next(e for e in started if e.payload["stream_id"] == "stream-1")
    assert_subset(
        {
            "intent_id": intent.id,
            "agent_id": "research-agent",
            "status": "active",
            "provider": "openai",
            "model": "gpt-4o",
        },
        first.payload,
    )
    assert "started_at" in first.payload

    chunks = client.get_events(intent.id, event_type=EventType.STREAM_CHUNK)
    assert sorted(e.payload["chunk_index"] for e in chunks) == [0, 1, 2]
    assert all(e.payload["token_count"] == 5 and e.payload["stream_id"] == "stream-1"
               for e in chunks)

    event = only(client, intent.id, EventType.STREAM_COMPLETED)
    assert_subset(
        {"stream_id": "stream-1", "status": "completed", "chunks_received": 3,
         "tokens_streamed": 15},
        event.payload,
    )
    assert "completed_at" in event.payload
    event = only(client, intent.id, EventType.STREAM_CANCELLED)
    assert_subset({"stream_id": "stream-2", "status": "cancelled", "cancel_reason": "user stop"},
                  event.payload)

    # All of them in one log, in addition to intent_created.
    all_types = [e.event_type for e in client.get_events(intent.id)]
    assert all_types.count(EventType.STREAM_CHUNK) == 3
    assert EventType.INTENT_CREATED in all_types
    assert client.get_intent(intent.id).version == intent.version
