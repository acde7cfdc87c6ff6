"""RFC-0018 through the SDK: an agent registers its Ed25519 key by signing the server's
challenge, is known by the key's did:key, has signatures over canonical JSON verified, and
rotates its key only with a request signed by the old one."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from openintent import AsyncOpenIntentClient
from openintent.exceptions import ConflictError, NotFoundError, OpenIntentError

from conftest import ADMIN_KEY, CLIENT_TIMEOUT_S
from sdkhelpers import py310_instant, unique

AS_ADMIN = {"X-API-Key": ADMIN_KEY, "X-Agent-ID": "dev-user"}
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_text(key: Ed25519PrivateKey) -> str:
    return "ed25519:" + b64url(raw_public(key))


def did_key(key: Ed25519PrivateKey) -> str:
    """did:key as the method defines it: base58btc of 0xed 0x01 and the key, after `z`."""
    data = b"\xed\x01" + raw_public(key)
    number, text = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58[digit] + text
    return "did:key:z" + text


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def registered(client, agent: str):
    key = Ed25519PrivateKey.generate()
    challenge = client.register_identity(agent, public_text(key))
    identity = client.complete_identity_challenge(
        agent, challenge.challenge, b64url(key.sign(challenge.challenge.encode()))
    )
    return key, identity


def test_an_agent_registers_its_key_by_signing_the_challenge(admin_client, raw):
    agent = unique("signer")
    key = Ed25519PrivateKey.generate()
    challenge = admin_client.register_identity(agent, public_text(key))
    assert len(base64.urlsafe_b64decode(challenge.challenge + "==")) == 32
    assert challenge.challenge_expires_at is not None
    identity = admin_client.complete_identity_challenge(
        agent, challenge.challenge, b64url(key.sign(challenge.challenge.encode()))
    )
    assert identity.agent_id == agent and identity.public_key == public_text(key)
    assert identity.did == did_key(key) and identity.key_algorithm == "Ed25519"
    assert identity.previous_keys == [] and identity.registered_at is not None
    fetched = admin_client.get_identity(agent)
    assert fetched.did == identity.did and fetched.public_key == identity.public_key
    with pytest.raises(ConflictError):
        admin_client.register_identity(agent, public_text(Ed25519PrivateKey.generate()))
    replayed = raw.post(
        f"/api/v1/agents/{agent}/identity/challenge",
        json={"challenge": challenge.challenge, "signature": b64url(key.sign(b"x"))},
        headers=AS_ADMIN,
    )
    assert replayed.status_code == 409, replayed.text


def test_a_wrong_signature_registers_nothing(admin_client, raw):
    agent = unique("impostor")
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    challenge = admin_client.register_identity(agent, public_text(key))
    with pytest.raises(OpenIntentError) as refused:
        admin_client.complete_identity_challenge(
            agent, challenge.challenge, b64url(stranger.sign(challenge.challenge.encode()))
        )
    assert "403" in str(refused.value) or getattr(refused.value, "status_code", 403) == 403
    wrong_challenge = raw.post(
        f"/api/v1/agents/{agent}/identity/challenge",
        json={"challenge": b64url(b"\0" * 32), "signature": b64url(key.sign(b"\0" * 32))},
        headers=AS_ADMIN,
    )
    assert wrong_challenge.status_code == 403, wrong_challenge.text
    with pytest.raises(NotFoundError):
        admin_client.get_identity(agent)
    # The right signature still completes the (unexpired) challenge.
    identity = admin_client.complete_identity_challenge(
        agent, challenge.challenge, b64url(key.sign(challenge.challenge.encode()))
    )
    assert identity.did == did_key(key)
    malformed = raw.post(
        f"/api/v1/agents/{unique('malformed')}/identity",
        json={"public_key": "ed25519:short"},
        headers=AS_ADMIN,
    )
    assert malformed.status_code == 400, malformed.text
    # Only the agent itself registers its key.
    foreign = raw.post(f"/api/v1/agents/{agent}/identity", json={"public_key": public_text(key)})
    assert foreign.status_code == 403, foreign.text


def test_signatures_over_canonical_json_verify_with_the_current_key(admin_client):
    agent = unique("verifier")
    key, identity = registered(admin_client, agent)
    payload = {"intent_id": "oin_1", "action": "publish", "amount": 12, "note": "café"}
    check = admin_client.verify_signature(agent, payload, b64url(key.sign(canonical(payload))))
    assert check.valid is True and check.did == identity.did and check.verified_at is not None
    altered = dict(payload, amount=13)
    assert admin_client.verify_signature(agent, altered, b64url(key.sign(canonical(payload)))).valid is False
    with pytest.raises(NotFoundError):
        admin_client.verify_signature(unique("nobody"), payload, b64url(key.sign(canonical(payload))))


def test_a_key_rotates_only_on_a_request_signed_by_the_old_key(admin_client):
    agent = unique("rotor")
    old, identity = registered(admin_client, agent)
    new = Ed25519PrivateKey.generate()
    statement = {
        "action": "rotate",
        "new_public_key": public_text(new),
        "old_public_key": public_text(old),
    }
    with pytest.raises(OpenIntentError):
        admin_client.rotate_key(agent, public_text(new), public_text(old), b64url(new.sign(canonical(statement))))
    rotated = admin_client.rotate_key(
        agent, public_text(new), public_text(old), b64url(old.sign(canonical(statement)))
    )
    assert rotated.public_key == public_text(new) and rotated.previous_keys == [public_text(old)]
    assert rotated.did == did_key(new) != identity.did
    payload = {"n": 1}
    assert admin_client.verify_signature(agent, payload, b64url(new.sign(canonical(payload)))).valid
    assert not admin_client.verify_signature(agent, payload, b64url(old.sign(canonical(payload)))).valid
    # The old key no longer rotates anything.
    again = {**statement, "new_public_key": public_text(Ed25519PrivateKey.generate())}
    with pytest.raises(OpenIntentError):
        admin_client.rotate_key(agent, again["new_public_key"], public_text(old), b64url(old.sign(canonical(again))))


def test_only_the_agent_registers_its_own_key_and_tenants_stay_apart(client, client2, other_tenant_client):
    key = Ed25519PrivateKey.generate()
    with pytest.raises(OpenIntentError):
        client2.register_identity(client.agent_id, public_text(key))
    agent = client.agent_id
    try:
        _, identity = registered(client, agent)
    except ConflictError:
        identity = client.get_identity(agent)
    assert client2.get_identity(agent).did == identity.did
    with pytest.raises(NotFoundError):
        other_tenant_client.get_identity(agent)


@pytest.mark.asyncio
async def test_the_async_client_registers_and_verifies(base_url):
    async with AsyncOpenIntentClient(
        base_url=base_url, api_key=ADMIN_KEY, agent_id="dev-user", timeout=CLIENT_TIMEOUT_S
    ) as admin:
        agent = unique("async-signer")
        key = Ed25519PrivateKey.generate()
        challenge = await admin.register_identity(agent, public_text(key))
        identity = await admin.complete_identity_challenge(
            agent, challenge.challenge, b64url(key.sign(challenge.challenge.encode()))
        )
        assert identity.did == did_key(key)
        assert py310_instant(identity.registered_at.isoformat())
        payload = {"ok": True}
        check = await admin.verify_signature(agent, payload, b64url(key.sign(canonical(payload))))
        assert check.valid is True
