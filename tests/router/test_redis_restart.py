"""A router outlives a Redis restart: it waits, reloads its scripts and mirror, and routes on."""

from __future__ import annotations

import asyncio
import signal
import time

from router.config import load
from router.lifecycle import AgentState
from router.store import RedisStore, connect
from tests.router.invariants import start_router
from tests.support import UNIT, RedisServer

CONFIG = """
tenant: {tenant}
channels: {{voice: {{capacity: 1, exclusive: true}}}}
skills: [sales]
queues: {{sales: {{channels: [voice], skills: {{sales: 1}}}}}}
agents:
  - {{id: a1, skills: {{sales: 5}}, channels: [voice]}}
  - {{id: a2, skills: {{sales: 5}}, channels: [voice]}}
"""


async def offered_to(store: RedisStore, contact_id: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        contact = await store.contact(contact_id)
        if contact.get("state") == "offered":
            return contact["agent"]
        await asyncio.sleep(0.05)
    return None


def test_a_router_routes_on_after_redis_restarts(tmp_path, tenant):
    data = tmp_path / "redis"
    server = RedisServer.start(data, "--appendonly", "yes", "--appendfsync", "always", "--save", "")
    port = server.port
    config_path = tmp_path / "routing.yaml"
    config_path.write_text(CONFIG.format(tenant=tenant))
    config = load(config_path)
    router = start_router(config_path, server.url, tmp_path / "router.log")

    async def before() -> None:
        client = await connect(server.url, tenant=tenant)
        store = RedisStore(client, config)
        await store.set_agent_state("a1", AgentState.AVAILABLE, time.time())
        await store.enqueue("c1", "sales", "voice", time.time())
        assert await offered_to(store, "c1", 10 * UNIT) == "a1"
        await client.aclose()

    async def after() -> None:
        client = await connect(server.url, tenant=tenant)
        store = RedisStore(client, config)
        assert (await store.contact("c1"))["state"] == "offered"  # kept on disk through the restart
        await store.set_agent_state("a2", AgentState.AVAILABLE, time.time())
        await store.enqueue("c2", "sales", "voice", time.time())
        assert await offered_to(store, "c2", 15 * UNIT) == "a2"
        await client.aclose()

    try:
        asyncio.run(before())
        server.process.send_signal(signal.SIGKILL)  # a crash, not a clean shutdown
        server.process.wait()
        time.sleep(1.5)  # the router notices and waits
        server = RedisServer.start(data, "--appendonly", "yes", "--appendfsync", "always", "--save", "", port=port)
        asyncio.run(after())
        assert router.poll() is None, "the router should still be running"
    finally:
        router.send_signal(signal.SIGTERM)
        router.wait(timeout=10)
        server.stop()
    assert "redis unavailable" in (tmp_path / "router.log").read_text()
