"""Simulator speed: Omniroute's simulator (calling the live routing policy for every decision) against
the same model written in SimPy.

Run by hand (SimPy comes with the bench extra: ``.venv/bin/pip install -e '.[bench]'``):

    .venv/bin/python benchmarks/sim_speed.py                 # (a) M/M/c, 1,000,000 contacts
    .venv/bin/python benchmarks/sim_speed.py --contacts 200000

(a) M/M/c: 50 agents at 90% occupancy, exponential handle (180 s), no abandonment. One run each;
contacts simulated per second of wall time, the ratio, and the KPIs of both so that one can see they
model the same thing (probability of waiting and ASA, against Erlang C). Omniroute's rate is also given
per second of CPU time, which moves less than wall time when others load the machine.

(b) Skills: 200 agents, 6 queues (sales, support, billing, each on voice and on chat), a week of
Poisson traffic with a daily profile (8:00-20:00), exponential handle times, chat agents holding up to
3 chats. Omniroute routes with the live policy (longest idle, skills with levels, per-channel capacity,
voice exclusive); the SimPy model in this file routes by the same rules (first come first served over
the queues an agent serves, longest-idle agent with room) in a dispatcher process.
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
    records = result.records[contacts // 10 :]  # in arrival order
    waits = np.array([r.wait for r in records])
    return float((waits > 0).mean()), float(waits.mean()), built


SKILLS_QUEUES = ("sales", "support", "billing")


def skills_case(seed: int = 7) -> tuple:
    """Config, arrivals and shifts of scenario (b)."""
    from router.config import loads
    from simulations.model import Arrival, Shift

    rng = np.random.default_rng(seed)
    lines = [
        "tenant: bench",
        "routing: {aging: {every: 0}}",
        "channels: {voice: {capacity: 1, exclusive: true}, chat: {capacity: 3}}",
        "skills: [sales, support, billing]",
        "queues:",
    ]
    lines += [
        f"  {q}_{ch}: {{channels: [{ch}], skills: {{{q}: 1}}}}" for q in SKILLS_QUEUES for ch in ("voice", "chat")
    ]
    lines.append("agents:")
    for i in range(200):
        primary = SKILLS_QUEUES[i % 3]
        second = SKILLS_QUEUES[(i + 1) % 3] if i % 4 == 0 else None
        skills = f"{primary}: {rng.integers(3, 11)}" + (f", {second}: {rng.integers(1, 8)}" if second else "")
        channels = "[voice, chat]" if i % 2 else "[chat]"
        lines.append(f"  - {{id: b{i:03d}, skills: {{{skills}}}, channels: {channels}}}")
    config = loads("\n".join(lines) + "\n", "bench.yaml")
    arrivals = []
    day = 86400.0
    for d in range(7):
        for q in SKILLS_QUEUES:
            for ch, per_hour, aht in (("voice", 260.0, 240.0), ("chat", 330.0, 480.0)):
                n = rng.poisson(per_hour * 12)
                times = d * day + 8 * 3600 + np.sort(rng.uniform(0, 12 * 3600, n))
                handles = rng.exponential(aht, n)
                arrivals += [
                    Arrival(at=float(t), id="", queue=f"{q}_{ch}", channel=ch, handle=float(h))
                    for t, h in zip(times, handles, strict=True)
                ]
    arrivals.sort(key=lambda a: a.at)
    arrivals = [
        Arrival(at=a.at, id=f"k{i}", queue=a.queue, channel=a.channel, handle=a.handle) for i, a in enumerate(arrivals)
    ]
    shifts = [Shift(agent=a, start=0.0, end=7 * day) for a in config.agents]
    return config, arrivals, shifts


def simpy_skills(config, arrivals) -> float:
    """Scenario (b) in SimPy; returns the mean wait."""
    import simpy

    env = simpy.Environment()
    agents = {}
    for a in config.agents.values():
        caps = {ch: config.capacity(a, ch) for ch in config.channels}
        serves = [
            q.name
            for q in config.queues.values()
            if q.channels[0] in a.channels and all(a.skills.get(r.skill, 0) >= r.min_level for r in q.requirements)
        ]
        agents[a.id] = {"caps": caps, "load": {"voice": 0, "chat": 0}, "idle": 0.0, "serves": serves}
    waiting = {q: [] for q in config.queues}  # FIFO per queue: (arrived, index, channel, handle)
    waits = []
    wake = [env.event()]

    def room(ag, ch):
        load = ag["load"]
        if load[ch] >= ag["caps"][ch]:
            return False
        if ch == "voice":
            return load["voice"] == 0 and load["chat"] == 0
        return load["voice"] == 0

    def handle(agent_id, ch, seconds):
        yield env.timeout(seconds)
        ag = agents[agent_id]
        ag["load"][ch] -= 1
        ag["idle"] = env.now
        if not wake[0].triggered:
            wake[0].succeed()

    def dispatcher():
        while True:
            yield wake[0]
            wake[0] = env.event()
            moved = True
            while moved:
                moved = False
                heads = sorted((line[0][0], q) for q, line in waiting.items() if line)
                for _, q in heads:
                    arrived, _, ch, seconds = waiting[q][0]
                    free = [
                        (sum(ag["load"].values()), ag["idle"], aid)
                        for aid, ag in agents.items()
                        if q in ag["serves"] and room(ag, ch)
                    ]
                    if free:
                        _, _, aid = min(free)
                        waiting[q].pop(0)
                        agents[aid]["load"][ch] += 1
                        waits.append(env.now - arrived)
                        env.process(handle(aid, ch, seconds))
                        moved = True

    def source():
        for i, a in enumerate(arrivals):
            if a.at > env.now:
                yield env.timeout(a.at - env.now)
            waiting[a.queue].append((env.now, i, a.channel, a.handle))
            if not wake[0].triggered:
                wake[0].succeed()

    env.process(dispatcher())
    env.process(source())
    env.run()
    return float(np.mean(waits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["a", "b"], help="run one scenario")
    args = parser.parse_args()
    if args.only != "b":
        run_a(args)
    if args.only != "a":
        run_b()


def run_b() -> None:
    config, arrivals, shifts = skills_case()
    print(
        f"(b) skills: {len(config.agents)} agents, {len(config.queues)} queues (voice, chat), one week, "
        f"{len(arrivals):,} contacts"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(config, arrivals, shifts, seed=1, sample_every=0)
    ours, cpu = time.perf_counter() - t0, time.process_time() - c0
    waits = [r.wait for r in result.records if r.wait is not None]
    print(
        f"    Omniroute: {len(arrivals) / ours:>10,.0f} contacts/s ({ours:.1f} s; {len(arrivals) / cpu:,.0f}/s of CPU "
        f"time)  mean wait {np.mean(waits):.1f} s"
    )
    t0 = time.perf_counter()
    mean_wait = simpy_skills(config, arrivals)
    theirs = time.perf_counter() - t0
    print(f"    SimPy:     {len(arrivals) / theirs:>10,.0f} contacts/s ({theirs:.1f} s)  mean wait {mean_wait:.1f} s")
    print(f"    ratio Omniroute / SimPy: {theirs / ours:.2f}x")


def run_a(args: argparse.Namespace) -> None:
    case = MMc(50, 0.90)
    theory = erlang_c_kpis(case.agents, case.calls_per_hour, case.aht, case.target)
    print(f"(a) M/M/c: {case.agents} agents, {case.occupancy:.0%} occupancy, {args.contacts:,} contacts")
    print(f"    Erlang C: P(wait) {theory.p_wait:.4f}, ASA {theory.asa:.2f} s")

    # Imports stay out of both timings (SimPy's too, below): the config loader imports its section readers
    # on first use, about 0.2 s of one-off start-up that a run of either does not repeat.
    import customers.config  # noqa: F401
    import simulations.scenario  # noqa: F401

    t0, c0 = time.perf_counter(), time.process_time()
    p_wait, asa, built = omniroute_mmc(case, args.contacts, args.seed)
    ours, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"    Omniroute: {args.contacts / ours:>10,.0f} contacts/s ({ours:.1f} s, of which {built:.1f} s building "
        f"arrivals; {args.contacts / cpu:,.0f}/s of CPU time)  P(wait) {p_wait:.4f}, ASA {asa:.2f} s"
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
