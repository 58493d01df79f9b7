"""The simulator's lane-local decisions and in-place state moves change no assignment.

After an arrival the simulator asks the policy only about the new contact's lane, and after an agent
frees only about that agent's queues (``RoutingPolicy.offers_for_contact`` / ``offers_for_agent``);
a full pass runs only when a deadline has passed. These tests hold that to what full passes give:
the benchmark scenarios against the assignments the simulator made before (full passes after every
event, a new snapshot per move), and a rich scenario (profiles with levels and delays, escalation,
overflow, last-agent preference, answer delays, missed offers, breaks) under every strategy against a
full pass after every event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from benchmarks.sim_speed import skills_case
from router.cli import read_config
from router.config.model import Strategy, frozen_map
from simulations.engine import simulate
from simulations.mmc import MMc
from simulations.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def digest(assignments: list[tuple[str, str]]) -> str:
    return hashlib.sha256(repr(assignments).encode()).hexdigest()[:16]


# (contacts assigned, digest of the (contact, agent) list) made by the simulator as of commit f90cd93.
BEFORE = {"a": (4000, "cae4b101cafa8203"), "a+patience": (3609, "fa26d485afb1e96f"), "b": (4000, "2da4c429b6055a90")}


@pytest.mark.parametrize("scenario", sorted(BEFORE))
@pytest.mark.parametrize("lane_local", [True, False], ids=["lane-local", "full passes"])
def test_benchmark_scenarios_make_the_assignments_they_made_before(scenario, lane_local):
    if scenario == "a":
        case = MMc(50, 0.90)
        run = (case.config(), case.arrivals(4000, 1), case.shifts(), 1)
    elif scenario == "a+patience":
        case = MMc(20, 0.95, patience=60.0)
        run = (case.config(), case.arrivals(4000, 2), case.shifts(), 2)
    else:
        config, arrivals, shifts = skills_case()
        run = (config, arrivals[:4000], shifts, 1)
    config, arrivals, shifts, seed = run
    result = simulate(config, arrivals, shifts, seed=seed, sample_every=0, lane_local=lane_local)
    assert (len(result.assignments), digest(result.assignments)) == BEFORE[scenario]
    assert [r.id for r in result.records] == [a.id for a in arrivals]  # in arrival order (sim_speed relies on it)


@pytest.mark.parametrize("strategy", [None, *Strategy])
def test_lane_local_decisions_match_full_passes_on_a_rich_scenario(strategy):
    scenario = load_scenario(ROOT / "scenarios" / "marivia_week.yaml", routing=read_config(str(ROOT / "routing.yaml")))
    config = scenario.config
    if strategy is not None:
        queues = {n: dataclasses.replace(q, strategy=strategy) for n, q in config.queues.items()}
        config = dataclasses.replace(config, queues=frozen_map(queues))
    rng = random.Random(3)  # returning customers, so that support's last-agent preference comes into play
    arrivals = [
        dataclasses.replace(a, customer=f"cu{rng.randint(1, 300)}")
        for a in scenario.arrivals(np.random.default_rng(1))[:2500]
    ]
    runs = [
        simulate(config, arrivals, scenario.shifts, behaviour=scenario.behaviour, seed=1, lane_local=lane_local)
        for lane_local in (True, False)
    ]
    fast, full = runs
    assert len(fast.assignments) > 2000
    assert fast.assignments == full.assignments
    assert fast.records == full.records
    assert fast.queue_length == full.queue_length
