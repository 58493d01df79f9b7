"""The simulator agrees with queueing theory where theory has the answer.

Single-skill M/M/c at occupancies from 70% to 95% against Erlang C, and M/M/c+M (exponential patience)
against Erlang A including abandonment: each KPI's mean over 10 seeded replications (first 10% of
contacts dropped as warm-up) must have the theoretical value inside its 95% confidence interval.
"""

from __future__ import annotations

import functools
import math
import statistics

import pytest

from simulations.erlang import erlang_a_kpis, erlang_c_kpis
from simulations.mmc import MMc, replicate
from simulations.replications import run_replications

SEEDS = list(range(1, 11))
T_975_9DF = 2.262  # Student t, 97.5% quantile, 9 degrees of freedom


def interval(values: list[float]) -> tuple[float, float]:
    mean = statistics.mean(values)
    half = T_975_9DF * statistics.stdev(values) / math.sqrt(len(values))
    return mean - half, mean + half


@pytest.mark.parametrize(
    ("case", "contacts"),
    [(MMc(10, 0.70), 20_000), (MMc(20, 0.85), 20_000), (MMc(50, 0.95), 40_000)],
    ids=["10 agents 70%", "20 agents 85%", "50 agents 95%"],
)
def test_mmc_agrees_with_erlang_c(case: MMc, contacts: int):
    reps = run_replications(functools.partial(replicate, case, contacts), SEEDS)
    theory = erlang_c_kpis(case.agents, case.calls_per_hour, case.aht, case.target)
    for kpi, expected in [
        ("p_wait", theory.p_wait),
        ("service_level", theory.service_level),
        ("asa", theory.asa),
        ("occupancy", theory.occupancy),
    ]:
        low, high = interval([getattr(r, kpi) for r in reps])
        assert low <= expected <= high, f"{kpi}: Erlang C {expected:.4f} outside [{low:.4f}, {high:.4f}]"
    assert all(r.p_abandon == 0 for r in reps)


@pytest.mark.parametrize(
    ("case", "contacts"),
    [(MMc(10, 0.90, patience=120), 20_000), (MMc(30, 1.00, patience=60), 20_000)],
    ids=["10 agents 90% patience 120s", "30 agents 100% patience 60s"],
)
def test_mmc_with_patience_agrees_with_erlang_a(case: MMc, contacts: int):
    reps = run_replications(functools.partial(replicate, case, contacts), SEEDS)
    theory = erlang_a_kpis(case.agents, case.calls_per_hour, case.aht, case.patience, case.target)
    for kpi, expected in [
        ("p_wait", theory.p_wait),
        ("service_level", theory.service_level),
        ("asa_answered", theory.asa),
        ("p_abandon", theory.p_abandon),
        ("occupancy", theory.occupancy),
    ]:
        low, high = interval([getattr(r, kpi) for r in reps])
        assert low <= expected <= high, f"{kpi}: Erlang A {expected:.4f} outside [{low:.4f}, {high:.4f}]"


def test_replications_are_the_same_in_a_pool_and_in_process():
    task = functools.partial(replicate, MMc(5, 0.8), 2_000)
    assert run_replications(task, [1, 2, 3], workers=2) == run_replications(task, [1, 2, 3], workers=1)


def test_replications_on_a_dask_local_cluster_give_the_same_results():
    from distributed import Client, LocalCluster

    task = functools.partial(replicate, MMc(5, 0.8), 2_000)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        on_dask = run_replications(task, [1, 2, 3], dask=client)
    assert on_dask == run_replications(task, [1, 2, 3], workers=1)
