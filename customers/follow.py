"""Timelines from the router's event stream: each contact's start, transfers, disposition, wrap-up note
and end go to its customer's timeline, with channel, agent and time.

:func:`entries_for` is pure. :func:`follow` reads the stream from a position and applies each event; the
store skips what a profile already has (per-profile stream position), so a follower that restarts from an
older position, or several followers each reading the whole stream in order, add each entry once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from customers.store import CustomerError, CustomerStore
from customers.timeline import Entry, EntryKind
from router.events import Event, EventType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Derived:
    entry: Entry
    queue: str = ""
    skills: str = ""


TIMELINE_EVENTS = frozenset(
    {EventType.CONTACT_ARRIVED, EventType.CONTACT_TRANSFERRED, EventType.CONTACT_COMPLETED, EventType.CONTACT_ABANDONED}
)  # the only events that make timeline entries


def entries_for(event: Event) -> list[Derived]:
    """The timeline entries one lifecycle event makes (none for events of contacts without a customer)."""
    c = event.contact or {}
    if not c.get("customer"):
        return []
    base = {"at": event.at, "channel": c.get("channel", ""), "contact": c.get("id", "")}
    agent = (event.agent or {}).get("id", "") or c.get("agent", "")
    x = event.extra
    if event.type == EventType.CONTACT_ARRIVED:
        data = {"queue": c.get("queue", ""), "skills": c.get("skills", "")}
        return [Derived(Entry(kind=EntryKind.CONTACT_STARTED, data=data, **base), c.get("queue", ""),
                        c.get("skills", ""))]
    if event.type == EventType.CONTACT_TRANSFERRED:
        data = {"from_queue": x.get("from_queue", ""), "to_queue": c.get("queue", "")}
        return [Derived(Entry(kind=EntryKind.TRANSFER, agent=agent, data=data, **base))]
    if event.type == EventType.CONTACT_COMPLETED:
        out = []
        if x.get("transfer_to"):  # a call the agent sent out of the center, to a SIP URI
            data = {"from_queue": c.get("queue", ""), "to_uri": x["transfer_to"]}
            out.append(Derived(Entry(kind=EntryKind.TRANSFER, agent=agent, data=data, **base)))
        if x.get("disposition"):
            out.append(Derived(Entry(kind=EntryKind.DISPOSITION, agent=agent, data={"code": x["disposition"]}, **base)))
        if x.get("note"):
            out.append(Derived(Entry(kind=EntryKind.NOTE, agent=agent, data={"text": x["note"]}, **base)))
        out.append(Derived(Entry(kind=EntryKind.CONTACT_ENDED, agent=agent, data={"outcome": "completed"}, **base)))
        return out
    if event.type == EventType.CONTACT_ABANDONED:
        data = {"outcome": "abandoned", "reason": x.get("reason", "")}
        return [Derived(Entry(kind=EntryKind.CONTACT_ENDED, data=data, **base))]
    return []


async def apply(store: CustomerStore, event: Event) -> None:
    """Add the event's entries to its customer's timeline (those it already has are skipped)."""
    for n, d in enumerate(entries_for(event)):
        try:
            await store.append(event.contact["customer"], d.entry, queue=d.queue, skills=d.skills,
                               source=f"{event.id}-{n}")
        except CustomerError as e:
            log.info("event %s: customer %s skipped (%s)", event.id, event.contact["customer"], e.code)
            return


async def follow(store: CustomerStore, after: str = "0", *, block_ms: int | None = None, count: int = 1000) -> str:
    """Apply the events after stream position ``after`` (one batch, waiting up to ``block_ms`` for one);
    returns the position to continue from. Call it in a loop from the server."""
    reply = await store.client.xread({store.keys.events: after}, count=count, block=block_ms)
    for _, entries in reply or []:
        for entry_id, fields in entries:
            await apply(store, Event.from_entry(entry_id, fields))
            after = entry_id
    return after
