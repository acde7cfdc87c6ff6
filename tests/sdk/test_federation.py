"""RFC-0022: this server does not federate; it says so and refuses every dispatch, checking
the peer address like any outbound target first. Only IP literals are named (no lookups)."""

from __future__ import annotations

import pytest
from openintent.exceptions import NotFoundError, OpenIntentError, ValidationError

from sdkhelpers import new_intent


def test_status_is_disabled(client):
    status = client.federation_status()
    assert status.enabled is False
    assert status.peer_count == 0 and status.total_dispatches == 0


def test_dispatch_is_refused_and_unsafe_peers_are_400(client, other_tenant_client):
    intent = new_intent(client)
    for unsafe in ("file:///etc/passwd", "http://user:secret@203.0.113.10", "gopher://203.0.113.10"):
        with pytest.raises(ValidationError):
            client.federation_dispatch(intent.id, unsafe)
    with pytest.raises(ValidationError):
        client.federation_dispatch(intent.id, "https://203.0.113.10", callback_url="ftp://203.0.113.11")
    with pytest.raises(OpenIntentError) as refused:
        client.federation_dispatch(intent.id, "https://203.0.113.10")
    assert refused.value.status_code == 403
    assert "disabled" in str(refused.value.response)
    with pytest.raises(NotFoundError):
        other_tenant_client.federation_dispatch(intent.id, "https://203.0.113.10")
