"""Scenario files: the traffic, rosters and behaviour a simulation runs, validated like routing.yaml.

A scenario is YAML (a file of its own, or the ``simulation`` section of routing.yaml) with these keys,
documented in docs/simulation.md, "Scenario files":

    seed, interval (900 or 1800), start (date-time of t = 0), days | intervals (the horizon),
    strategy (every queue's, a what-if), behaviour {answer_delay, no_answer_probability},
    traffic: [{queue, channel, rates | counts, repeat, handle, patience}],
    rosters: [{name, count, skills, channels, profile} | {agents: [ids]}, with from, to, days, breaks]

Every problem is reported with file, line, column and key path, and raised as one
:class:`~router.errors.ConfigError`. :meth:`Scenario.arrivals` depends only on the generator it is given,
never on the routing config, so the same seed gives the same traffic to every strategy variant (common
random numbers).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path

import numpy as np
import yaml
from yaml.nodes import MappingNode, Node

from router.config._sections import Known, _levels, channel_list
from router.config._yamlnodes import NAME, NAME_RULE, Fields, Reader, at, is_null
from router.config.loader import _syntax_problem, read_text
from router.config.model import Agent, Config, Strategy, frozen_map
from router.errors import ConfigError, ConfigProblem
from simulations.distributions import Distribution, read_distribution
from simulations.gcpause import paused_gc
from simulations.model import AgentBehaviour, Arrival, Break, Shift
from simulations.staffing import Demand

TOP_KEYS = ("seed", "interval", "start", "days", "intervals", "strategy", "behaviour", "traffic", "rosters")
BEHAVIOUR_KEYS = ("answer_delay", "no_answer_probability")
TRAFFIC_KEYS = ("queue", "channel", "rates", "counts", "repeat", "handle", "patience")
ROSTER_KEYS = ("name", "count", "skills", "channels", "channel", "profile", "agents", "from", "to", "days", "breaks")
BREAK_KEYS = ("from", "to", "reason")
INTERVALS = (900, 1800)
DAY = 86400.0
CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
CLOCK_RULE = "a time of day such as 08:00"


TICK = 1 / 1024  # seconds; drawn times are whole ticks, see quantise


def quantise(seconds: np.ndarray) -> np.ndarray:
    """Times rounded to whole :data:`TICK` s: binary fractions, so every sum of them the simulator makes
    (arrival + 30 s escalation step, answer + handle time) is exact in floating point, and a deadline
    computed as ``enqueued_at + after`` compares equal to ``now - enqueued_at >= after`` at that instant.
    (Without it the policy can be woken at a deadline it then judges 1 ulp early, again and again.)"""
    return np.round(np.asarray(seconds, dtype=float) / TICK) * TICK


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """Contacts of one queue and channel: how many per interval (over the whole horizon), how long, how patient."""

    queue: str
    channel: str
    per_interval: tuple[float, ...]  # expected arrivals (Poisson) or exact counts, one per interval
    poisson: bool
    handle: Distribution
    patience: Distribution | None = None  # None: customers never abandon


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """Everything one simulation run needs besides its seed."""

    source: str
    config: Config  # the routing to run on (with the scenario's generated agents and strategy override)
    seed: int = 1
    interval: float = 1800.0
    start: datetime | None = None  # wall-clock time of t = 0, for reports
    horizon: float = DAY
    streams: tuple[Stream, ...] = ()
    recorded: tuple[Arrival, ...] = ()  # replayed contacts, used as they are (see simulations.replay)
    shifts: tuple[Shift, ...] = ()
    behaviour: AgentBehaviour = field(default_factory=AgentBehaviour)

    @property
    def intervals(self) -> int:
        return math.ceil(self.horizon / self.interval)

    def arrivals(self, rng: np.random.Generator) -> list[Arrival]:
        """One replication's traffic: recorded contacts, then each stream's draws, ids in arrival order."""
        drawn: list[tuple[float, str, str, float, float, str, tuple]] = [
            (a.at, a.queue, a.channel, a.handle, a.patience, a.customer, a.skills) for a in self.recorded
        ]
        for s in self.streams:
            counts = rng.poisson(s.per_interval) if s.poisson else np.asarray(s.per_interval, dtype=int)
            total = int(counts.sum())
            starts = np.repeat(np.arange(len(counts)) * self.interval, counts)
            times = starts + rng.uniform(0.0, self.interval, total)
            handles = s.handle.sample(rng, total)
            patience = s.patience.sample(rng, total) if s.patience else np.full(total, math.inf)
            times, handles, patience = quantise(times), quantise(handles), quantise(patience)
            for t, h, p in zip(times.tolist(), handles.tolist(), patience.tolist(), strict=True):
                drawn.append((t, s.queue, s.channel, h, p, "", ()))
        if not self.streams:
            return list(self.recorded)
        drawn.sort(key=lambda d: d[0])
        with paused_gc():
            return [
                Arrival(at=t, id=f"c{n:06d}", queue=q, channel=c, handle=h, patience=p, customer=cu, skills=sk)
                for n, (t, q, c, h, p, cu, sk) in enumerate(drawn)
            ]

    def demand(self) -> list[Demand]:
        """Expected work per interval, queue and channel, for Erlang sizing (``plan staffing``)."""
        out = []
        for s in self.streams:
            patience = s.patience.expected if s.patience else math.inf
            for i, n in enumerate(s.per_interval):
                if n > 0:
                    out.append(
                        Demand(
                            interval=i,
                            queue=s.queue,
                            channel=s.channel,
                            arrivals=float(n),
                            aht=s.handle.expected,
                            patience=patience,
                        )
                    )
        if self.recorded:
            by_cell: dict[tuple[int, str, str], list[Arrival]] = {}
            for a in self.recorded:
                by_cell.setdefault((int(a.at // self.interval), a.queue, a.channel), []).append(a)
            for (i, q, c), items in sorted(by_cell.items()):
                patience = [a.patience for a in items if math.isfinite(a.patience)]
                out.append(
                    Demand(
                        interval=i,
                        queue=q,
                        channel=c,
                        arrivals=float(len(items)),
                        aht=float(np.mean([a.handle for a in items])),
                        patience=float(np.mean(patience)) if patience else math.inf,
                    )
                )
        return out


def load_scenario(path: str | Path, routing: Config) -> Scenario:
    """Read and validate a scenario file for ``routing``.

    Raises:
        ConfigError: the file can't be read, isn't YAML, or doesn't fit; every problem with file:line:col and key path.
    """
    source = str(path)
    text = read_text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise ConfigError([_syntax_problem(source, e)]) from None
    except yaml.YAMLError as e:
        raise ConfigError([ConfigProblem(source, 0, 0, "", f"invalid YAML: {e}")]) from None
    r = Reader(source)
    if is_null(root):
        r.problem(None, "", "the file is empty: expected a mapping with at least 'traffic'")
        raise ConfigError(r.problems)
    scenario = read_scenario(r, root, "", routing, Path(path).parent)
    if r.problems or scenario is None:
        unique = list(dict.fromkeys(r.problems))
        raise ConfigError(sorted(unique, key=lambda p: (p.line, p.column)))
    return scenario


def read_section(r: Reader, node: Node | None, path: str, config: Config) -> Scenario | dict:
    """The ``simulation`` section of routing.yaml (see router.config.loader.SECTION_READERS); empty if absent."""
    if is_null(node) or (isinstance(node, MappingNode) and not node.value):
        return frozen_map()
    scenario = read_scenario(r, node, path, config, Path(r.source).parent)
    return frozen_map() if scenario is None else scenario


def read_scenario(r: Reader, node: Node, path: str, routing: Config, base: Path) -> Scenario | None:
    """A scenario from its YAML mapping (problems recorded on ``r``; ``None`` if it can't be built)."""
    f = r.fields(node, path, TOP_KEYS, required=("traffic",))
    if f is None:
        return None
    seed = f.integer("seed", 1, lo=0)
    interval = float(_interval(r, f))
    start = _start(r, f)
    horizon = _horizon(r, f, interval)
    strategy = f.choice("strategy", Strategy)
    behaviour = _behaviour(r, f)
    count = math.ceil(horizon / interval)
    items = (r.sequence(f.get("traffic"), f.at("traffic"), non_empty=True) if "traffic" in f else None) or []
    streams = [_stream(r, item, at(f.at("traffic"), i), routing, count, base) for i, item in enumerate(items)]
    config = routing
    shifts: list[Shift] = []
    if "rosters" in f:
        agents, shifts = _rosters(r, f, routing, start, horizon)
        config = replace(config, agents=frozen_map(agents))
    else:
        shifts = [Shift(agent=a, start=0.0, end=horizon) for a in routing.agents]
    if strategy is not None:
        queues = {n: replace(q, strategy=strategy) for n, q in config.queues.items()}
        config = replace(config, queues=frozen_map(queues))
    if r.problems:
        return None
    return Scenario(
        source=r.source,
        config=config,
        seed=seed,
        interval=interval,
        start=start,
        horizon=horizon,
        streams=tuple(s for s in streams if s is not None),
        shifts=tuple(shifts),
        behaviour=behaviour,
    )


def _interval(r: Reader, f: Fields) -> int:
    value = f.integer("interval", 1800)
    if value not in INTERVALS:
        r.problem(f.get("interval"), f.at("interval"), f"expected 900 or 1800 (seconds), found {value}")
        return 1800
    return value


def _start(r: Reader, f: Fields) -> datetime | None:
    node = f.get("start")
    if node is None:
        return None
    text = r.text(node, f.at("start"), what="a date-time such as 2026-03-02T08:00")
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        r.expected(node, f.at("start"), "a date-time such as 2026-03-02T08:00")
        return None


def _horizon(r: Reader, f: Fields, interval: float) -> float:
    if "days" in f and "intervals" in f:
        r.problem(f.key_node("intervals"), f.at("intervals"), "give either 'days' or 'intervals', not both")
    if "intervals" in f:
        return f.integer("intervals", 1, lo=1) * interval
    days = f.number("days", 1.0, above=0, hi=366, what="a number of days")
    return math.ceil(days * DAY / interval) * interval


def _behaviour(r: Reader, f: Fields) -> AgentBehaviour:
    node = f.get("behaviour")
    b = None if node is None else r.fields(node, f.at("behaviour"), BEHAVIOUR_KEYS)
    if b is None:
        return AgentBehaviour()
    return AgentBehaviour(
        answer_delay=b.number("answer_delay", 0.0, lo=0, what="a number of seconds"),
        no_answer_probability=b.number("no_answer_probability", 0.0, lo=0, hi=1, what="a probability"),
    )


def _stream(r: Reader, node: Node, path: str, routing: Config, count: int, base: Path) -> Stream | None:
    f = r.fields(node, path, TRAFFIC_KEYS, required=("queue", "handle"))
    if f is None:
        return None
    queue = f.reference("queue", routing.queues, "queue")
    channel = f.reference("channel", routing.channels, "channel")
    if queue is not None and channel is None and "channel" not in f:
        channel = routing.queues[queue].channels[0]
    if queue is not None and channel is not None and channel not in routing.queues[queue].channels:
        takes = ", ".join(routing.queues[queue].channels)
        r.problem(
            f.get("channel"), f.at("channel"), f"queue '{queue}' does not take channel '{channel}'; it takes {takes}"
        )
    if ("rates" in f) == ("counts" in f):
        r.problem(node, path, "give exactly one of 'rates' (expected arrivals per interval, Poisson) or 'counts'")
        return None
    key = "rates" if "rates" in f else "counts"
    values = _per_interval(r, f, key)
    repeat = f.boolean("repeat", False)
    if values and len(values) > count:
        r.problem(f.get(key), f.at(key), f"{len(values)} intervals given but the horizon has only {count}")
    if values and repeat:
        values = (values * math.ceil(count / len(values)))[:count]
    elif values:
        values = values + [0.0] * (count - len(values))
    handle = read_distribution(r, f.get("handle"), f.at("handle"), base)
    patience = None if "patience" not in f else read_distribution(r, f.get("patience"), f.at("patience"), base)
    if None in (queue, channel, values, handle) or ("patience" in f and patience is None):
        return None
    return Stream(
        queue=queue,
        channel=channel,
        per_interval=tuple(values),
        poisson=key == "rates",
        handle=handle,
        patience=patience,
    )


def _per_interval(r: Reader, f: Fields, key: str) -> list[float] | None:
    items = r.sequence(f.get(key), f.at(key), non_empty=True)
    if not items:
        return None
    if key == "rates":
        values = [
            r.number(n, at(f.at(key), i), lo=0, what="an expected number of arrivals") for i, n in enumerate(items)
        ]
    else:
        values = [r.integer(n, at(f.at(key), i), lo=0, what="a count of arrivals") for i, n in enumerate(items)]
    return None if any(v is None for v in values) else [float(v) for v in values]


def _clock(r: Reader, node: Node | None, path: str) -> float | None:
    """``HH:MM`` -> seconds after midnight."""
    text = None if node is None else r.matching(node, path, CLOCK, CLOCK_RULE)
    if text is None:
        return None
    hours, minutes = text.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


def _rosters(
    r: Reader, f: Fields, routing: Config, start: datetime | None, horizon: float
) -> tuple[dict[str, Agent], list[Shift]]:
    """The agents the rosters name or generate, and their shifts (each day, clipped to the horizon)."""
    known = Known(
        channels=dict(routing.channels),
        skills=routing.skills,
        queues=tuple(routing.queues),
        profiles=tuple(routing.profiles),
    )
    agents: dict[str, Agent] = {}
    shifts: list[Shift] = []
    offset = 0.0 if start is None else (start - datetime.combine(start.date(), time(), start.tzinfo)).total_seconds()
    days = math.ceil((horizon + offset) / DAY)
    for i, item in enumerate(r.sequence(f.get("rosters"), f.at("rosters"), non_empty=True) or []):
        path = at(f.at("rosters"), i)
        g = r.fields(item, path, ROSTER_KEYS, required=("from", "to"))
        if g is None:
            continue
        members = _members(r, g, path, routing, known, agents)
        begin, end = _clock(r, g.get("from"), g.at("from")), _clock(r, g.get("to"), g.at("to"))
        on_days = _days(r, g, days)
        breaks = []
        for j, b_node in enumerate(r.sequence(g.get("breaks"), g.at("breaks")) or [] if "breaks" in g else []):
            b = r.fields(b_node, at(g.at("breaks"), j), BREAK_KEYS, required=("from", "to"))
            if b is None:
                continue
            b_from, b_to = _clock(r, b.get("from"), b.at("from")), _clock(r, b.get("to"), b.at("to"))
            if None not in (b_from, b_to, begin, end):
                b_from, b_to = b_from + (DAY if b_from < begin else 0), b_to + (DAY if b_to <= begin else 0)
                if not begin <= b_from < b_to <= (end if end > begin else end + DAY):
                    r.problem(b_node, at(g.at("breaks"), j), "a break must lie within the shift")
                breaks.append((b_from, b_to, b.text("reason", "break")))
        if begin is None or end is None or on_days is None:
            continue
        length = end - begin if end > begin else end + DAY - begin
        for day in on_days:
            s0 = day * DAY + begin - offset
            s1 = min(s0 + length, horizon)
            if s1 <= max(s0, 0.0):
                continue
            shift_breaks = tuple(
                Break(start=day * DAY + b0 - offset, end=day * DAY + b1 - offset, reason=reason)
                for b0, b1, reason in breaks
                if 0 <= day * DAY + b0 - offset < s1
            )
            for agent in members:
                shifts.append(Shift(agent=agent, start=max(s0, 0.0), end=s1, breaks=shift_breaks))
    return agents, shifts


def _members(r: Reader, g: Fields, path: str, routing: Config, known: Known, agents: dict[str, Agent]) -> list[str]:
    """The agent ids of one roster, adding generated agents to ``agents``."""
    if ("agents" in g) == ("count" in g):
        r.problem(g.node, path, "give either 'agents' (ids from routing.yaml) or 'count' with 'name' (generated)")
        return []
    if "agents" in g:
        out = []
        for j, node in enumerate(r.sequence(g.get("agents"), g.at("agents"), non_empty=True) or []):
            agent_id = r.reference(node, at(g.at("agents"), j), routing.agents, "agent")
            if agent_id is not None:
                agents[agent_id] = routing.agents[agent_id]
                out.append(agent_id)
        for key in ("skills", "channels", "channel", "profile", "name"):
            if key in g:
                r.problem(g.key_node(key), g.at(key), f"'{key}' is for generated agents ('count'), not listed ones")
        return out
    count = g.integer("count", 0, lo=1, hi=10000)
    name = g.matching("name", NAME, NAME_RULE) if "name" in g else None
    if "name" not in g:
        r.problem(g.node, path, "missing required key 'name' (generated agents are named <name>-1, <name>-2, ...)")
    skills = _levels(r, g.get("skills"), g.at("skills"), known) if "skills" in g else {}
    channels = channel_list(r, g, known)
    profile = g.reference("profile", known.profiles, "profile")
    if name is None:
        return []
    out = [f"{name}-{n}" for n in range(1, count + 1)]
    for agent_id in out:
        if agent_id in routing.agents:
            r.problem(
                g.get("name"), g.at("name"), f"generated agent '{agent_id}' clashes with an agent in routing.yaml"
            )
            return []
        if agent_id not in agents:
            agents[agent_id] = Agent(
                id=agent_id, name=agent_id, skills=frozen_map(skills), channels=channels, profile=profile
            )
    return out


def _days(r: Reader, g: Fields, days: int) -> list[int] | None:
    if "days" not in g:
        return list(range(days))
    items = r.sequence(g.get("days"), g.at("days"), non_empty=True)
    if items is None:
        return None
    values = [
        r.integer(n, at(g.at("days"), i), 0, 365, what="a day number (0: the first day)") for i, n in enumerate(items)
    ]
    return None if any(v is None for v in values) else sorted(set(values))
