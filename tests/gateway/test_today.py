"""Today's KPIs kept up to date event by event give the all-channels row of the report over the same facts."""

from __future__ import annotations

import random

from customers.report import ALL, report_from_facts
from router.events import Event, EventType
from router.gateway.today import TodaysContacts, day_start

DAY = day_start(1_795_400_000.0)
KINDS = [
    EventType.CONTACT_ARRIVED,
    EventType.CONTACT_OFFERED,
    EventType.CONTACT_ACCEPTED,
    EventType.CONTACT_COMPLETED,
    EventType.CONTACT_DONE,
    EventType.CONTACT_ABANDONED,
    EventType.CONTACT_TRANSFERRED,
]


def _events(rng: random.Random, n: int) -> list[Event]:
    """Events of a few dozen contacts of a handful of customers, in any order, some arrivals at the same
    instant, customers found out after the arrival, a contact's customer changing (a merge)."""
    out = []
    for i in range(n):
        cid = f"c{rng.randrange(40)}"
        customer = rng.choice(["", "", "ana", "bob", "cid", "dee"])
        at = DAY + rng.choice([10.0, 20.0, 20.0, 30.0]) + rng.randrange(3) * 3600
        kind = rng.choice(KINDS)
        contact = {"id": cid, "customer": customer, "channel": rng.choice(["chat", "voice"]), "queue": "sales"}
        out.append(Event(id=f"{i + 1}-0", type=kind, at=at, contact=contact))
    return out


def test_the_figures_follow_the_report_event_by_event() -> None:
    for seed in range(200):
        rng = random.Random(seed)
        today = TodaysContacts()
        today.observe(Event(id="0-1", type=EventType.AGENT_STATE_CHANGED, at=DAY + 1, agent={"id": "a1"}))
        for event in _events(rng, rng.randrange(1, 120)):
            today.observe(event)
            [row] = [
                r
                for r in report_from_facts(today.facts, [], DAY, DAY + 86400, 7)
                if (r.channel, r.queue) == (ALL, ALL)
            ] or [None]
            got = (
                today.contacts,
                today.handled,
                (today.handled_known - today.followed) / today.handled_known if today.handled_known else None,
                today.repeats / today.known if today.known else None,
            )
            want = (row.contacts, row.handled, row.fcr, row.repeat_rate) if row else (0, 0, None, None)
            assert got == want, (seed, event)
