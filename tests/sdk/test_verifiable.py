"""RFC-0019 through the SDK: events carry sequence, event_hash and previous_event_hash; the
chain verifies; intent checkpoints are signed by the server's did:key; the SDK's own
`MerkleProof.verify()` accepts the server's proofs; consecutive checkpoints are consistent."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from openintent.exceptions import NotFoundError
from openintent.models import MerkleProofEntry

from conftest import ADMIN_KEY
from sdkhelpers import new_intent

AS_ADMIN = {"X-API-Key": ADMIN_KEY, "X-Agent-ID": "dev-user"}
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def with_events(client, count: int):
    intent = new_intent(client)
    for n in range(count):
        intent = client.update_state(intent.id, intent.version, {"step": n})
    return intent


def seal(raw, intent_id: str) -> dict:
    made = raw.post("/api/v1/admin/checkpoints", json={"intent_id": intent_id}, headers=AS_ADMIN)
    assert made.status_code == 201, made.text
    return made.json()


def did_key_public(did: str) -> bytes:
    number = 0
    for char in did.removeprefix("did:key:z"):
        number = number * 58 + BASE58.index(char)
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    assert data[:2] == b"\xed\x01"
    return data[2:]


def test_events_are_chained_and_the_chain_verifies(client):
    intent = with_events(client, 3)
    events = client.get_events(intent.id)
    assert len(events) >= 4
    assert all(e.event_hash and e.event_hash.startswith("sha256:") for e in events)
    assert events[0].previous_event_hash is None
    for earlier, later in zip(events, events[1:]):
        assert later.previous_event_hash == earlier.event_hash
        assert later.sequence > earlier.sequence
    check = client.verify_event_chain(intent.id)
    assert check.valid is True and check.breaks == []
    assert check.event_count == len(events)
    assert (check.first_sequence, check.last_sequence) == (events[0].sequence, events[-1].sequence)


def test_checkpoints_are_signed_and_their_proofs_verify_in_the_sdk(client, raw):
    intent = with_events(client, 4)
    events = client.get_events(intent.id)
    made = seal(raw, intent.id)
    checkpoint = client.get_checkpoint(made["checkpoint_id"])
    assert checkpoint.intent_id == intent.id and checkpoint.scope == "intent"
    assert checkpoint.event_count == len(events)
    assert (checkpoint.first_sequence, checkpoint.last_sequence) == (
        events[0].sequence,
        events[-1].sequence,
    )
    assert [c.checkpoint_id for c in client.list_checkpoints(intent_id=intent.id)] == [
        checkpoint.checkpoint_id
    ]
    # The signature is the server's did:key over the canonical JSON of the other fields.
    unsigned = {k: v for k, v in made.items() if k != "signature"}
    message = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    public = Ed25519PublicKey.from_public_bytes(did_key_public(made["signed_by"]))
    public.verify(base64.urlsafe_b64decode(made["signature"] + "=="), message.encode())

    for event in events:
        proof = client.get_merkle_proof(checkpoint.checkpoint_id, event.id)
        assert proof.event_hash == event.event_hash and proof.merkle_root == checkpoint.merkle_root
        assert proof.verify() is True
        forged = proof.proof_hashes[:]
        if forged:
            forged[0] = MerkleProofEntry(hash=event.event_hash, position=forged[0].position)
            proof.proof_hashes = forged
            assert proof.verify() is False
    with pytest.raises(NotFoundError):
        client.get_merkle_proof(checkpoint.checkpoint_id, "oev_not_sealed")
    nothing_new = raw.post("/api/v1/admin/checkpoints", json={"intent_id": intent.id}, headers=AS_ADMIN)
    assert nothing_new.status_code == 409, nothing_new.text


def test_consecutive_checkpoints_are_consistent(client, raw):
    intent = with_events(client, 2)
    first = seal(raw, intent.id)
    intent = client.get_intent(intent.id)
    for n in range(3):
        intent = client.update_state(intent.id, intent.version, {"later": n})
    second = seal(raw, intent.id)
    proof = client.verify_consistency(first["checkpoint_id"], second["checkpoint_id"])
    assert proof.consistent is True
    assert proof.boundary_event["sequence"] == second["first_sequence"]
    events = client.get_events(intent.id)
    sealed_last = next(e for e in events if e.sequence == first["last_sequence"])
    assert proof.boundary_event["previous_event_hash"] == sealed_last.event_hash
    backwards = client.verify_consistency(second["checkpoint_id"], first["checkpoint_id"])
    assert backwards.consistent is False
    assert client.verify_event_chain(intent.id).valid is True


def test_checkpoints_stay_in_their_tenant(client, raw, other_tenant_client):
    intent = with_events(client, 1)
    made = seal(raw, intent.id)
    with pytest.raises(NotFoundError):
        other_tenant_client.get_checkpoint(made["checkpoint_id"])
    assert other_tenant_client.list_checkpoints() == [] or all(
        c.checkpoint_id != made["checkpoint_id"] for c in other_tenant_client.list_checkpoints()
    )
    refused = raw.post("/api/v1/admin/checkpoints", json={"intent_id": intent.id})
    assert refused.status_code == 403, refused.text
