"""The router's periodic resync: Redis read back in slices into the live mirror (not rebuilt at once)."""

from __future__ import annotations

import asyncio
import time

from router.engine import LiveRouter
from router.lifecycle import AgentState
from router.store import RedisStore, connect
from tests.router.harness import Harness, config_for, run

CONFIG = """
channels: {chat: {capacity: 1}}
skills: [sales, support]
queues:
  sales: {channels: [chat], skills: {sales: 1}}
  support: {channels: [chat], skills: {support: 1}}
agents:
"""


def test_a_mirror_that_missed_events_is_put_right_a_slice_at_a_time(redis_url, tenant):
    ids = [f"a{i}" for i in range(1, 8)]
    config = config_for(
        tenant, CONFIG + "".join(f"  - {{id: {a}, skills: {{sales: 5}}, channels: [chat]}}\n" for a in ids)
    )

    async def body():
        async with Harness(config, redis_url) as h:
            r = h.router
            r.resync_chunk, r.resync_every, r.resync_pace = 2, 60.0, 0.05
            await h.login(*ids)
            await h.arrive("gone", "support", "chat")  # no one serves support: it waits
            assert "gone" in r.state.contacts
            # Changes the mirror never hears of (as if the stream had been trimmed past them).
            await h.store.set_agent_state("a7", AgentState.AWAY, h.now, "lunch")
            await h.store.enqueue("new", "support", "chat", h.now)
            await h.store.abandon("gone", h.now)
            r.last_id = await h.store.last_event_id()
            mirror = r.state
            assert r.state.agents["a7"].state == "available" and "new" not in r.state.contacts

            h.now += 61
            passes = r.stats.resyncs
            await r.resync_step(h.now)  # a pass starts: the active contacts are listed
            assert r.stats.resyncs == passes + 1
            steps = 0
            while r.state.agents["a7"].state != "away":
                h.now += 0.05
                await r.resync_step(h.now)
                steps += 1
                assert r.state is mirror  # put right in place, never rebuilt
                assert steps <= 4
            assert steps == 4  # 2 agents a step: a7 is in the fourth
            for _ in range(5):
                h.now += 0.05
                await r.resync_step(h.now)
            assert "new" in r.state.contacts and r.state.contacts["new"].state == "queued"
            assert "gone" not in r.state.contacts
            assert r.state.waiting == 1
            assert r.stats.resyncs == passes + 1  # the pass is over; the next one a minute after it started
            await r.resync_step(h.now + 30)
            assert r.stats.resyncs == passes + 1

            # what the resync read is routed on: a new sales contact goes to an available agent, never a7
            await h.arrive("c1", "sales", "chat")
            assert await h.offered_to("c1") in ids[:-1]

    run(body)


def test_a_running_router_resyncs_while_idle(redis_url, tenant):
    ids = [f"a{i}" for i in range(1, 8)]
    config = config_for(
        tenant, CONFIG + "".join(f"  - {{id: {a}, skills: {{sales: 5}}, channels: [chat]}}\n" for a in ids)
    )

    async def body():
        client = await connect(redis_url, tenant=tenant)
        store = RedisStore(client, config)
        await store.load_scripts()
        for a in ids:
            await store.set_agent_state(a, AgentState.AVAILABLE, time.time())
        # max_block 3 s: without events the router would wait that long between steps of a pass
        router = LiveRouter(store, config, max_block=3.0, resync_every=0.5, resync_chunk=2, resync_pace=0.05)
        task = asyncio.create_task(router.run())
        try:
            while router.stats.resyncs == 0 or router.state.agents["a7"].state != "available":
                await asyncio.sleep(0.05)
            mirror = router.state
            # a change whose event the stream lost (written behind the scripts' back: no event wakes the router)
            key = store.keys.agent("a7")
            ver = int(await client.hget(key, "ver"))
            await client.hset(key, mapping={"state": "away", "reason": "lunch", "ver": ver + 1})
            async with asyncio.timeout(2.0):  # a pass of 5 steps in well under a second, not 5 x 3 s
                while router.state.agents["a7"].state != "away":
                    await asyncio.sleep(0.05)
            assert router.state is mirror
        finally:
            router.stop()
            await asyncio.wait_for(task, 10)
            await client.aclose()

    run(body)
