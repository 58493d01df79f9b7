"""The router's events for the IVR workers: one reader per pool, each event published to the worker it is for.

A worker acts on a few event types about the contacts of its own callers (an agent accepted, the contact
was transferred, requeued, completed, overflowed or abandoned by the router). When every worker tailed the
whole stream, each event (of every channel) woke every worker: at 20 calls/s on 100 workers that was more CPU
than the calls themselves (docs/telephony.md, Performance). Instead the pool reads the stream once
(:func:`forward`) and publishes an event only on the channel of the worker it concerns
(``or:{t}:tel:worker:<id>:events``, Redis pub/sub: nothing is stored), found from the contact's ``worker``
attribute; a worker reads its channel with :func:`follow`. Two kinds go to every worker of the pool: an
accepted callback contact (any worker with a free place may ring the customer), and, when the IVR announces
waits, every accepted and completed contact (each worker keeps the handle times it announces from).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Collection

from redis.exceptions import RedisError

from router.events import Event, EventType
from router.store import RedisStore

log = logging.getLogger(__name__)

FOR_WORKERS = frozenset(
    {
        EventType.CONTACT_ACCEPTED,
        EventType.CONTACT_OVERFLOWED,
        EventType.CONTACT_ABANDONED,
        EventType.CONTACT_TRANSFERRED,
        EventType.CONTACT_REQUEUED,
        EventType.CONTACT_COMPLETED,
    }
)
_TYPES = frozenset(str(t) for t in FOR_WORKERS)
HANDLE_TIMES = frozenset({EventType.CONTACT_ACCEPTED, EventType.CONTACT_COMPLETED})


def channel(prefix: str, wid: str) -> str:
    """The pub/sub channel of worker ``wid``."""
    return f"{prefix}tel:worker:{wid}:events"


def targets(event: Event, workers: Collection[str], *, callbacks: bool, handle_times: bool) -> Collection[str]:
    """The workers (of ``workers``) that ``event`` is for."""
    contact = event.contact or {}
    try:
        attrs = json.loads(contact.get("attrs") or "{}")
    except ValueError:
        attrs = {}
    if not isinstance(attrs, dict):
        attrs = {}
    if handle_times and event.type in HANDLE_TIMES:
        return workers
    if callbacks and event.type == EventType.CONTACT_ACCEPTED and attrs.get("callback"):
        return workers
    holder = attrs.get("worker")
    return (holder,) if holder in workers else ()


async def forward(
    store: RedisStore, workers: Collection[str], *, callbacks: bool, handle_times: bool, block_ms: int = 1000
) -> None:
    """Read the event stream from now on and publish each event to the workers it is for (until cancelled)."""
    last = await store.last_event_id()
    prefix = store.keys.prefix
    while True:
        try:
            entries = await store.read_entries(last, block_ms=block_ms)
        except (ConnectionError, OSError, RedisError) as exc:  # Redis restarting: read on from the last id
            log.warning("telephony: event stream lost (%s); reading on", exc)
            await asyncio.sleep(0.5)
            continue
        for entry_id, fields in entries:
            last = entry_id
            if fields.get("type") not in _TYPES:  # most events: no JSON parsed
                continue
            event = Event.from_entry(entry_id, fields)
            payload = None
            for wid in targets(event, workers, callbacks=callbacks, handle_times=handle_times):
                payload = payload or json.dumps({"id": entry_id, "fields": fields})
                await store.client.publish(channel(prefix, wid), payload)


async def follow(store: RedisStore, wid: str) -> AsyncIterator[Event]:
    """The events the pool publishes for worker ``wid``, from the subscription on."""
    pubsub = store.client.pubsub()
    try:
        await pubsub.subscribe(channel(store.keys.prefix, wid))
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message.get("type") != "message":
                continue
            data = json.loads(message["data"])
            yield Event.from_entry(data["id"], data["fields"])
    finally:
        await pubsub.aclose()
