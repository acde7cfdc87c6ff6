"""Server-sent events: the SDK's subscribe_sse, subscribe_portfolio and subscribe_agent."""

from __future__ import annotations

from openintent.models import IntentStatus

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
        payload = event.data.get("payload", event.data)
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
