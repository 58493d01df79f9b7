"""Staffing: Erlang first, then simulation with the live policy, adjusted until every interval meets its target."""

from __future__ import annotations

import functools

import numpy as np

from router.config import loads
from simulations.model import Arrival, Shift
from simulations.staffing import Demand, erlang_agents, plan_staffing, roster

INTERVAL = 1800.0
RATES = [40, 110, 180, 60]  # expected calls per half hour
AHT = 240.0

CONFIG = loads(
    """
tenant: plan
channels: {voice: {capacity: 1, exclusive: true}, chat: {capacity: 3}}
skills: [sales]
queues:
  sales: {channels: [voice], skills: {sales: 3}, service_level: {target_seconds: 20, percent: 80}}
agents:
  - {id: someone, skills: {sales: 5}, channels: [voice]}
""",
    "plan.yaml",
)


def poisson_day(rates: list[int], seed: int) -> list[Arrival]:
    rng = np.random.default_rng(seed)
    out = []
    for i, rate in enumerate(rates):
        times = np.sort(rng.uniform(i * INTERVAL, (i + 1) * INTERVAL, rng.poisson(rate)))
        out += [Arrival(at=float(t), id="", queue="sales", channel="voice", handle=float(rng.exponential(AHT)))
                for t in times]  # fmt: skip
    return [Arrival(at=a.at, id=f"c{n}", queue=a.queue, channel=a.channel, handle=a.handle) for n, a in enumerate(out)]


def test_erlang_counts_an_agent_of_a_multi_contact_channel_as_several_servers():
    voice = Demand(interval=0, queue="sales", channel="voice", arrivals=100, aht=AHT)
    assert erlang_agents(CONFIG, voice, INTERVAL) == 17  # Erlang C: 13.3 Erlangs, 80% in 20 s
    chat = Demand(interval=0, queue="sales", channel="chat", arrivals=100, aht=AHT)
    assert erlang_agents(CONFIG, chat, INTERVAL) == 6  # the same 17 servers, 3 chats an agent


def test_roster_merges_consecutive_intervals():
    shifts = roster({(0, "q"): 1, (1, "q"): 2, (2, "q"): 0, (3, "q"): 2}, 10.0)
    assert sorted(shifts, key=lambda s: (s.agent, s.start)) == [
        Shift(agent="plan-q-0", start=0.0, end=20.0),
        Shift(agent="plan-q-0", start=30.0, end=40.0),
        Shift(agent="plan-q-1", start=10.0, end=20.0),
        Shift(agent="plan-q-1", start=30.0, end=40.0),
    ]


def test_the_plan_meets_every_interval_and_follows_the_load():
    demand = [Demand(interval=i, queue="sales", channel="voice", arrivals=r, aht=AHT) for i, r in enumerate(RATES)]
    plan = plan_staffing(
        CONFIG,
        demand,
        functools.partial(poisson_day, RATES),
        interval=INTERVAL,
        intervals=len(RATES),
        seeds=list(range(1, 9)),
    )
    assert plan.met
    agents = [c.agents for c in plan.cells]
    assert agents[2] == max(agents) and agents[0] == min(agents)
    for cell in plan.cells:
        assert cell.lower >= cell.target
        assert abs(cell.agents - cell.erlang) <= 3  # stationary Poisson traffic: Erlang C is close
