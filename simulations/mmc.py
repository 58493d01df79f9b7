"""Single-skill M/M/c (+M) scenarios: Poisson arrivals, exponential handling and patience, one queue.

The cases where queueing theory has exact answers (Erlang C, Erlang A); used to check the simulator
against theory and to measure its speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from router.config import loads
from router.config.model import Config
from simulations.engine import simulate
from simulations.gcpause import paused_gc
from simulations.model import Arrival, Shift, arrivals_of


@dataclass(frozen=True, slots=True)
class MMc:
    """``agents`` servers at ``occupancy`` offered load, mean handle ``aht`` s, mean ``patience`` s."""

    agents: int
    occupancy: float  # offered load / agents
    aht: float = 180.0
    patience: float = math.inf  # inf: M/M/c (Erlang C); finite: M/M/c+M (Erlang A)
    target: float = 20.0  # service-level answer time, seconds

    @property
    def calls_per_hour(self) -> float:
        return self.occupancy * self.agents / self.aht * 3600

    def config(self) -> Config:
        agents = "".join(f"  - {{id: a{i:04d}, skills: {{s: 5}}, channels: [voice]}}\n" for i in range(self.agents))
        queue = f"q: {{channels: [voice], skills: {{s: 1}}, service_level: {{target_seconds: {self.target}}}}}"
        return loads(
            "tenant: mmc\n"
            "routing: {aging: {every: 0}}\n"
            "channels: {voice: {capacity: 1, exclusive: true}}\n"
            "skills: [s]\n"
            f"queues: {{{queue}}}\n"
            "agents:\n" + agents,
            source="mmc.yaml",
        )

    def arrivals(self, contacts: int, seed: int) -> list[Arrival]:
        rng = np.random.default_rng(seed)
        times = np.cumsum(rng.exponential(self.aht / (self.occupancy * self.agents), contacts)).tolist()
        handles = rng.exponential(self.aht, contacts).tolist()
        if math.isfinite(self.patience):
            patience = rng.exponential(self.patience, contacts).tolist()
        else:
            patience = [math.inf] * contacts
        with paused_gc():
            return arrivals_of(times, handles, patience, queue="q", channel="voice", prefix="c")

    def shifts(self) -> list[Shift]:
        return [Shift(agent=f"a{i:04d}", start=0.0, end=math.inf) for i in range(self.agents)]


@dataclass(frozen=True, slots=True)
class Measured:
    """What one replication measured, after its warm-up."""

    p_wait: float  # share of contacts that did not reach an agent at once
    service_level: float  # share of all contacts answered within the target
    asa: float  # mean wait of all contacts (Erlang C's ASA)
    asa_answered: float  # mean wait of answered contacts (Erlang A's ASA)
    p_abandon: float
    occupancy: float  # agents' busy time over staffed time


def replicate(case: MMc, contacts: int, seed: int, warmup: float = 0.1) -> Measured:
    """Simulate ``contacts`` arrivals and measure the contacts after the first ``warmup`` share."""
    result = simulate(case.config(), case.arrivals(contacts, seed), case.shifts(), seed=seed, sample_every=0)
    records = sorted(result.records, key=lambda r: r.arrived)[int(contacts * warmup) :]
    waits = [r.wait for r in records]
    answered = [r.wait for r in records if r.answered is not None]
    n = len(records)
    return Measured(
        p_wait=sum(1 for w in waits if w > 0) / n,
        service_level=sum(1 for r in records if r.answered is not None and r.wait <= case.target) / n,
        asa=sum(waits) / n,
        asa_answered=sum(answered) / len(answered),
        p_abandon=sum(1 for r in records if r.abandoned is not None) / n,
        occupancy=sum(result.agent_busy.values()) / sum(result.agent_staffed.values()),
    )
