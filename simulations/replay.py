"""Replay: a scenario from history, to ask "what if we had had 3 more agents last Monday".

Three forms, told apart by the file:

- ``*.jsonl``: the live system's event stream, as ``omniroute events export`` writes it. Each contact's
  arrival (``contact.arrived``), handle time (accepted to completed) and patience (arrived to abandoned)
  are taken as they happened; agents work from their first to their last event (breaks from ``away``).
- a CSV with a ``count`` column: arrival counts per interval, ``interval_start, count[, queue, channel,
  aht, patience]`` (the form published call-center data comes in). Arrivals are spread uniformly in
  each interval, handle times exponential with the row's ``aht`` (required), patience exponential with
  ``patience`` if given.
- any other CSV: one contact per row, ``arrived, queue, channel, handle[, patience | abandoned_after,
  id, customer]``.

Times are ISO-8601 date-times or seconds; t = 0 is the first arrival's interval start. Every bad row
raises :class:`~router.errors.ConfigError` naming the file and the line.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from router.config.loader import read_text
from router.config.model import Config
from router.errors import ConfigError, ConfigProblem
from router.events import Event, EventType
from simulations.distributions import exponential
from simulations.model import Arrival, Break, Shift
from simulations.scenario import Scenario, Stream, quantise
from skills.model import decode

INTERVAL = 1800.0
CONTACT_COLUMNS = ("arrived", "queue", "channel", "handle")
COUNT_COLUMNS = ("interval_start", "count")


def scenario_from_replay(path: str | Path, routing: Config, *, interval: float = INTERVAL, seed: int = 1) -> Scenario:
    """A scenario replaying the history in ``path`` on ``routing``.

    Raises:
        ConfigError: unreadable file, missing columns, or a bad row (file and line named).
    """
    source = str(path)
    text = read_text(path)
    if source.endswith(".jsonl") or text.lstrip().startswith("{"):
        return _from_events(source, text, routing, interval, seed)
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        _fail(source, 0, "the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    if "count" in header:
        return _from_counts(source, header, rows[1:], routing, interval, seed)
    return _from_contacts(source, header, rows[1:], routing, interval, seed)


def _fail(source: str, line: int, message: str) -> None:
    raise ConfigError([ConfigProblem(source, line, 1 if line else 0, "", message)])


def _columns(source: str, header: list[str], required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, int]:
    missing = [c for c in required if c not in header]
    if missing:
        _fail(source, 1, f"missing column {', '.join(missing)}; the header must name {', '.join(required)}")
    unknown = [c for c in header if c not in required + optional]
    if unknown:
        _fail(source, 1, f"unknown column {', '.join(unknown)}; allowed: {', '.join(required + optional)}")
    return {name: i for i, name in enumerate(header)}


def _time(value: str) -> float:
    """An ISO date-time (naive means UTC) or seconds, as epoch seconds or plain seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class _Row:
    """Cells of one CSV row, each read with a clear error naming file, line and column."""

    def __init__(self, source: str, line: int, cells: list[str], columns: dict[str, int]) -> None:
        self.source, self.line, self.columns = source, line, columns
        if len(cells) != len(columns):
            _fail(source, line, f"expected {len(columns)} cells, found {len(cells)}")
        self.cells = [c.strip() for c in cells]

    def text(self, name: str, default: str = "") -> str:
        return self.cells[self.columns[name]] if name in self.columns else default

    def time(self, name: str) -> float:
        value = self.text(name)
        try:
            return _time(value)
        except ValueError:
            _fail(
                self.source,
                self.line,
                f"{name}: expected a date-time (2026-03-02T08:00:00) or seconds, found {value!r}",
            )

    def seconds(self, name: str, *, positive: bool = True, empty: float | None = None) -> float:
        value = self.text(name)
        if not value and empty is not None:
            return empty
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0 or (positive and number == 0):
            what = "a positive number of seconds" if positive else "a number of seconds >= 0"
            _fail(self.source, self.line, f"{name}: expected {what}, found {value!r}")
        return number

    def count(self, name: str) -> int:
        value = self.text(name)
        if not value.isdigit():
            _fail(self.source, self.line, f"{name}: expected a whole number >= 0, found {value!r}")
        return int(value)

    def route(self, routing: Config) -> tuple[str, str]:
        """The row's queue and channel (defaults: the only queue, the queue's first channel)."""
        queue = self.text("queue")
        if not queue:
            if len(routing.queues) != 1:
                _fail(self.source, self.line, f"queue: empty, and routing has {len(routing.queues)} queues")
            queue = next(iter(routing.queues))
        if queue not in routing.queues:
            _fail(self.source, self.line, f"queue: unknown queue {queue!r}; declared: {', '.join(routing.queues)}")
        channel = self.text("channel") or routing.queues[queue].channels[0]
        if channel not in routing.queues[queue].channels:
            takes = ", ".join(routing.queues[queue].channels)
            _fail(self.source, self.line, f"channel: queue {queue!r} does not take {channel!r}; it takes {takes}")
        return queue, channel


def _rows(source: str, rows: list[list[str]], columns: dict[str, int]) -> list[_Row]:
    return [_Row(source, n, cells, columns) for n, cells in enumerate(rows, start=2) if any(c.strip() for c in cells)]


def _origin(first: float, interval: float) -> tuple[float, datetime | None]:
    """t = 0: the start of the first arrival's interval (a date-time when the times are epoch seconds)."""
    origin = math.floor(first / interval) * interval
    is_epoch = first > 10 * 365 * 86400  # epoch seconds, not seconds from a start
    return origin, datetime.fromtimestamp(origin, UTC) if is_epoch else None


def _whole_day(routing: Config, horizon: float) -> tuple[Shift, ...]:
    return tuple(Shift(agent=a, start=0.0, end=horizon) for a in routing.agents)


def _from_contacts(source, header, rows, routing, interval, seed) -> Scenario:
    optional = ("patience", "abandoned_after", "id", "customer")
    columns = _columns(source, header, CONTACT_COLUMNS, optional)
    parsed = []
    seen: dict[str, int] = {}  # contact id -> its line
    for row in _rows(source, rows, columns):
        cid = row.text("id")
        if cid in seen:
            _fail(source, row.line, f"id: contact {cid!r} is on line {seen[cid]} already")
        if cid:
            seen[cid] = row.line
        queue, channel = row.route(routing)
        patience = row.seconds("patience", empty=math.inf) if "patience" in columns else math.inf
        if "abandoned_after" in columns and row.text("abandoned_after"):
            patience = row.seconds("abandoned_after", positive=False)
        handle = row.seconds("handle")
        parsed.append((row.time("arrived"), queue, channel, handle, patience, cid, row.text("customer")))
    if not parsed:
        _fail(source, 0, "no contacts")
    origin, start = _origin(min(p[0] for p in parsed), interval)
    parsed.sort(key=lambda p: p[0])
    times = quantise([p[0] - origin for p in parsed])
    recorded = tuple(
        Arrival(
            at=float(t),
            id=cid or f"c{n:06d}",
            queue=q,
            channel=c,
            handle=float(quantise(h)),
            patience=float(quantise(p)),
            customer=cu,
        )
        for n, (t, (_, q, c, h, p, cid, cu)) in enumerate(zip(times, parsed, strict=True))
    )
    horizon = math.ceil((recorded[-1].at + 1e-9) / interval) * interval
    return Scenario(
        source=source,
        config=routing,
        seed=seed,
        interval=interval,
        start=start,
        horizon=horizon,
        recorded=recorded,
        shifts=_whole_day(routing, horizon),
    )


def _from_counts(source, header, rows, routing, interval, seed) -> Scenario:
    columns = _columns(source, header, (*COUNT_COLUMNS, "aht"), ("queue", "channel", "patience"))
    parsed = []
    for row in _rows(source, rows, columns):
        queue, channel = row.route(routing)
        patience = row.seconds("patience", empty=math.inf) if "patience" in columns else math.inf
        parsed.append(
            (row.line, row.time("interval_start"), queue, channel, row.count("count"), row.seconds("aht"), patience)
        )
    if not parsed:
        _fail(source, 0, "no rows")
    origin, start = _origin(min(p[1] for p in parsed), interval)
    intervals = 0
    streams: dict[tuple[str, str, float, float], list[float]] = {}
    cells = []
    for line, at, queue, channel, count, aht, patience in parsed:
        index = (at - origin) / interval
        if abs(index - round(index)) > 1e-6:
            _fail(source, line, f"interval_start: not on a {interval:g}-second boundary from the first interval")
        cells.append((round(index), (queue, channel, aht, patience), count))
        intervals = max(intervals, round(index) + 1)
    for index, key, count in cells:
        streams.setdefault(key, [0.0] * intervals)[index] += count
    built = tuple(
        Stream(
            queue=q,
            channel=c,
            per_interval=tuple(counts),
            poisson=False,
            handle=exponential(aht),
            patience=None if math.isinf(p) else exponential(p),
        )
        for (q, c, aht, p), counts in streams.items()
    )
    horizon = intervals * interval
    return Scenario(
        source=source,
        config=routing,
        seed=seed,
        interval=interval,
        start=start,
        horizon=horizon,
        streams=built,
        shifts=_whole_day(routing, horizon),
    )


def _from_events(source, text, routing, interval, seed) -> Scenario:
    events: list[tuple[int, Event]] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            events.append((line, Event.from_json(json.loads(raw))))
        except (ValueError, KeyError, TypeError) as e:
            _fail(source, line, f"not an event (as omniroute events export writes them): {e}")
    arrived: dict[str, tuple[int, Event]] = {}
    accepted: dict[str, float] = {}
    handle: dict[str, float] = {}
    patience: dict[str, float] = {}
    states: dict[str, list[tuple[float, str, str]]] = {}
    for line, e in events:
        cid = (e.contact or {}).get("id", "")
        if e.type is EventType.CONTACT_ARRIVED:
            c = e.contact or {}
            if c.get("queue") not in routing.queues or c.get("channel") not in routing.channels:
                _fail(
                    source,
                    line,
                    f"contact {cid!r}: queue {c.get('queue')!r} or channel {c.get('channel')!r} "
                    "is not in the routing configuration",
                )
            arrived.setdefault(cid, (line, e))
        elif e.type is EventType.CONTACT_ACCEPTED:
            accepted[cid] = e.at
        elif e.type is EventType.CONTACT_COMPLETED and cid in accepted:
            handle[cid] = e.at - accepted[cid]
        elif e.type is EventType.CONTACT_ABANDONED and cid in arrived:
            patience[cid] = e.at - arrived[cid][1].at
        if e.agent and e.agent.get("id"):
            states.setdefault(e.agent["id"], []).append((e.at, e.agent.get("state", ""), e.extra.get("from_state", "")))
    if not arrived:
        _fail(source, 0, "no contact.arrived events")
    first = min(e.at for _, e in arrived.values())
    origin, start = _origin(first, interval)
    known = [h for h in handle.values() if h > 0]
    fallback = float(np.mean(known)) if known else 300.0  # contacts not completed in the export: the mean
    recorded = []
    for cid, (_, e) in sorted(arrived.items(), key=lambda item: item[1][1].at):
        c = e.contact or {}
        recorded.append(
            Arrival(
                at=float(quantise(e.at - origin)),
                id=cid,
                queue=c["queue"],
                channel=c["channel"],
                handle=float(quantise(handle.get(cid, fallback))),
                patience=float(quantise(patience.get(cid, math.inf))),
                customer=c.get("customer", ""),
                skills=decode(c.get("skills", "")),
            )
        )
    last = max(e.at for _, e in events) - origin
    horizon = math.ceil((max(last, recorded[-1].at) + 1e-9) / interval) * interval
    return Scenario(
        source=source,
        config=routing,
        seed=seed,
        interval=interval,
        start=start,
        horizon=horizon,
        recorded=tuple(recorded),
        shifts=_shifts(states, routing, origin, horizon),
    )


def _shifts(states: dict[str, list[tuple[float, str, str]]], routing: Config, origin: float, horizon: float):
    """Per agent: logged in from its first event (or t = 0 if it was already in) to its last logout."""
    shifts = []
    for agent, changes in states.items():
        if agent not in routing.agents:
            continue
        on = changes[0][2] not in ("", "offline") or changes[0][1] not in ("offline",)
        begin = 0.0 if changes[0][2] not in ("", "offline") else max(0.0, changes[0][0] - origin)
        end = horizon
        away: list[Break] = []
        away_from = None
        for at, state, _ in changes:
            t = at - origin
            if state == "offline":
                end = t
            elif state == "away" and away_from is None:
                away_from = t
            elif state not in ("away", "offline") and away_from is not None:
                away.append(Break(start=away_from, end=t))
                away_from = None
        if on and end > begin:
            shifts.append(
                Shift(agent=agent, start=float(quantise(begin)), end=float(quantise(end)), breaks=tuple(away))
            )
    return tuple(shifts)
