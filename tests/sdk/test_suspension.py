"""RFC-0025/0026 through the SDK: an agent suspends its intent awaiting input (as the SDK's
`request_input` does: status, then the question in `state._suspension`) and an operator
answers with `POST /intents/{id}/suspend/respond`; the agent reads the answer from the state."""

from __future__ import annotations

import uuid

import pytest
from openintent.models import EventType, IntentStatus, SuspensionChoice, SuspensionRecord

from sdkhelpers import event_types, new_intent, py310_instant, set_statuses


def suspended(client, response_type: str = "choice", choices=None):
    """An intent suspended on a fresh question, and the question's id."""
    intent = set_statuses(client, new_intent(client), IntentStatus.ACTIVE)
    suspension = SuspensionRecord(
        id=str(uuid.uuid4()),
        question="Refund the customer?",
        response_type=response_type,
        choices=choices if choices is not None else [
            SuspensionChoice(value="approve", label="Approve", description="Send the refund"),
            SuspensionChoice(value="deny", label="Deny"),
        ],
    )
    intent = client.set_status(intent.id, intent.version, IntentStatus.SUSPENDED_AWAITING_INPUT)
    intent = client.update_state(intent.id, intent.version, {"_suspension": suspension.to_dict()})
    return intent, suspension.id


def respond(raw, intent_id: str, **body):
    return raw.post(f"/api/v1/intents/{intent_id}/suspend/respond", json=body)


def test_an_answer_resumes_the_intent_and_reaches_the_agent(client, raw):
    intent, suspension_id = suspended(client)
    answered = respond(raw, intent.id, suspension_id=suspension_id, value="approve",
                       responded_by="ops-lead")
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["resolution"] == "responded" and body["value"] == "approve"
    assert body["choice_label"] == "Approve" and body["choice_description"] == "Send the refund"
    assert py310_instant(body["responded_at"])
    resumed = client.get_intent(intent.id)
    assert resumed.status == IntentStatus.ACTIVE and resumed.version == intent.version + 1
    record = resumed.state.to_dict()["_suspension"]
    assert record["resolution"] == "responded" and record["response"] == "approve"
    assert record["responded_by"] == "ops-lead" and record["question"] == "Refund the customer?"
    assert EventType.INTENT_RESUMED.value in event_types(client, intent.id)
    again = respond(raw, intent.id, suspension_id=suspension_id, value="deny")
    assert again.status_code == 409, again.text


def test_answers_are_checked_against_the_question(client, raw):
    intent, suspension_id = suspended(client)
    outside = respond(raw, intent.id, suspension_id=suspension_id, value="maybe")
    assert outside.status_code == 400 and "approve" in outside.json()["message"]
    wrong = respond(raw, intent.id, suspension_id=str(uuid.uuid4()), value="approve")
    assert wrong.status_code == 409
    missing = respond(raw, intent.id, value="approve")
    assert missing.status_code == 400
    assert client.get_intent(intent.id).status == IntentStatus.SUSPENDED_AWAITING_INPUT

    confirm, confirm_id = suspended(client, response_type="confirm", choices=[])
    assert respond(raw, confirm.id, suspension_id=confirm_id, value="perhaps").status_code == 400
    assert respond(raw, confirm.id, suspension_id=confirm_id, value="yes").status_code == 200

    text, text_id = suspended(client, response_type="text", choices=[])
    free = respond(raw, text.id, suspension_id=text_id, value={"note": "anything goes"})
    assert free.status_code == 200 and free.json()["value"] == {"note": "anything goes"}


def test_only_suspended_intents_take_answers(client, raw, other_tenant_client):
    active = set_statuses(client, new_intent(client), IntentStatus.ACTIVE)
    refused = respond(raw, active.id, suspension_id="s-1", value="x")
    assert refused.status_code == 409, refused.text
    intent, suspension_id = suspended(client)
    foreign = other_tenant_client._client.post(
        f"/api/v1/intents/{intent.id}/suspend/respond",
        json={"suspension_id": suspension_id, "value": "approve"},
    )
    assert foreign.status_code == 404
    assert client.get_intent(intent.id).status == IntentStatus.SUSPENDED_AWAITING_INPUT
