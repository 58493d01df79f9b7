"""Cross-channel KPIs over lifecycle events and timeline entries. Pure: the caller reads them.

Definitions (per channel and queue, per channel, and overall; a contact counts in the period it arrived in,
under its channel and the queue it ended in):

- **contacts**: contacts that arrived; **handled**: those completed by an agent; **abandoned**: left first.
- **repeat rate**: share of contacts (with a known customer) that arrived within ``fcr_days`` after an
  earlier contact of the same customer, on any channel (earlier ones before the period count).
- **FCR**: share of handled contacts (with a known customer) with no later contact by the same customer
  within ``fcr_days`` of their arrival, on any channel (contacts after the period count).
- **CSAT**: share of 1-5 survey answers that are 4 or 5 (and their mean), by the answered contact.
- **AHT**: answer to the end of wrap-up (``contact.done``; completion when there is no done event).
- **ASA**: arrival to answer (speed of answer), for answered contacts.
- **response**: on messaging, seconds from a customer's message (the first of those not yet answered) to
  the agent's next message in the same contact, averaged over replies.
"""

from __future__ import annotations

import csv
import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import IO

from customers.timeline import Entry, EntryKind
from router.events import Event, EventType

DAY = 86400.0
ALL = "*"


@dataclass(slots=True)
class ContactFacts:
    """One contact's lifecycle, gathered from its events."""

    id: str
    customer: str = ""
    channel: str = ""
    queue: str = ""
    arrived: float | None = None
    answered: float | None = None
    completed: float | None = None
    done: float | None = None
    abandoned: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiRow:
    channel: str  # "*" for every channel
    queue: str  # "*" for every queue
    contacts: int
    handled: int
    abandoned: int
    repeat_rate: float | None  # 0-1
    fcr: float | None  # 0-1
    csat: float | None  # 0-1: answers of 4 or 5
    csat_mean: float | None
    surveys: int
    aht: float | None  # seconds
    asa: float | None  # seconds
    response: float | None  # seconds


def contact_facts(events: Iterable[Event]) -> dict[str, ContactFacts]:
    """Each contact's arrival, answer, completion, end and abandonment, from its events."""
    out: dict[str, ContactFacts] = {}
    for e in events:
        add_fact(out, e)
    return out


def add_fact(facts: dict[str, ContactFacts], e: Event) -> None:
    """Fold one event into ``facts`` (for callers that follow the stream as it grows)."""
    if not e.contact or "id" not in e.contact:
        return
    c = facts.setdefault(e.contact["id"], ContactFacts(e.contact["id"]))
    c.customer = e.contact.get("customer") or c.customer
    c.channel = e.contact.get("channel") or c.channel
    c.queue = e.contact.get("queue") or c.queue
    if e.type == EventType.CONTACT_ARRIVED:
        c.arrived = e.at
    elif e.type == EventType.CONTACT_ACCEPTED and c.answered is None:
        c.answered = e.at
    elif e.type == EventType.CONTACT_COMPLETED:
        c.completed = e.at
    elif e.type == EventType.CONTACT_DONE:
        c.done = e.at
    elif e.type == EventType.CONTACT_ABANDONED:
        c.abandoned = e.at


def _repeats(facts: dict[str, ContactFacts], window: float) -> tuple[set[str], set[str]]:
    """(contacts that repeat an earlier one, contacts followed by a repeat), within ``window`` seconds."""
    by_customer: dict[str, list[ContactFacts]] = defaultdict(list)
    for c in facts.values():
        if c.customer and c.arrived is not None:
            by_customer[c.customer].append(c)
    repeat, followed = set(), set()
    for contacts in by_customer.values():
        contacts.sort(key=lambda c: c.arrived)
        for earlier, later in itertools.pairwise(contacts):
            if later.arrived - earlier.arrived <= window and later.arrived > earlier.arrived:
                repeat.add(later.id)
                followed.add(earlier.id)
    return repeat, followed


def _responses(entries: Iterable[Entry]) -> dict[str, list[float]]:
    """Reply times per contact, from its messages."""
    by_contact: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        if e.kind == EntryKind.MESSAGE and e.contact:
            by_contact[e.contact].append(e)
    out: dict[str, list[float]] = {}
    for contact, messages in by_contact.items():
        waiting_since: float | None = None
        gaps = []
        for m in sorted(messages, key=lambda m: m.at):
            who = m.data.get("who")
            if who == "customer" and waiting_since is None:
                waiting_since = m.at
            elif who == "agent" and waiting_since is not None:
                gaps.append(m.at - waiting_since)
                waiting_since = None
        out[contact] = gaps
    return out


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def build_report(
    events: Iterable[Event], entries: Iterable[Entry], start: float, end: float, fcr_days: int
) -> list[KpiRow]:
    """KPI rows for contacts arriving in ``[start, end)``: per (channel, queue), per channel, and overall.

    ``events`` should reach back ``fcr_days`` before ``start`` and forward ``fcr_days`` after ``end`` so
    repeats across the edges of the period count.
    """
    return report_from_facts(contact_facts(events), entries, start, end, fcr_days)


def report_from_facts(
    facts: dict[str, ContactFacts], entries: Iterable[Entry], start: float, end: float, fcr_days: int
) -> list[KpiRow]:
    """:func:`build_report` on contact facts gathered already (see :func:`add_fact`)."""
    entries = list(entries)
    repeat, followed = _repeats(facts, fcr_days * DAY)
    responses = _responses(entries)
    groups: dict[tuple[str, str], list[ContactFacts]] = defaultdict(list)
    for c in facts.values():
        if c.arrived is not None and start <= c.arrived < end:
            for key in ((c.channel, c.queue), (c.channel, ALL), (ALL, ALL)):
                groups[key].append(c)
    scores: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in entries:
        if e.kind != EntryKind.SURVEY or not start <= e.at < end:
            continue
        c = facts.get(e.contact)
        channel, queue = (c.channel, c.queue) if c else (e.channel, "")
        for key in ((channel, queue), (channel, ALL), (ALL, ALL)):
            scores[key].append(int(e.data["score"]))
    rows = []
    for key in sorted(set(groups) | set(scores), key=lambda k: (k[0] == ALL, k[0], k[1] == ALL, k[1])):
        contacts = groups.get(key, [])
        known = [c for c in contacts if c.customer]
        handled = [c for c in contacts if c.completed is not None]
        handled_known = [c for c in handled if c.customer]
        answered = [c for c in contacts if c.answered is not None]
        s = scores.get(key, [])
        gaps = [g for c in contacts for g in responses.get(c.id, [])]
        rows.append(
            KpiRow(
                channel=key[0],
                queue=key[1],
                contacts=len(contacts),
                handled=len(handled),
                abandoned=sum(1 for c in contacts if c.abandoned is not None),
                repeat_rate=_share(sum(1 for c in known if c.id in repeat), len(known)),
                fcr=_share(sum(1 for c in handled_known if c.id not in followed), len(handled_known)),
                csat=_share(sum(1 for x in s if x >= 4), len(s)),
                csat_mean=_mean([float(x) for x in s]),
                surveys=len(s),
                aht=_mean([(c.done or c.completed) - c.answered for c in handled if c.answered is not None]),
                asa=_mean([c.answered - c.arrived for c in answered]),
                response=_mean(gaps),
            )
        )
    return rows


COLUMNS = [f.name for f in fields(KpiRow)]


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name in ("repeat_rate", "fcr", "csat"):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def format_table(rows: list[KpiRow]) -> str:
    """The rows as an aligned text table (percentages, seconds with one decimal, '' for no data)."""
    table = [COLUMNS] + [[_cell(n, getattr(r, n)) for n in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table)


def write_csv(rows: list[KpiRow], out: IO[str]) -> None:
    """The rows as CSV: rates as fractions (0-1), times in seconds, empty for no data."""
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(["" if getattr(r, n) is None else getattr(r, n) for n in COLUMNS])
