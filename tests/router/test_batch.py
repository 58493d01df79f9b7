"""Scripts of one loop turn go to Redis in one pipeline (router/batch.py), each caller getting its own reply."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError

from router.batch import Batcher
from router.config import load
from router.direct import Direct
from router.errors import StaleDecision
from router.lifecycle import AgentState
from router.store import RedisStore, connect
from tests.support import free_port

CONFIG = """
tenant: {tenant}
channels: {{chat: {{capacity: 1}}}}
skills: [sales]
queues: {{sales: {{channels: [chat], skills: {{sales: 1}}}}}}
agents:
  - {{id: a1, skills: {{sales: 5}}, channels: [chat]}}
  - {{id: a2, skills: {{sales: 5}}, channels: [chat]}}
  - {{id: a3, skills: {{sales: 5}}, channels: [chat]}}
"""


async def test_one_turns_scripts_share_a_round_trip_and_keep_their_own_replies(tmp_path, redis_url, tenant):
    path = tmp_path / "routing.yaml"
    path.write_text(CONFIG.format(tenant=tenant))
    client = await connect(redis_url, tenant=tenant)
    store = RedisStore(client, load(path))
    store.batch = Batcher(store.direct)
    try:
        await store.load_scripts()
        now = time.time()
        results = await asyncio.gather(
            *(store.set_agent_state(a, AgentState.AVAILABLE, now) for a in ("a1", "a2", "a3")),
            store.end_wrapup("nobody", "a1", now),  # refused: its caller alone hears it
            return_exceptions=True,
        )
        assert [str(r.agent.state) for r in results[:3]] == ["available"] * 3
        assert [r.agent.id for r in results[:3]] == ["a1", "a2", "a3"]
        assert isinstance(results[3], StaleDecision)
        assert (store.batch.pipelines, store.batch.commands) == (1, 4)

        # a script and reads after it stay together and in order; a script Redis lost is loaded again
        await client.script_flush()
        replies = await asyncio.gather(
            store.batch.execute(("SET", f"or:{{{tenant}}}:x", "1"), ("GET", f"or:{{{tenant}}}:x")),
            store.set_agent_state("a1", AgentState.AWAY, time.time(), "lunch"),
        )
        assert replies[0] == [True, "1"]
        assert str(replies[1].agent.state) == "away"

        # a caller cancelled before the turn ends sends nothing
        waiting = asyncio.ensure_future(store.batch.execute(("GET", "k")))
        await asyncio.sleep(0)
        waiting.cancel()
        sent = store.batch.commands
        await asyncio.sleep(0.05)
        assert store.batch.commands == sent
    finally:
        await client.aclose()
    # a lost round trip reaches every caller
    nowhere = aredis.Redis(port=free_port())  # nothing listens there
    broken = Batcher(Direct(nowhere))
    replies = await asyncio.gather(broken.execute(("PING",)), broken.execute(("PING",)), return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in replies)
    await nowhere.aclose()
