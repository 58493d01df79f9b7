"""Staffing: the fewest agents per interval and queue that meet each queue's service-level target.

Theory of operation
-------------------
1. Erlang first: for each interval and queue, the offered load (expected arrivals x mean handle time)
   sized with Erlang C, or Erlang A when customers have a patience. On a channel where an agent holds
   k contacts at once, an agent counts as k servers (an approximation: it ignores that the k share one
   person), so the Erlang agents are ceil(servers / k).
2. Then simulation: a roster of planning agents (one pool per queue, with exactly the queue's required
   skills at the top level and the queue's channels) staffs each interval with the current counts, and
   the scenario's own traffic runs through the live routing policy, replicated with common random
   numbers (the same seeds in every round). A cell passes when the lower bound of the one-sided
   confidence interval of its service level (answered within the target over offered, for contacts
   arriving in that interval) reaches the target.
3. Adjust: one pass down (cells that pass with room to spare try one agent fewer, kept only if they
   still pass), then up (every failing cell gets one more agent) until every cell passes or the rounds
   run out. Intervals affect each other through carried-over backlog, hence the rounds.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from router.config.model import Agent, Config, frozen_map
from simulations.engine import DEFAULT_BEHAVIOUR, simulate
from simulations.erlang import agents_for_service_level_a, agents_for_service_level_c
from simulations.model import AgentBehaviour, Arrival, RunResult, Shift
from simulations.replications import run_replications

# One-sided Student t quantiles at 95% for small samples (degrees of freedom -> t); 1.645 beyond.
_T95_ONE_SIDED = {1: 6.314, 2: 2.920, 3: 2.353, 4: 2.132, 5: 2.015, 6: 1.943, 7: 1.895, 8: 1.860, 9: 1.833,
                  10: 1.812, 12: 1.782, 15: 1.753, 20: 1.725, 30: 1.697}  # fmt: skip


def t_one_sided_95(dof: int) -> float:
    known = [d for d in _T95_ONE_SIDED if d <= dof]
    return _T95_ONE_SIDED[max(known)] if dof <= 30 else 1.645


@dataclass(frozen=True, slots=True, kw_only=True)
class Demand:
    """Expected work of one queue in one interval."""

    interval: int
    queue: str
    channel: str
    arrivals: float  # expected contacts in the interval
    aht: float  # mean handle time, seconds
    patience: float = math.inf  # mean patience, seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """The plan for one interval and queue."""

    interval: int
    queue: str
    erlang: int  # agents by Erlang C/A
    agents: int  # agents the simulation says are needed
    service_level: float | None  # simulated mean share answered within target (None: no contact)
    lower: float | None  # its one-sided lower confidence bound
    target: float  # the queue's target share


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    cells: tuple[Cell, ...]
    rounds: int
    met: bool  # every cell passes

    def table(self) -> list[dict]:
        return [
            {
                "interval": c.interval,
                "queue": c.queue,
                "erlang_agents": c.erlang,
                "simulated_agents": c.agents,
                "gap": c.agents - c.erlang,
                "service_level": c.service_level,
                "service_level_lower": c.lower,
                "target": c.target,
            }
            for c in self.cells
        ]


def erlang_agents(config: Config, demand: Demand, interval: float) -> int:
    """Agents for one cell by Erlang C (or A with patience), k servers per agent on k-contact channels."""
    if demand.arrivals <= 0:
        return 0
    queue = config.queues[demand.queue]
    per_hour = demand.arrivals * 3600 / interval
    level = queue.service_level.percent / 100
    target = queue.service_level.target_seconds
    if math.isfinite(demand.patience):
        servers = agents_for_service_level_a(per_hour, demand.aht, demand.patience, target, level).agents
    else:
        servers = agents_for_service_level_c(per_hour, demand.aht, target, level).agents
    per_agent = max(1, config.channels[demand.channel].capacity)
    return math.ceil(servers / per_agent)


def planning_config(config: Config, pool_sizes: dict[str, int]) -> Config:
    """``config`` with its agents replaced by planning pools: ``plan-<queue>-<n>``, the queue's skills at
    level 10, the queue's channels, no profile."""
    agents = {}
    for queue_name, size in pool_sizes.items():
        queue = config.queues[queue_name]
        skills = {r.skill: 10 for r in queue.requirements}
        for n in range(size):
            agent_id = f"plan-{queue_name}-{n}"
            agents[agent_id] = Agent(id=agent_id, name=agent_id, skills=frozen_map(skills), channels=queue.channels)
    return replace(config, agents=frozen_map(agents), profiles=frozen_map({}))


def roster(counts: dict[tuple[int, str], int], interval: float) -> list[Shift]:
    """Agent n of a queue's pool works every interval whose count exceeds n (consecutive ones merged)."""
    shifts = []
    queues = {q for _, q in counts}
    for queue_name in sorted(queues):
        per_interval = {i: n for (i, q), n in counts.items() if q == queue_name}
        for n in range(max(per_interval.values(), default=0)):
            start = None
            for i in [*sorted(per_interval), None]:
                on = i is not None and per_interval[i] > n
                if on and start is None:
                    start = i
                elif not on and start is not None:
                    end = (i if i is not None else max(per_interval) + 1) * interval
                    shifts.append(Shift(agent=f"plan-{queue_name}-{n}", start=start * interval, end=end))
                    start = None
    return shifts


def _replication(
    config: Config, make_arrivals: Callable[[int], list[Arrival]], shifts, behaviour, horizon: float, seed: int
) -> RunResult:
    return simulate(config, make_arrivals(seed), shifts, behaviour=behaviour, seed=seed, horizon=horizon)


def cell_levels(results: Sequence[RunResult], config: Config, interval: float) -> dict[tuple[int, str], list[float]]:
    """Per (interval, queue): the share answered within target of each replication."""
    out: dict[tuple[int, str], list[float]] = {}
    for result in results:
        counts: dict[tuple[int, str], list[int]] = {}
        for r in result.records:
            key = (int(r.arrived // interval), r.first_queue)
            target = config.queues[r.first_queue].service_level.target_seconds
            hit = r.answered is not None and r.answered - r.arrived <= target
            pair = counts.setdefault(key, [0, 0])
            pair[0] += hit
            pair[1] += 1
        for key, (hits, total) in counts.items():
            out.setdefault(key, []).append(hits / total)
    return out


def plan_staffing(
    config: Config,
    demand: Sequence[Demand],
    make_arrivals: Callable[[int], list[Arrival]],
    *,
    interval: float,
    intervals: int,
    seeds: Sequence[int],
    behaviour: AgentBehaviour = DEFAULT_BEHAVIOUR,
    max_rounds: int = 8,
    workers: int | None = None,
    dask=None,
    on_round: Callable[[int, int], None] | None = None,
) -> StaffingPlan:
    """Plan agents per interval and queue. ``make_arrivals(seed)`` gives a replication's traffic
    (``make_arrivals`` and everything it holds must pickle, for worker processes)."""
    erlang: dict[tuple[int, str], int] = {(i, d.queue): 0 for d in demand for i in range(intervals)}
    for d in demand:
        key = (d.interval, d.queue)
        erlang[key] = max(erlang.get(key, 0), erlang_agents(config, d, interval))
    counts = dict(erlang)
    horizon = interval * intervals

    def evaluate(counts):
        pools = {}
        for (_, q), n in counts.items():
            pools[q] = max(pools.get(q, 0), n)
        task = functools.partial(
            _replication, planning_config(config, pools), make_arrivals, roster(counts, interval), behaviour, horizon
        )
        levels = cell_levels(run_replications(task, seeds, workers=workers, dask=dask), config, interval)
        verdict = {}
        for key in counts:
            values = levels.get(key)
            target = config.queues[key[1]].service_level.percent / 100
            if not values:
                verdict[key] = (None, None, True)
                continue
            mean = statistics.fmean(values)
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            lower = mean - t_one_sided_95(len(values) - 1) * spread / math.sqrt(len(values))
            verdict[key] = (mean, lower, lower >= target)
        return verdict

    rounds = 0
    verdict = evaluate(counts)
    rounds += 1
    # One pass down: cells with room to spare try one agent fewer.
    trial = {k: n - 1 for k, n in counts.items() if n > 1 and verdict[k][2] and verdict[k][1] is not None}
    if trial:
        candidate = {**counts, **trial}
        tried = evaluate(candidate)
        rounds += 1
        for key in trial:
            if tried[key][2]:
                counts[key] = candidate[key]
        verdict = evaluate(counts) if any(counts[k] == trial[k] for k in trial) else verdict
    # Then up until every cell passes.
    while not all(v[2] for v in verdict.values()) and rounds < max_rounds:
        for key, (_, _, ok) in verdict.items():
            if not ok:
                counts[key] += 1
        verdict = evaluate(counts)
        rounds += 1
        if on_round:
            on_round(rounds, sum(1 for v in verdict.values() if not v[2]))
    cells = tuple(
        Cell(
            interval=i,
            queue=q,
            erlang=erlang[(i, q)],
            agents=counts[(i, q)],
            service_level=verdict[(i, q)][0],
            lower=verdict[(i, q)][1],
            target=config.queues[q].service_level.percent / 100,
        )
        for i, q in sorted(counts)
    )
    return StaffingPlan(cells=cells, rounds=rounds, met=all(v[2] for v in verdict.values()))
