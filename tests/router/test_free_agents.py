"""The free-agent index: an indexed heap of seats that must always hold exactly the agents added and not
discarded since, each at its position, in longest-idle order (least load, longest idle, id)."""

from __future__ import annotations

import random

from router.state import AgentView, FreeAgents


def check(bucket: FreeAgents, expected: dict[str, AgentView]) -> None:
    heap = bucket.heap
    assert {s.id for s in heap} == set(expected)
    for pos, seat in enumerate(heap):
        assert seat.pos == pos
        assert seat.agent is expected[seat.id]
        assert (seat.load, seat.idle_since) == (seat.agent.total_load, seat.agent.idle_since)
        for child in (2 * pos + 1, 2 * pos + 2):
            if child < len(heap):
                c = heap[child]
                assert (seat.load, seat.idle_since, seat.id) < (c.load, c.idle_since, c.id)
    for agent_id in expected:
        assert agent_id in bucket
    assert len(bucket) == len(expected)


def walk(bucket: FreeAgents) -> list[str]:
    """The ids in heap order, as the policy walks them (taken out, then put back)."""
    taken = [bucket.pop() for _ in range(len(bucket))]
    for seat in taken:
        bucket.push(seat)
    return [s.id for s in taken]


def test_random_adds_moves_and_discards_keep_the_heap_exact():
    rng = random.Random(5)
    bucket = FreeAgents()
    views = {f"a{i}": AgentView(id=f"a{i}") for i in range(40)}
    seats = {agent_id: bucket.seat_for(v) for agent_id, v in views.items()}
    inside: dict[str, AgentView] = {}
    for _ in range(5000):
        agent_id = rng.choice(list(views))
        if rng.random() < 0.35:
            bucket.discard(seats[agent_id])
            inside.pop(agent_id, None)
        else:
            # A new snapshot (as the live mirror puts) or the same view changed in place (as the simulator does).
            if rng.random() < 0.5:
                views[agent_id] = views[agent_id].copy(load={"chat": rng.randint(1, 2)} if rng.random() < 0.3 else {})
            v = views[agent_id]
            v.idle_since = float(rng.randint(0, 20))  # ties on idle time are broken by id
            bucket.add(seats[agent_id], v)
            inside[agent_id] = v
        check(bucket, inside)
    order = walk(bucket)
    assert order == sorted(inside, key=lambda i: (inside[i].total_load, inside[i].idle_since, i))
    check(bucket, inside)
