"""Planner KPIs from simulation replications: per replication, then mean and 95% CI across them. Pure.

Theory of operation
-------------------
:func:`measure` turns one :class:`~simulations.model.RunResult` into plain numbers per row; a row is a
:class:`Scope` (everything, a queue, a channel, a queue on a channel, or an agent group) and an interval
(its index, or ``None`` for the whole run). :func:`summarize` measures every replication on the same
rows and reduces each KPI to a :class:`Kpi`: the mean over the replications where the KPI is defined,
with a Student-t 95% confidence interval. ``docs/simulation.md`` ("Reports") defines each KPI; the
definitions below are the implementation.

- A contact belongs to the interval it arrived in, and to the queue it ended in (``ContactRecord.queue``,
  after any overflow); it is judged against that queue's ``service_level.target_seconds``.
- Its wait ends when it is answered, abandoned or ended by max wait (overflowed). A contact with none of
  these is still waiting: its wait is counted up to the horizon.
- "Within target" means wait <= target. Answered and abandoned contacts count in the service levels as
  below; an overflowed or still-waiting contact counts as *not answered within target* once it has waited
  longer than the target, and is left out before that (its outcome is unknown).
- Queue lengths come from ``RunResult.queue_length`` samples, per queue only: each sample holds until the
  next sample of its queue, the last one until the horizon.
- Occupancy exists only for the whole run (RunResult keeps busy and staffed totals per agent), in the
  ``all`` row and per agent group: agents serving the same set of queues (their profile's queues, or
  without a profile the queues their skills and channels qualify them for, as the router computes it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from router.config.model import Config, ServiceLevel, frozen_map
from router.state import agent_queues
from simulations.model import ContactRecord, RunResult, Shift

KPIS: tuple[str, ...] = (
    "offered",  # contacts arrived
    "answered",
    "abandoned",
    "overflowed",  # ended by max wait (not those moved to another queue)
    "sl_answered",  # answered within / (answered + unanswered late)
    "sl_all",  # (answered within + abandoned within) / (answered + abandoned + unanswered late)
    "asa",  # mean wait of answered contacts, seconds
    "wait_p50",  # percentiles of the waits of answered contacts, seconds
    "wait_p90",
    "wait_p99",
    "abandon_rate",  # abandoned / offered
    "queue_length",  # time-weighted mean number waiting
    "occupancy",  # busy / staffed
)
PERCENTILES = (50, 90, 99)
ANSWERED, ABANDONED, OVERFLOWED, WAITING = range(4)
NO_GROUP = "-"  # the group of agents serving no queue

# Student t, 97.5% quantile, by degrees of freedom 1-30; above 30, the Cornish-Fisher expansion (error < 1e-6).
T975 = (
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
    2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
    2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
)  # fmt: skip
Z975 = 1.959963984540054

Values = dict[str, float | None]  # one replication's KPIs on one row (None: undefined)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (two-sided 95%)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(T975):
        return T975[df - 1]
    z = Z975
    g = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(gi / df ** (i + 1) for i, gi in enumerate(g))


@dataclass(frozen=True, slots=True, kw_only=True)
class Kpi:
    """A KPI across replications: mean and 95% CI bounds (``None`` when not defined), from ``n`` values."""

    mean: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0  # replications in which the KPI was defined

    @classmethod
    def of(cls, values: Sequence[float]) -> Kpi:
        """Mean and ``mean ± t(0.975, n-1) · s / √n`` (s: sample standard deviation); no interval if n < 2."""
        n = len(values)
        if n == 0:
            return cls(mean=None)
        mean = statistics.fmean(values)
        if n == 1:
            return cls(mean=mean, n=1)
        half = t975(n - 1) * statistics.stdev(values) / math.sqrt(n)
        return cls(mean=mean, low=mean - half, high=mean + half, n=n)

    def to_json(self) -> dict[str, float | int | None]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


class ScopeKind(StrEnum):
    ALL = "all"
    QUEUE = "queue"
    CHANNEL = "channel"
    QUEUE_CHANNEL = "queue_channel"
    GROUP = "group"  # agents serving the same set of queues; only occupancy, only for the whole run


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Which contacts (or agents) a row is about."""

    kind: ScopeKind
    queue: str = ""
    channel: str = ""
    group: str = ""  # "+"-joined sorted queue names, or NO_GROUP

    @property
    def label(self) -> str:
        """``all``, ``sales``, ``voice``, ``sales/voice`` or ``agents sales+support``."""
        if self.kind == ScopeKind.GROUP:
            return f"agents {self.group}"
        return "/".join(p for p in (self.queue, self.channel) if p) or "all"


ALL = Scope(kind=ScopeKind.ALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiRow:
    """Every KPI of one scope in one interval (``None``: the whole run), from ``start`` to ``end`` seconds."""

    scope: Scope
    interval: int | None
    start: float
    end: float
    values: Mapping[str, Kpi]  # every name in KPIS


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiTable:
    """The KPIs of a set of replications: rows in scope order, each scope's whole run first, then its intervals."""

    interval: float  # seconds
    intervals: int
    horizon: float  # the longest replication's
    seeds: tuple[int, ...]
    targets: Mapping[str, ServiceLevel]  # queue -> its service-level target
    rows: tuple[KpiRow, ...]
    _index: dict[tuple[Scope, int | None], KpiRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(r.scope, r.interval): r for r in self.rows})

    @property
    def replications(self) -> int:
        return len(self.seeds)

    def row(self, scope: Scope, interval: int | None = None) -> KpiRow:
        """The row of ``scope`` in ``interval`` (``None``: whole run). Raises KeyError if there is none."""
        return self._index[(scope, interval)]

    def scopes(self, kind: ScopeKind) -> list[Scope]:
        """The scopes of one kind, in row order."""
        return list(dict.fromkeys(r.scope for r in self.rows if r.scope.kind == kind))


def agent_groups(config: Config, agents: Sequence[str]) -> dict[str, str]:
    """agent id -> its group name: the sorted queues it serves joined by "+" (NO_GROUP if none or unknown)."""
    groups = {}
    for agent_id in agents:
        agent = config.agents.get(agent_id)
        served = sorted(agent_queues(config, agent)) if agent is not None else []
        groups[agent_id] = "+".join(served) or NO_GROUP
    return groups


def scopes_for(results: Sequence[RunResult], config: Config) -> list[Scope]:
    """Every row scope: all, the queues, the channels, each queue's channels, the agent groups."""
    queues = dict.fromkeys(config.queues)
    channels = dict.fromkeys(config.channels)
    pairs = dict.fromkeys((q.name, ch) for q in config.queues.values() for ch in q.channels)
    agents: dict[str, None] = {}
    for result in results:
        for r in result.records:
            queues[r.queue] = channels[r.channel] = pairs[(r.queue, r.channel)] = None
        agents.update(dict.fromkeys([*result.agent_staffed, *result.agent_busy]))
    groups = sorted(set(agent_groups(config, list(agents)).values()))
    return [
        ALL,
        *(Scope(kind=ScopeKind.QUEUE, queue=q) for q in queues),
        *(Scope(kind=ScopeKind.CHANNEL, channel=ch) for ch in channels),
        *(Scope(kind=ScopeKind.QUEUE_CHANNEL, queue=q, channel=ch) for q, ch in pairs),
        *(Scope(kind=ScopeKind.GROUP, group=g) for g in groups),
    ]


def interval_count(results: Sequence[RunResult], interval: float) -> int:
    """Intervals covering every replication's horizon and every arrival (at least one).

    An arrival exactly at the end of the last interval is counted in the last interval.
    """
    if not interval > 0:
        raise ValueError(f"interval must be > 0 seconds, got {interval}")
    end = max([0.0, *(r.horizon for r in results), *(c.arrived for r in results for c in r.records)])
    return max(1, math.ceil(end / interval))


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _contact_kpis(wait: np.ndarray, outcome: np.ndarray, within: np.ndarray, g: np.ndarray, n: int) -> list[Values]:
    """The contact KPIs of each of ``n`` groups (``g``: each contact's group index)."""

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(g[mask], minlength=n)

    ans, ab = outcome == ANSWERED, outcome == ABANDONED
    offered = np.bincount(g, minlength=n)
    answered, abandoned, overflowed = count(ans), count(ab), count(outcome == OVERFLOWED)
    ans_in, ab_in = count(ans & within), count(ab & within)
    late = count((outcome >= OVERFLOWED) & ~within)  # unanswered, waited longer than the target
    wait_sum = np.bincount(g[ans], weights=wait[ans], minlength=n)
    order = np.lexsort((wait[ans], g[ans]))
    chunks = np.split(wait[ans][order], np.cumsum(answered)[:-1])
    rows = []
    for i in range(n):
        pct = np.percentile(chunks[i], PERCENTILES) if answered[i] else [None] * len(PERCENTILES)
        rows.append(
            {
                "offered": float(offered[i]),
                "answered": float(answered[i]),
                "abandoned": float(abandoned[i]),
                "overflowed": float(overflowed[i]),
                "sl_answered": _ratio(ans_in[i], answered[i] + late[i]),
                "sl_all": _ratio(ans_in[i] + ab_in[i], answered[i] + abandoned[i] + late[i]),
                "asa": _ratio(wait_sum[i], answered[i]),
                **{f"wait_p{p}": None if v is None else float(v) for p, v in zip(PERCENTILES, pct, strict=True)},
                "abandon_rate": _ratio(abandoned[i], offered[i]),
            }
        )
    return rows


def _queue_lengths(result: RunResult, queue: str, edges: np.ndarray) -> tuple[float | None, list[float | None]]:
    """Time-weighted mean queue length over the whole run and per interval (``edges``: interval bounds)."""
    samples = sorted((t, n) for t, q, n in result.queue_length if q == queue)
    if not samples:
        return None, [None] * (len(edges) - 1)
    times = np.array([t for t, _ in samples])
    end = max(result.horizon, times[-1])
    knots = np.append(times, end)
    area = np.concatenate([[0.0], np.cumsum(np.array([n for _, n in samples]) * np.diff(knots))])

    def means(bounds: np.ndarray) -> list[float | None]:
        integral = np.diff(np.interp(bounds, knots, area))
        covered = np.diff(np.clip(bounds, knots[0], end))
        return [_ratio(a, c) for a, c in zip(integral, covered, strict=True)]

    return means(np.array([knots[0], end]))[0], means(edges)


def measure(
    result: RunResult, config: Config, scopes: Sequence[Scope], *, interval: float, intervals: int
) -> dict[tuple[Scope, int | None], Values]:
    """One replication's KPIs on every (scope, interval) row; group rows only for the whole run (``None``)."""
    recs = result.records
    targets = {r.queue: _target(config, r.queue).target_seconds for r in recs}
    arrived = np.array([r.arrived for r in recs], dtype=float)
    outcome = np.array([_outcome(r) for r in recs], dtype=np.int64)
    ends = [[r.answered, r.abandoned, r.overflowed, result.horizon][o] for r, o in zip(recs, outcome, strict=True)]
    wait = np.array(ends, dtype=float) - arrived
    within = wait <= np.array([targets[r.queue] for r in recs], dtype=float)
    k = np.clip((arrived // interval).astype(np.int64), 0, intervals - 1)
    queue_of = np.array([r.queue for r in recs], dtype=object)
    channel_of = np.array([r.channel for r in recs], dtype=object)
    edges = np.arange(intervals + 1) * interval
    lengths = {q: _queue_lengths(result, q, edges) for q in {s.queue for s in scopes if s.queue}}
    groups = agent_groups(config, list(dict.fromkeys([*result.agent_staffed, *result.agent_busy])))

    def occupancy(group: str | None) -> float | None:
        members = [a for a, g in groups.items() if group is None or g == group]
        busy = sum(result.agent_busy.get(a, 0.0) for a in members)
        return _ratio(busy, sum(result.agent_staffed.get(a, 0.0) for a in members))

    out: dict[tuple[Scope, int | None], Values] = {}
    for scope in scopes:
        if scope.kind == ScopeKind.GROUP:
            out[(scope, None)] = {**dict.fromkeys(KPIS), "occupancy": occupancy(scope.group)}
            continue
        mask = np.ones(len(recs), dtype=bool)
        if scope.queue:
            mask &= queue_of == scope.queue
        if scope.channel:
            mask &= channel_of == scope.channel
        args = (wait[mask], outcome[mask], within[mask])
        whole = _contact_kpis(*args, np.zeros(int(mask.sum()), dtype=np.int64), 1)[0]
        per = _contact_kpis(*args, k[mask], intervals)
        if scope.kind == ScopeKind.QUEUE:
            length, per_length = lengths[scope.queue]
        elif scope.kind == ScopeKind.ALL:
            length, per_length = _sum_lengths([lengths[q] for q in lengths], intervals)
        else:
            length, per_length = None, [None] * intervals
        out[(scope, None)] = {
            **whole,
            "queue_length": length,
            "occupancy": occupancy(None) if scope.kind == ScopeKind.ALL else None,
        }
        for i in range(intervals):
            out[(scope, i)] = {**per[i], "queue_length": per_length[i], "occupancy": None}
    return out


def summarize(results: Sequence[RunResult], config: Config, *, interval: float) -> KpiTable:
    """Mean and 95% CI of every KPI on every row over the replications ``results`` (one scenario, many seeds).

    A KPI undefined in a replication (e.g. ASA with nothing answered) is left out of its mean; ``Kpi.n``
    says how many replications it is averaged over, and ``Kpi.mean`` is ``None`` if over none.
    """
    if not results:
        raise ValueError("no replications to summarize")
    intervals = interval_count(results, interval)
    scopes = scopes_for(results, config)
    measured = [measure(r, config, scopes, interval=interval, intervals=intervals) for r in results]
    rows = []
    for scope in scopes:
        keys = [None] if scope.kind == ScopeKind.GROUP else [None, *range(intervals)]
        for i in keys:
            values = {kpi: Kpi.of([v for m in measured if (v := m[(scope, i)][kpi]) is not None]) for kpi in KPIS}
            start, end = (0.0, intervals * interval) if i is None else (i * interval, (i + 1) * interval)
            rows.append(KpiRow(scope=scope, interval=i, start=start, end=end, values=frozen_map(values)))
    return KpiTable(
        interval=interval,
        intervals=intervals,
        horizon=max(r.horizon for r in results),
        seeds=tuple(r.seed for r in results),
        targets=frozen_map({s.queue: _target(config, s.queue) for s in scopes if s.kind == ScopeKind.QUEUE}),
        rows=tuple(rows),
    )


def answered_waits(results: Sequence[RunResult], queue: str | None = None) -> np.ndarray:
    """The waits of answered contacts (of ``queue``, or all), pooled over replications, sorted."""
    waits = [
        c.answered - c.arrived
        for r in results
        for c in r.records
        if c.answered is not None and (queue is None or c.queue == queue)
    ]
    return np.sort(np.array(waits, dtype=float))


def handling_load(results: Sequence[RunResult], *, interval: float, intervals: int) -> np.ndarray:
    """Mean contacts being handled (answered to ended) per interval, one row per replication."""
    edges = np.arange(intervals + 1) * interval
    out = np.zeros((len(results), intervals))
    for i, r in enumerate(results):
        for c in r.records:
            if c.answered is not None:
                end = c.ended if c.ended is not None else max(r.horizon, c.answered)
                out[i] += np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], c.answered), 0, None)
    return out / interval


def staffed_from_shifts(shifts: Sequence[Shift], *, interval: float, intervals: int) -> np.ndarray:
    """Mean agents logged in and not on break per interval."""
    edges = np.arange(intervals + 1) * interval

    def overlap(start: float, end: float) -> np.ndarray:
        return np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0, None)

    total = np.zeros(intervals)
    for s in shifts:
        total += overlap(s.start, s.end) - sum((overlap(b.start, b.end) for b in s.breaks), np.zeros(intervals))
    return total / interval


def _target(config: Config, queue: str) -> ServiceLevel:
    q = config.queues.get(queue)
    return q.service_level if q is not None else ServiceLevel()


def _outcome(r: ContactRecord) -> int:
    if r.answered is not None:
        return ANSWERED
    if r.abandoned is not None:
        return ABANDONED
    return OVERFLOWED if r.overflowed is not None else WAITING


def _sum_lengths(parts: list[tuple[float | None, list[float | None]]], intervals: int):
    """The ``all`` queue length: the sum over queues (None where no queue has samples)."""

    def add(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return float(sum(known)) if known else None

    return add([p[0] for p in parts]), [add([p[1][i] for p in parts]) for i in range(intervals)]
