"""A live router on real Redis with a hand-moved clock, for routing tests.

The scripts take "now" from the caller, so tests move time by changing ``Harness.now``: no sleeps.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

from router.config import loads
from router.config.model import Config
from router.engine import LiveRouter
from router.lifecycle import AgentState
from router.store import RedisStore, connect

T0 = 1_800_000_000.0  # a fixed start time (2027-01-15)


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body."""
    return asyncio.run(body())


def config_for(tenant: str, yaml_text: str) -> Config:
    return loads(f"tenant: {tenant}\n" + textwrap.dedent(yaml_text), source="test.yaml")


class Harness:
    """One router, one store, one clock."""

    def __init__(self, config: Config, redis_url: str) -> None:
        self.config = config
        self.redis_url = redis_url
        self.now = T0

    async def __aenter__(self) -> Harness:
        self.client = await connect(self.redis_url, tenant=self.config.tenant)
        self.store = RedisStore(self.client, self.config)
        await self.store.load_scripts()
        self.router = LiveRouter(self.store, self.config, clock=lambda: self.now)
        await self.router.load()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def settle(self) -> None:
        """Apply every event and let the router act until it has nothing more to do at ``now``."""
        for _ in range(1000):
            events = await self.store.read_entries(self.router.last_id, block_ms=None)
            self.router.apply_entries(events)
            committed = await self.router.turn(self.now)
            if not committed and not events:
                return
        raise AssertionError("the router did not settle")

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        await self.settle()

    async def arrive(self, contact_id: str, queue: str, channel: str = "voice", **kw: Any) -> None:
        result = await self.store.enqueue(contact_id, queue, channel, self.now, **kw)
        assert result.ok, result
        await self.settle()

    async def login(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            await self.store.set_agent_state(agent_id, AgentState.AVAILABLE, self.now)
        await self.settle()

    async def set_state(self, agent_id: str, state: AgentState, reason: str = "") -> None:
        await self.store.set_agent_state(agent_id, state, self.now, reason)
        await self.settle()

    async def contact(self, contact_id: str) -> dict[str, str]:
        return await self.store.contact(contact_id)

    async def offered_to(self, contact_id: str) -> str | None:
        """The agent ``contact_id`` is offered to, or None if it is not on offer."""
        c = await self.contact(contact_id)
        return c["agent"] if c.get("state") == "offered" else None

    async def offers(self) -> dict[str, str]:
        """contact id -> agent for every contact on offer."""
        out = {}
        for cid in await self.client.smembers(self.store.keys.contacts):
            c = await self.contact(cid)
            if c.get("state") == "offered":
                out[cid] = c["agent"]
        return out

    async def accept(self, contact_id: str) -> None:
        c = await self.contact(contact_id)
        await self.store.accept(contact_id, c["agent"], c["offer_id"], self.now)
        await self.settle()

    async def reject(self, contact_id: str) -> None:
        c = await self.contact(contact_id)
        await self.store.reject(contact_id, c["agent"], c["offer_id"], self.now)
        await self.settle()

    async def complete(self, contact_id: str, disposition: str = "resolved") -> None:
        c = await self.contact(contact_id)
        await self.store.complete(contact_id, c["agent"], self.now, disposition=disposition)
        await self.settle()

    async def serve(self, contact_id: str) -> str:
        """Accept and complete the offer of ``contact_id``; returns the agent that served it."""
        agent = await self.offered_to(contact_id)
        assert agent, f"{contact_id} is not on offer"
        await self.accept(contact_id)
        await self.complete(contact_id)
        return agent

    async def queue_order(self, queue: str) -> list[str]:
        return await self.store.queue_ids(queue)

    async def agent(self, agent_id: str) -> dict[str, str]:
        return await self.store.agent(agent_id)
