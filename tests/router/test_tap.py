"""The shared reader of the event stream (router/tap.py) gives each consumer what a direct read gives."""

from __future__ import annotations

import asyncio
import time

from router.config import load
from router.engine import LiveRouter
from router.events import Event, EventType
from router.lifecycle import AgentState
from router.store import RedisStore, connect
from router.tap import EventTap

CONFIG = """
tenant: {tenant}
channels: {{chat: {{capacity: 1}}}}
skills: [sales]
queues: {{sales: {{channels: [chat], skills: {{sales: 1}}}}}}
agents:
  - {{id: a1, skills: {{sales: 5}}, channels: [chat]}}
"""


async def _store(tmp_path, redis_url: str, tenant: str, text: str) -> RedisStore:
    """A store of the tenant configured by ``text`` (its client closed by the caller), scripts loaded."""
    path = tmp_path / "routing.yaml"
    path.write_text(text.format(tenant=tenant))
    store = RedisStore(await connect(redis_url, tenant=tenant), load(path))
    await store.load_scripts()
    return store


async def test_consumers_at_any_position_see_the_stream_in_order(tmp_path, redis_url, tenant):
    store = await _store(tmp_path, redis_url, tenant, CONFIG)
    client = store.client
    tap = EventTap(store, keep=3, block_ms=50)
    try:
        await store.set_agent_state("a1", AgentState.AVAILABLE, time.time())  # before the tap: read directly
        start = "0-0"
        at_start = await store.last_event_id()
        # two consumers' first reads at once start one reader
        assert await asyncio.gather(*(tap.read_entries(at_start, block_ms=20) for _ in range(2))) == [[], []]
        assert len([t for t in asyncio.all_tasks() if t.get_name() == "event-tap"]) == 1
        await asyncio.sleep(0.1)  # the reader took its position
        assert await tap.read_entries(at_start, block_ms=20) == []  # nothing new: waited, empty
        for i in range(10):
            await store.enqueue(f"c{i}", "sales", "chat", time.time())
        direct = await store.read_entries(start, block_ms=None, count=100)
        assert len(direct) == 11

        async def follow(after: str, parsed: bool, name: str) -> list[str]:
            seen: list[str] = []
            while len(seen) < len(direct) and (not seen or seen[-1] != direct[-1][0]):
                if parsed:
                    seen += [e.id for e in await tap.read_events(after, block_ms=200, count=4, consumer=name)]
                else:
                    seen += [i for i, _ in await tap.read_entries(after, block_ms=200, count=4, consumer=name)]
                after = seen[-1] if seen else after
            return seen

        ids = [i for i, _ in direct]
        got = await asyncio.gather(follow(start, False, "a"), follow(start, True, "b"), follow(ids[4], True, "c"))
        assert got[0] == ids and got[1] == ids and got[2] == ids[5:]
        assert tap.reads >= 1 and tap.direct >= 1  # the first entry only by a direct read
        # each entry the buffer holds is parsed once, whoever asks
        late = await tap.read_events(ids[-2], block_ms=None)
        assert [e.id for e in late] == ids[-1:]
        assert tap.event_of(*direct[-1]) is tap.event_of(*direct[-1])
        assert late[0].contact is not None and late[0].contact["id"] == "c9"
    finally:
        await tap.close()
        await client.aclose()


TWO_AGENTS = CONFIG + "  - {{id: a2, skills: {{sales: 5}}, channels: [chat]}}\n"


async def test_the_router_routes_in_the_readers_turn_and_its_own_task_takes_what_that_turn_could_not(
    tmp_path, redis_url, tenant
):
    """With a shared reader, arrivals are routed by the router's hook in the reader's task, and the offers'
    round trip reads the stream back for the reader (its consumers see every entry once, in order); an
    arrival read while the router's own task holds its turn is left to that task, which routes it at once
    (not after ``max_block``, an hour here)."""
    store = await _store(tmp_path, redis_url, tenant, TWO_AGENTS)
    client = store.client
    tap = EventTap(store, block_ms=50)
    router = LiveRouter(store, store.config, events=tap, max_block=3600.0, resync_every=3600.0)
    task = asyncio.create_task(router.run())

    async def offered(contact_id: str) -> str:
        for _ in range(100):
            fields = await store.contact(contact_id)
            if fields.get("state") == "offered":
                return fields["agent"]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{contact_id} was not offered within 5 s: {fields}")

    try:
        for agent in ("a1", "a2"):
            await store.set_agent_state(agent, AgentState.AVAILABLE, time.time())
        while tap.hook is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the router's own task has settled: it waits for its (hour-long) deadline
        start = await store.last_event_id()
        await store.enqueue("c1", "sales", "chat", time.time())
        assert await offered("c1") in ("a1", "a2")
        for _ in range(40):  # the offer's entry comes back with its script's reply (not by a read of the reader's)
            if tap.fed:
                break
            await asyncio.sleep(0.05)
        assert tap.fed >= 1
        seen: list[Event] = []
        while not any(e.type == EventType.CONTACT_OFFERED for e in seen):  # as the gateway follows the stream
            seen += await tap.read_events(seen[-1].id if seen else start, block_ms=1000, consumer="gateway")
        direct = [i for i, _ in await store.read_entries(start, block_ms=None)]
        assert [e.id for e in seen] == direct  # the arrival, the offer: each once, in order
        turns = router.stats.turns
        async with router._turn_lock:  # the router's own task is in a turn: the reader's hook must not wait
            await store.enqueue("c2", "sales", "chat", time.time())
            await asyncio.sleep(0.3)  # the reader read it meanwhile
            assert (await store.contact("c2"))["state"] == "queued"
        assert await offered("c2") in ("a1", "a2")
        assert router.stats.turns > turns
    finally:
        router.stop()
        await asyncio.wait_for(task, 10)
        assert tap.hook is None  # a stopped router leaves the reader alone
        await tap.close()
        await client.aclose()
