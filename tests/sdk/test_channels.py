"""RFC-0021 through the SDK: channels on a real intent, explicit membership, messages,
request/reply with `ask()`, read receipts, closing with the intent, audit, tenancy."""

from __future__ import annotations

import threading
import time

import pytest
from openintent.exceptions import ConflictError, NotFoundError, OpenIntentError, ValidationError
from openintent.models import IntentStatus

from conftest import RESEARCH_AGENT, SYNTH_AGENT
from sdkhelpers import complete, event_types, new_intent, py310_instant, unique


def forbidden(call) -> None:
    with pytest.raises(OpenIntentError) as refused:
        call()
    assert refused.value.status_code == 403, refused.value.response


def test_a_channel_lives_on_a_real_intent(client):
    intent = new_intent(client)
    channel = client.create_channel(intent.id, "planning")
    assert channel["id"].startswith("chan_") and channel["intent_id"] == intent.id
    assert channel["status"] == "open" and channel["member_policy"] == "intent"
    assert channel["created_by"] == RESEARCH_AGENT and py310_instant(channel["created_at"])
    assert client.get_channel(channel["id"])["name"] == "planning"
    assert [c["id"] for c in client.list_channels(intent.id)] == [channel["id"]]
    assert "channel.created" in event_types(client, intent.id)
    with pytest.raises(ConflictError):
        client.create_channel(intent.id, "planning")
    with pytest.raises(NotFoundError):
        client.create_channel("oin_missing", "planning")
    with pytest.raises(ValidationError):
        client.create_channel(intent.id, "x", member_policy="secret")
    with pytest.raises(ValidationError):
        client.create_channel(intent.id, "y", options={"max_messages": 0})


def test_explicit_channels_admit_their_members_only(client, client2):
    intent = new_intent(client)
    private = client.create_channel(intent.id, unique("private"), members=[RESEARCH_AGENT],
                                    member_policy="explicit")
    forbidden(lambda: client2.get_channel(private["id"]))
    forbidden(lambda: client2.send_message(private["id"], SYNTH_AGENT, payload={"hi": 1}))
    forbidden(lambda: client2.list_messages(private["id"]))
    forbidden(lambda: client.send_message(private["id"], RESEARCH_AGENT, to=SYNTH_AGENT))
    assert private["id"] not in [c["id"] for c in client2.list_channels(intent.id)]
    # A bound key cannot send as another agent either.
    forbidden(lambda: client.send_message(private["id"], SYNTH_AGENT))

    shared = client.create_channel(intent.id, unique("pair"), members=[RESEARCH_AGENT, SYNTH_AGENT],
                                   member_policy="explicit")
    sent = client2.send_message(shared["id"], SYNTH_AGENT, to=RESEARCH_AGENT, payload={"n": 1})
    assert sent["sender"] == SYNTH_AGENT and sent["status"] == "delivered"
    assert client.get_message(shared["id"], sent["id"])["payload"] == {"n": 1}


def test_ask_gets_the_reply_of_the_addressee(client, client2):
    intent = new_intent(client)
    channel = client.create_channel(intent.id, unique("qa"))

    def answer():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            waiting = client2.list_messages(channel["id"], to=SYNTH_AGENT)
            requests = [m for m in waiting if m["message_type"] == "request"]
            if requests:
                client2.mark_read(channel["id"], requests[0]["id"])
                client2.reply_to(channel["id"], requests[0]["id"], SYNTH_AGENT,
                                 payload={"schema": "v2"})
                return
            time.sleep(0.1)

    responder = threading.Thread(target=answer)
    responder.start()
    reply = client.ask(channel["id"], RESEARCH_AGENT, SYNTH_AGENT, {"question": "schema?"},
                       timeout=10)
    responder.join()
    assert reply["message_type"] == "response" and reply["payload"] == {"schema": "v2"}
    assert reply["to"] == RESEARCH_AGENT and reply["sender"] == SYNTH_AGENT
    request = client.get_message(channel["id"], reply["correlation_id"])
    assert request["status"] == "read" and py310_instant(request["read_at"])
    # Only the addressee marks read; a notify is not replied to.
    note = client.send_message(channel["id"], RESEARCH_AGENT, to=SYNTH_AGENT, payload={})
    forbidden(lambda: client.mark_read(channel["id"], note["id"]))
    with pytest.raises(ValidationError):
        client2.reply_to(channel["id"], note["id"], SYNTH_AGENT)
    with pytest.raises(ValidationError):
        client.send_message(channel["id"], RESEARCH_AGENT, message_type="request")


def test_expired_requests_take_no_reply(client, client2):
    channel = client.create_channel(new_intent(client).id, unique("late"))
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    request = client.send_message(channel["id"], RESEARCH_AGENT, to=SYNTH_AGENT,
                                  message_type="request", expires_at=soon)
    time.sleep(1.5)
    assert client.get_message(channel["id"], request["id"])["status"] == "expired"
    with pytest.raises(ConflictError):
        client2.reply_to(channel["id"], request["id"], SYNTH_AGENT)


def test_cursor_retention_and_audit(client):
    intent = new_intent(client)
    quiet = client.create_channel(intent.id, unique("quiet"), options={"max_messages": 2})
    sent = [client.send_message(quiet["id"], RESEARCH_AGENT, payload={"n": n}) for n in range(3)]
    kept = client.list_messages(quiet["id"])
    assert [m["id"] for m in kept] == [sent[1]["id"], sent[2]["id"]]
    assert [m["id"] for m in client.list_messages(quiet["id"], since=sent[1]["id"])] == [sent[2]["id"]]
    assert client.get_channel(quiet["id"])["message_count"] == 3
    assert "channel.message" not in event_types(client, intent.id)
    audited = client.create_channel(intent.id, unique("audited"), options={"audit": True})
    client.send_message(audited["id"], RESEARCH_AGENT, payload={"kept": True})
    assert "channel.message" in event_types(client, intent.id)


def test_channels_close_with_their_intent_or_on_request(client, client2):
    intent = new_intent(client)
    channel = client.create_channel(intent.id, "work")
    other = client.create_channel(intent.id, "side")
    assert client2._client.delete(f"/api/v1/channels/{other['id']}").status_code == 403
    client.close_channel(other["id"])
    assert client.get_channel(other["id"])["status"] == "closed"
    assert client.create_channel(intent.id, "side")["status"] == "open"  # the name is free again
    complete(client, client.get_intent(intent.id))
    closed = client.get_channel(channel["id"])
    assert closed["status"] == "closed" and py310_instant(closed["closed_at"])
    with pytest.raises(ConflictError):
        client.send_message(channel["id"], RESEARCH_AGENT, payload={})
    assert event_types(client, intent.id).count("channel.closed") == 3


def test_another_tenant_gets_404_on_every_channel_route(client, other_tenant_client):
    intent = new_intent(client)
    channel = client.create_channel(intent.id, unique("mine"))
    message = client.send_message(channel["id"], RESEARCH_AGENT, payload={"secret": "no"})
    other = other_tenant_client
    calls = [
        lambda: other.create_channel(intent.id, "theirs"),
        lambda: other.list_channels(intent.id),
        lambda: other.get_channel(channel["id"]),
        lambda: other.send_message(channel["id"], "other-agent"),
        lambda: other.list_messages(channel["id"]),
        lambda: other.get_message(channel["id"], message["id"]),
        lambda: other.mark_read(channel["id"], message["id"]),
        lambda: other.reply_to(channel["id"], message["id"], "other-agent"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            call()
    for method in ("PATCH", "DELETE"):
        response = other._client.request(method, f"/api/v1/channels/{channel['id']}", json={})
        assert response.status_code == 404, (method, response.text)
    assert client.get_channel(channel["id"])["status"] == "open"


@pytest.mark.asyncio
async def test_async_client_channels(async_client, client):
    intent = new_intent(client)
    channel = await async_client.create_channel(intent.id, unique("async"))
    sent = await async_client.send_message(channel["id"], RESEARCH_AGENT, payload={"a": 1})
    listed = await async_client.list_messages(channel["id"])
    assert [m["id"] for m in listed] == [sent["id"]]
    assert (await async_client.get_channel(channel["id"]))["message_count"] == 1
