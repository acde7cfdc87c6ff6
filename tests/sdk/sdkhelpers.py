"""Small helpers shared by the SDK test modules."""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from datetime import timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from openintent import OpenIntentClient
from openintent.models import EventType, Intent, IntentStatus
from openintent.streaming import SSEEvent, SSEStream

SSE_TIMEOUT_S = 10.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_intent(client: OpenIntentClient, **kwargs: Any) -> Intent:
    kwargs.setdefault("title", unique("intent"))
    return client.create_intent(**kwargs)


def set_statuses(client: OpenIntentClient, intent: Intent, *statuses: IntentStatus) -> Intent:
    """Walks an intent through `statuses` with the right version each time."""
    for status in statuses:
        updated = client.set_status(intent.id, intent.version, status)
        assert updated.status == status
        assert updated.version == intent.version + 1
        intent = updated
    return intent


def complete(client: OpenIntentClient, intent: Intent) -> Intent:
    return set_statuses(client, intent, IntentStatus.ACTIVE, IntentStatus.COMPLETED)


def ids(items: Iterable[Any]) -> list[str]:
    return [item.id for item in items]


def event_types(client: OpenIntentClient, intent_id: str) -> list[str]:
    return [e.event_type.value for e in client.get_events(intent_id, limit=1000)]


def all_intents(client: OpenIntentClient, status: Optional[IntentStatus] = None) -> list[Intent]:
    """Every intent visible to `client`, page by page (50 a page)."""
    found: list[Intent] = []
    offset = 0
    while True:
        page = client.list_intents(status=status, limit=50, offset=offset)
        assert len(page) <= 50
        found.extend(page)
        if len(page) < 50:
            return found
        offset += 50
        assert offset < 100_000, "list_intents never ends"


def mentions_key(value: Any, key: str) -> bool:
    """Whether `key` appears in a JSON value as an object key or as a patch path (`b`, `/b`)."""
    if isinstance(value, dict):
        if key in value:
            return True
        path = value.get("path")
        if isinstance(path, str) and path.lstrip("/").split("/")[0] == key:
            return True
        return any(mentions_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(mentions_key(v, key) for v in value)
    return False


# What Python 3.10's datetime.fromisoformat reads (the oldest Python the SDK supports): no
# trailing `Z`, and 3 or 6 fractional digits.
PY310_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?\+00:00$")


def py310_instant(text: str) -> bool:
    return isinstance(text, str) and PY310_INSTANT.match(text) is not None


def is_utc(moment) -> bool:
    return moment is not None and moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def utc(moment):
    return moment.astimezone(timezone.utc)


class SSECollector:
    """Reads an SDK SSEStream in a daemon thread and queues what arrives."""

    def __init__(self, stream: SSEStream):
        self.stream = stream
        # One reconnect attempt at most, and quickly: a test never relies on reconnection.
        self.stream.max_reconnects = 0
        self.stream.reconnect_delay = 0.1
        self.events: "queue.Queue[SSEEvent]" = queue.Queue()
        self.seen: list[SSEEvent] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="sse-collector")

    def _run(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
                if event.type == "error":
                    break
        except BaseException as error:  # noqa: BLE001 - reported through the queue
            self.events.put(SSEEvent(type="exception", data={"error": repr(error)}))

    def __enter__(self) -> "SSECollector":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stream._running = False
        self.stream.stop()

    def wait_for(
        self, predicate: Callable[[SSEEvent], bool], what: str, timeout: float = SSE_TIMEOUT_S
    ) -> SSEEvent:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no SSE event {what} within {timeout:.0f} s; received: "
                    + repr([(e.type, e.id, e.data) for e in self.seen])
                )
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event.type in ("error", "exception"):
                raise AssertionError(f"SSE stream failed while waiting {what}: {event.data}")
            if predicate(event):
                return event

    def wait_connected(self) -> SSEEvent:
        """The first event must be `connected`, without an id."""
        event = self.wait_for(lambda e: True, "(the first one)")
        assert event.type == "connected", (
            f"first SSE event is {event.type!r} ({event.data}), expected 'connected'"
        )
        assert event.id is None, f"the connected event carries an id: {event.id!r}"
        return event


def is_data_event(event: SSEEvent) -> bool:
    return event.type not in ("connected", "keepalive", "ping", "error", "exception")


__all__ = [
    "EventType",
    "IntentStatus",
    "SSECollector",
    "all_intents",
    "complete",
    "event_types",
    "ids",
    "is_data_event",
    "is_utc",
    "mentions_key",
    "new_intent",
    "set_statuses",
    "unique",
    "utc",
]
