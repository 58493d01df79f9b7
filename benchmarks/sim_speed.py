"""Simulator speed: Omniroute's simulator (calling the live routing policy for every decision) against
the same model written in SimPy.

Run by hand (SimPy comes with the bench extra: ``.venv/bin/pip install -e '.[bench]'``):

    .venv/bin/python benchmarks/sim_speed.py                 # (a) M/M/c, 1,000,000 contacts
    .venv/bin/python benchmarks/sim_speed.py --contacts 200000

(a) M/M/c: 50 agents at 90% occupancy, exponential handle (180 s), no abandonment. One run each;
contacts simulated per second of wall time, the ratio, and the KPIs of both so that one can see they
model the same thing (probability of waiting and ASA, against Erlang C).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulations.engine import simulate
from simulations.erlang import erlang_c_kpis
from simulations.mmc import MMc


def simpy_mmc(case: MMc, contacts: int, seed: int) -> tuple[float, float]:
    """The M/M/c model, idiomatically in SimPy: a Resource of ``agents`` servers, one process per
    customer. Returns (P(wait), ASA)."""
    import simpy

    rng = np.random.default_rng(seed)
    inter = rng.exponential(case.aht / (case.occupancy * case.agents), contacts)
    handles = rng.exponential(case.aht, contacts)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=case.agents)
    waits = np.zeros(contacts)

    def customer(i: int):
        arrived = env.now
        with agents.request() as req:
            yield req
            waits[i] = env.now - arrived
            yield env.timeout(handles[i])

    def source():
        for i in range(contacts):
            yield env.timeout(inter[i])
            env.process(customer(i))

    env.process(source())
    env.run()
    kept = waits[contacts // 10 :]
    return float((kept > 0).mean()), float(kept.mean())


def omniroute_mmc(case: MMc, contacts: int, seed: int) -> tuple[float, float, float]:
    """The same model in Omniroute's simulator. Returns (P(wait), ASA, seconds building the input)."""
    t0 = time.perf_counter()
    arrivals = case.arrivals(contacts, seed)
    config, shifts = case.config(), case.shifts()
    built = time.perf_counter() - t0
    result = simulate(config, arrivals, shifts, seed=seed, sample_every=0)
    records = sorted(result.records, key=lambda r: r.arrived)[contacts // 10 :]
    waits = np.array([r.wait for r in records])
    return float((waits > 0).mean()), float(waits.mean()), built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    case = MMc(50, 0.90)
    theory = erlang_c_kpis(case.agents, case.calls_per_hour, case.aht, case.target)
    print(f"(a) M/M/c: {case.agents} agents, {case.occupancy:.0%} occupancy, {args.contacts:,} contacts")
    print(f"    Erlang C: P(wait) {theory.p_wait:.4f}, ASA {theory.asa:.2f} s")

    t0 = time.perf_counter()
    p_wait, asa, built = omniroute_mmc(case, args.contacts, args.seed)
    ours = time.perf_counter() - t0
    print(
        f"    Omniroute: {args.contacts / ours:>10,.0f} contacts/s ({ours:.1f} s, of which {built:.1f} s building "
        f"arrivals)  P(wait) {p_wait:.4f}, ASA {asa:.2f} s"
    )
    try:
        import simpy  # noqa: F401
    except ImportError:
        sys.exit("SimPy is not installed: .venv/bin/pip install -e '.[bench]'")
    t0 = time.perf_counter()
    p_wait, asa = simpy_mmc(case, args.contacts, args.seed)
    theirs = time.perf_counter() - t0
    print(
        f"    SimPy:     {args.contacts / theirs:>10,.0f} contacts/s ({theirs:.1f} s)  "
        f"P(wait) {p_wait:.4f}, ASA {asa:.2f} s"
    )
    print(f"    ratio Omniroute / SimPy: {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
