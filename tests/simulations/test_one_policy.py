"""One policy, two clocks: the simulator routes as the live router does.

A live run on real Redis (the live router with its Lua scripts, on a moved clock; scripted agents who
accept at once and hold each contact a fixed time) and the simulator given the same arrivals and
shifts must make the same contact-to-agent assignments, in the same order; and changing the strategy
in routing.yaml changes the outcome in both alike.
"""

from __future__ import annotations

import heapq
import random

import pytest

from router.events import EventType
from simulations.engine import simulate
from simulations.model import Arrival, Shift
from tests.router.harness import T0, Harness, config_for, run

ROUTING = """
routing: {{offer_timeout: 30, aging: {{every: 20, step: 1, max_boost: 3}}, last_agent: 15}}
channels:
  voice: {{capacity: 1, exclusive: true}}
  chat: {{capacity: 2}}
skills: [sales, support, es]
queues:
  sales: {{channels: [voice, chat], skills: {{sales: 3}}, strategy: {strategy}, priority: 1}}
  support:
    channels: [voice, chat]
    skills: {{support: 6}}
    strategy: {strategy}
    escalation: [{{after: 25, skills: {{support: 2}}}}]
agents:
  - {{id: a1, skills: {{sales: 9, support: 2}}, channels: [voice, chat]}}
  - {{id: a2, skills: {{sales: 4, support: 7}}, channels: [voice, chat]}}
  - {{id: a3, skills: {{sales: 6, support: 9, es: 5}}, channels: [voice, chat]}}
  - {{id: a4, skills: {{sales: 3, support: 3}}, channels: [chat]}}
"""


def traffic(seed: int, n: int = 60) -> list[Arrival]:
    rng = random.Random(seed)
    t = 0.0
    out = []
    for i in range(n):
        t += round(rng.uniform(1.0, 12.0), 3)  # distinct times: no simultaneous events to order
        out.append(
            Arrival(
                at=t,
                id=f"c{i:03d}",
                queue=rng.choice(["sales", "support"]),
                channel=rng.choice(["voice", "chat"]),
                handle=round(rng.uniform(20.0, 90.0), 3),
                customer=f"cust{rng.randint(1, 12)}",
            )
        )
    return out


SHIFTS = [Shift(agent=a, start=0.0, end=1e6) for a in ("a1", "a2", "a3", "a4")]


async def live_assignments(config, redis_url: str, arrivals: list[Arrival]) -> list[tuple[str, str]]:
    """Drive the live router through ``arrivals`` with agents who accept at once and complete after
    the contact's handle time; return (contact, agent) per offer, in stream order."""
    handle = {a.id: a.handle for a in arrivals}
    async with Harness(config, redis_url) as h:
        await h.login("a1", "a2", "a3", "a4")
        start_id = await h.store.last_event_id()
        pending = [(a.at, 0, a.id, a) for a in arrivals]  # (time, kind: 0 arrive, 1 complete, 2 wake; ...)
        heapq.heapify(pending)
        seen_offers: set[str] = set()
        while pending:
            at, kind, contact_id, arrival = heapq.heappop(pending)
            h.now = T0 + at
            await h.settle()  # timers due by now
            if kind == 0:
                await h.arrive(arrival.id, arrival.queue, arrival.channel, customer=arrival.customer)
            elif kind == 1:
                await h.complete(contact_id)
            for cid, _agent in (await h.offers()).items():
                if cid not in seen_offers:
                    seen_offers.add(cid)
                    await h.accept(cid)
                    heapq.heappush(pending, (at + handle[cid], 1, cid, None))
            # The live router would wake at its policy's next deadline (an escalation step, say): so do we.
            deadline = h.router.policy.next_deadline(h.router.state, h.now)
            if deadline is not None and deadline > h.now and (not pending or deadline - T0 < pending[0][0]):
                heapq.heappush(pending, (deadline - T0, 2, "", None))
        events = await h.store.events_between(f"({start_id}")
        return [(e.contact["id"], e.contact["agent"]) for e in events if e.type == EventType.CONTACT_OFFERED]


@pytest.mark.parametrize("strategy", ["longest-idle", "most-skilled", "round-robin"])
def test_a_live_run_replayed_through_the_simulator_makes_the_same_assignments(redis_url, tenant, strategy):
    config = config_for(tenant, ROUTING.format(strategy=strategy))
    arrivals = traffic(seed=5)
    live = run(lambda: live_assignments(config, redis_url, arrivals))
    simulated = simulate(config, arrivals, SHIFTS, seed=0, sample_every=0).assignments
    assert len(live) >= len(arrivals)
    assert simulated == live


def test_changing_the_strategy_changes_the_outcome_in_both_alike(redis_url, tenant):
    arrivals = traffic(seed=8)
    outcomes = {}
    for strategy in ("longest-idle", "most-skilled"):
        config = config_for(f"{tenant}{strategy[:4]}", ROUTING.format(strategy=strategy))
        live = run(lambda config=config: live_assignments(config, redis_url, arrivals))
        simulated = simulate(config, arrivals, SHIFTS, seed=0, sample_every=0).assignments
        assert simulated == live
        outcomes[strategy] = simulated
    assert outcomes["longest-idle"] != outcomes["most-skilled"]
