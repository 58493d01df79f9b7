"""The shared reader of the event stream (router/tap.py) gives each consumer what a direct read gives."""

from __future__ import annotations

import asyncio
import time

from router.config import load
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


async def test_consumers_at_any_position_see_the_stream_in_order(tmp_path, redis_url, tenant):
    path = tmp_path / "routing.yaml"
    path.write_text(CONFIG.format(tenant=tenant))
    config = load(path)
    client = await connect(redis_url, tenant=tenant)
    store = RedisStore(client, config)
    await store.load_scripts()
    tap = EventTap(store, keep=3, block_ms=50)
    try:
        await store.set_agent_state("a1", AgentState.AVAILABLE, time.time())  # before the tap: read directly
        start = "0-0"
        await tap.start()
        at_start = await store.last_event_id()
        assert await tap.read_entries(at_start, block_ms=20) == []  # nothing new: waited, empty
        for i in range(10):
            await store.enqueue(f"c{i}", "sales", "chat", time.time())
        direct = await store.read_entries(start, block_ms=None, count=100)
        assert len(direct) == 11

        async def follow(after: str, parsed: bool) -> list[str]:
            seen: list[str] = []
            while len(seen) < len(direct) and (not seen or seen[-1] != direct[-1][0]):
                if parsed:
                    seen += [e.id for e in await tap.read_events(after, block_ms=200, count=4)]
                else:
                    seen += [i for i, _ in await tap.read_entries(after, block_ms=200, count=4)]
                after = seen[-1] if seen else after
            return seen

        ids = [i for i, _ in direct]
        got = await asyncio.gather(follow(start, False), follow(start, True), follow(ids[4], True))
        assert got[0] == ids and got[1] == ids and got[2] == ids[5:]
        assert tap.reads >= 1 and tap.direct >= 1  # the first entry only by a direct read
        # each entry the buffer holds is parsed once, whoever asks
        late = await tap.read_events(ids[-2], block_ms=None)
        assert [e.id for e in late] == ids[-1:]
        assert tap.event_of(*direct[-1]) is late[0]
        assert late[0].contact is not None and late[0].contact["id"] == "c9"
    finally:
        await tap.close()
        await client.aclose()
