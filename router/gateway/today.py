"""Today's cross-channel KPIs for the wallboard and ``/metrics``: CSAT and first-contact resolution.

CSAT comes from per-day survey counters (``or:{tenant}:kpi:<UTC day>``, kept 8 days) that
:meth:`Gateway.record_survey` bumps; FCR, repeat rate and handled contacts from today's contacts, folded in
as the gateway follows the event stream (:class:`TodaysContacts`; today's events are read once at start).
They are the figures of the report's all-channels row (:func:`customers.report.report_from_facts`, the code
behind ``omniroute report``), kept up to date as each event comes instead of recomputed over the day's
contacts: an event that changes a contact's arrival, completion or customer re-pairs only that customer's
contacts. Today's FCR is provisional: a contact counts as resolved until its customer comes back within
``customers.fcr_days`` (at least a day, so any later contact today of the same customer is a repeat).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from customers.report import ContactFacts, add_fact
from router.events import Event, EventType

if TYPE_CHECKING:
    from router.gateway.server import Gateway

KEEP = 8 * 86400
_CHANGING = (EventType.CONTACT_ARRIVED, EventType.CONTACT_COMPLETED)  # the events add_fact's figures move on


def day_start(now: float) -> float:
    """The start of ``now``'s UTC day (epoch seconds: a POSIX day is 86,400 of them)."""
    return now // 86400 * 86400.0


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
    """The facts of the contacts that arrived today (UTC), kept up to date from the event stream, and the
    figures of today's KPIs over them (see the module docstring)."""

    def __init__(self) -> None:
        self.day = 0.0
        self.facts: dict[str, ContactFacts] = {}
        self._reset(0.0)

    def _reset(self, day: float) -> None:
        self.day, self.facts = day, {}
        self._order: dict[str, int] = {}  # contact id -> when its facts began (ties in arrival keep it)
        self.contacts = 0  # arrived today
        self.handled = 0  # of those, completed
        self.known = 0  # of those, with a customer
        self.handled_known = 0  # handled, with a customer
        self.repeats = 0  # known contacts that repeat an earlier one of their customer
        self.followed = 0  # handled known contacts followed by a repeat
        self._by_customer: dict[str, list[ContactFacts]] = {}  # of contacts that arrived, with a customer
        self._repeat: set[str] = set()
        self._followed: set[str] = set()

    async def load(self, gw: Gateway, now: float, until: str) -> None:
        """Read today's events up to stream id ``until`` once (in chunks), when the process starts."""
        self._reset(day_start(now))
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
            self._reset(day)
        contact = event.contact
        if not contact or "id" not in contact:
            return
        cid = contact["id"]
        c = self.facts.get(cid)
        if c is not None and event.type not in _CHANGING and (contact.get("customer") or c.customer) == c.customer:
            add_fact(self.facts, event)  # its arrival, completion and customer stay: so do the figures
            return
        before = ""  # the customer whose contacts it was paired with
        if c is None:
            self._order[cid] = len(self._order)
        else:
            before = c.customer if c.arrived is not None else ""
            if before:
                self._unpair(before)
            self._count(c, -1)
        add_fact(self.facts, event)
        c = self.facts[cid]
        self._count(c, 1)
        after = c.customer if c.arrived is not None else ""
        if before and before != after:
            self._by_customer[before].remove(c)
        if after and after != before:
            self._unpair(after)
            self._by_customer.setdefault(after, []).append(c)
        for customer in {before, after} - {""}:
            self._pair(customer)

    def _count(self, c: ContactFacts, sign: int) -> None:
        if c.arrived is None or c.arrived < self.day:
            return
        handled = c.completed is not None
        self.contacts += sign
        self.handled += sign * handled
        if c.customer:
            self.known += sign
            self.handled_known += sign * handled

    def _counts(self, c: ContactFacts) -> int:
        """1 when ``c`` is among today's known contacts (the repeat rate's), else 0."""
        return int(c.arrived is not None and c.arrived >= self.day and bool(c.customer))

    def _unpair(self, customer: str) -> None:
        """Take the repeats among ``customer``'s contacts out of the figures."""
        for c in self._by_customer.get(customer, ()):
            if c.id in self._repeat:
                self._repeat.discard(c.id)
                self.repeats -= self._counts(c)
            if c.id in self._followed:
                self._followed.discard(c.id)
                self.followed -= self._counts(c) * (c.completed is not None)

    def _pair(self, customer: str) -> None:
        """Put the repeats among ``customer``'s contacts in (as report.py's ``_repeats``: in arrival order,
        a later contact repeats the one before it, which is then followed)."""
        contacts = self._by_customer.get(customer)
        if not contacts:
            self._by_customer.pop(customer, None)
            return
        order = self._order
        contacts.sort(key=lambda c: (c.arrived, order.get(c.id, 0)))
        for earlier, later in itertools.pairwise(contacts):
            if not later.arrived > earlier.arrived:
                continue
            if later.id not in self._repeat:
                self._repeat.add(later.id)
                self.repeats += self._counts(later)
            if earlier.id not in self._followed:
                self._followed.add(earlier.id)
                self.followed += self._counts(earlier) * (earlier.completed is not None)


async def todays_kpis(gw: Gateway, now: float) -> dict[str, Any]:
    counters = await gw.store.client.hgetall(kpi_key(gw, now))
    surveys = int(counters.get("surveys", 0))
    k = gw.contacts_today
    if k.day < day_start(now):  # nothing seen yet today
        k = TodaysContacts()
    return {
        "surveys": surveys,
        "csat": int(counters.get("satisfied", 0)) / surveys if surveys else None,
        "csat_mean": int(counters.get("score_sum", 0)) / surveys if surveys else None,
        "contacts": k.contacts,
        "handled": k.handled,
        "fcr": (k.handled_known - k.followed) / k.handled_known if k.handled_known else None,
        "repeat_rate": k.repeats / k.known if k.known else None,
    }
