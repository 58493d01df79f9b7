"""Today's cross-channel KPIs for the wallboard and ``/metrics``: CSAT and first-contact resolution.

CSAT comes from per-day survey counters (``or:{tenant}:kpi:<UTC day>``, kept 8 days) that
:meth:`Gateway.record_survey` bumps; FCR, repeat rate and handled contacts from today's contacts, folded in
as the gateway follows the event stream (:class:`TodaysContacts`; today's events are read once at start),
through :func:`customers.report.report_from_facts`, the code behind ``omniroute report``. Today's FCR is
provisional: a contact counts as resolved until its customer comes back within ``customers.fcr_days``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from customers.report import ALL, ContactFacts, add_fact, report_from_facts
from router.events import Event

if TYPE_CHECKING:
    from router.gateway.server import Gateway

KEEP = 8 * 86400


def day_start(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()


def kpi_key(gw: Gateway, now: float) -> str:
    return f"{gw.store.keys.prefix}kpi:{datetime.fromtimestamp(now, UTC):%Y-%m-%d}"


async def count_survey(gw: Gateway, score: int, now: float) -> None:
    key = kpi_key(gw, now)
    pipe = gw.store.client.pipeline(transaction=True)
    pipe.hincrby(key, "surveys", 1)
    pipe.hincrby(key, "satisfied", 1 if score >= 4 else 0)
    pipe.hincrby(key, "score_sum", score)
    pipe.expire(key, KEEP)
    await pipe.execute()


class TodaysContacts:
    """The facts of the contacts that arrived today (UTC), kept up to date from the event stream."""

    def __init__(self) -> None:
        self.day = 0.0
        self.facts: dict[str, ContactFacts] = {}

    async def load(self, gw: Gateway, now: float, until: str) -> None:
        """Read today's events up to stream id ``until`` once (in chunks), when the process starts."""
        self.day, self.facts = day_start(now), {}
        after = f"{int(self.day * 1000)}-0"
        while True:
            events = await gw.store.events_between(after, until, count=10_000)
            events = [e for e in events if e.id != after]
            if not events:
                return
            for event in events:
                self.observe(event)
            after = events[-1].id

    def observe(self, event: Event) -> None:
        day = day_start(event.at)
        if day > self.day:  # a new day: yesterday's contacts no longer count
            self.day, self.facts = day, {}
        add_fact(self.facts, event)


async def todays_kpis(gw: Gateway, now: float) -> dict[str, Any]:
    counters = await gw.store.client.hgetall(kpi_key(gw, now))
    surveys = int(counters.get("surveys", 0))
    start = day_start(now)
    # O(contacts today): in a thread, on a copy, so the event loop runs between its slices of the GIL
    # (at 500 contacts/s it was a stall of 100 ms and more every 2 s, growing through the day)
    facts = dict(gw.contacts_today.facts)
    rows = await asyncio.to_thread(report_from_facts, facts, [], start, now + 1, gw.profiles.config.fcr_days)
    overall = next((r for r in rows if r.channel == ALL and r.queue == ALL), None)
    return {
        "surveys": surveys,
        "csat": int(counters.get("satisfied", 0)) / surveys if surveys else None,
        "csat_mean": int(counters.get("score_sum", 0)) / surveys if surveys else None,
        "contacts": overall.contacts if overall else 0,
        "handled": overall.handled if overall else 0,
        "fcr": overall.fcr if overall else None,
        "repeat_rate": overall.repeat_rate if overall else None,
    }
