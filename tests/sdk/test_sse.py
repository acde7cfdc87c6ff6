"""Server-sent events: the SDK's subscribe_sse, subscribe_portfolio and subscribe_agent."""

from __future__ import annotations

import time

from openintent.models import EventType, IntentEvent, IntentStatus

from sdkhelpers import SSECollector, is_data_event, mentions_key, new_intent, unique


def test_intent_stream_delivers_state_patched(client):
    intent = new_intent(client, initial_state={"a": 1})
    with SSECollector(client.subscribe_sse(intent.id)) as stream:
        stream.wait_connected()
        updated = client.update_state(intent.id, intent.version, {"progress": 0.5, "phase": "x"})
        assert updated.version == 2

        event = stream.wait_for(
            lambda e: e.type == "state_patched" and e.data.get("intent_id") == intent.id,
            "of type state_patched for the intent",
        )
        assert isinstance(event.data.get("payload"), dict), event.data
        payload = event.data["payload"]
        assert mentions_key(payload, "progress"), event.data
        assert mentions_key(payload, "phase"), event.data
        assert event.id, "data events carry an id (for Last-Event-ID)"

        # A status change on the same intent arrives on the same stream.
        client.set_status(intent.id, updated.version, IntentStatus.ACTIVE)
        status = stream.wait_for(
            lambda e: e.type == "status_changed" and e.data.get("intent_id") == intent.id,
            "of type status_changed for the intent",
        )
        assert "active" in str(status.data)


def test_intent_stream_ignores_other_intents(client):
    watched = new_intent(client)
    other = new_intent(client)
    with SSECollector(client.subscribe_sse(watched.id)) as stream:
        stream.wait_connected()
        client.update_state(other.id, other.version, {"noise": True})
        client.update_state(watched.id, watched.version, {"signal": True})
        event = stream.wait_for(is_data_event, "after the two patches")
        assert event.data.get("intent_id") == watched.id, event.data
        assert mentions_key(event.data, "signal")


def test_portfolio_stream_receives_member_events(client):
    portfolio = client.create_portfolio(unique("sse-portfolio"))
    member = new_intent(client)
    client.add_intent_to_portfolio(portfolio.id, member.id)
    with SSECollector(client.subscribe_portfolio(portfolio.id)) as stream:
        stream.wait_connected()
        client.update_state(member.id, member.version, {"portfolio_progress": 1})
        event = stream.wait_for(
            lambda e: is_data_event(e) and e.data.get("intent_id") == member.id,
            "for the member intent",
        )
        assert mentions_key(event.data, "portfolio_progress"), event.data


def test_agent_stream_receives_assignment(client, client2):
    intent = new_intent(client)
    with SSECollector(client2.subscribe_agent()) as stream:
        stream.wait_connected()
        client.assign_agent(intent.id, "synth-agent")
        event = stream.wait_for(
            lambda e: is_data_event(e) and e.data.get("intent_id") == intent.id,
            "for the assignment",
        )
        assert "synth-agent" in str(event.data), event.data


def test_stream_of_unknown_intent_is_an_error(client):
    stream = SSECollector(client.subscribe_sse("missing-" + unique("sse")))
    with stream:
        first = stream.events.get(timeout=10)
    assert first.type == "error", (first.type, first.data)
    assert first.data.get("status_code") == 404


def test_stream_events_are_intent_events_with_ids(client):
    intent = new_intent(client)
    with SSECollector(client.subscribe_sse(intent.id)) as stream:
        stream.wait_connected()
        logged = client.log_event(intent.id, EventType.COMMENT, {"hello": "sse"}, trace_id="tr-1")
        event = stream.wait_for(lambda e: e.type == "comment", "of type comment")
    # The data is the event as get_events shows it; the SSE id is the event id.
    parsed = IntentEvent.from_dict(event.data)
    assert parsed.id == logged.id
    assert event.id == logged.id
    assert parsed.intent_id == intent.id
    assert parsed.event_type == EventType.COMMENT
    assert parsed.payload == {"hello": "sse"}
    assert parsed.actor == "research-agent"
    assert parsed.trace_id == "tr-1"


def test_stream_resumes_after_last_event_id(client):
    """What the SDK's SSEStream does on reconnect: send Last-Event-ID, get what was missed."""
    intent = new_intent(client)
    with SSECollector(client.subscribe_sse(intent.id)) as stream:
        stream.wait_connected()
        client.log_event(intent.id, EventType.COMMENT, {"n": 1})
        seen = stream.wait_for(lambda e: e.type == "comment", "of the first comment")
    assert seen.id
    # Missed while disconnected:
    missed = client.log_event(intent.id, EventType.COMMENT, {"n": 2})

    resumed = client.subscribe_sse(intent.id)
    resumed._last_event_id = seen.id  # the SDK's reconnect state after receiving `seen`
    with SSECollector(resumed) as stream:
        replayed = stream.wait_for(lambda e: e.type == "comment", "replayed after Last-Event-ID")
        assert replayed.id == missed.id, (replayed.id, replayed.data)
        assert replayed.data.get("payload") == {"n": 2}
        assert seen.id not in [e.id for e in stream.seen]


def test_portfolio_stream_follows_members_added_later(client):
    portfolio = client.create_portfolio(unique("sse-late"))
    with SSECollector(client.subscribe_portfolio(portfolio.id)) as stream:
        stream.wait_connected()
        late = new_intent(client)
        client.add_intent_to_portfolio(portfolio.id, late.id)
        client.update_state(late.id, late.version, {"late_key": True})
        event = stream.wait_for(
            lambda e: e.type == "state_patched" and e.data.get("intent_id") == late.id,
            "for the member added after subscribing",
        )
        assert mentions_key(event.data, "late_key")


def test_portfolio_stream_of_unknown_portfolio_is_an_error(client):
    stream = SSECollector(client.subscribe_portfolio("missing-" + unique("pf")))
    with stream:
        first = stream.events.get(timeout=10)
    assert first.type == "error", (first.type, first.data)
    assert first.data.get("status_code") == 404


def test_event_queue(client):
    """The SDK's pull-style subscription (a background SSESubscription feeding a queue)."""
    intent = new_intent(client)
    events = client.create_event_queue(intent_id=intent.id)
    events.start()
    try:
        first = events.get(timeout=10)
        assert first is not None and first.type == "connected", first
        client.update_state(intent.id, intent.version, {"queued": 1})
        deadline = time.monotonic() + 10
        while True:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            assert event is not None, "no state_patched event within 10 s"
            if event.type == "state_patched":
                break
        assert event.data.get("intent_id") == intent.id
        assert mentions_key(event.data, "queued")
    finally:
        # EventQueue.stop() joins its reader thread for up to 5 s while it blocks on the open
        # stream: mark the stream stopped and send one more event so the reader exits now.
        events._subscription._running = False
        events._subscription._stream._running = False
        client.log_event(intent.id, EventType.COMMENT, {"bye": True})
        events.stop()
