"""The router's Python API, for the gateway, the IVR and scripts to build on.

Commands commit through the store's scripts with the client's clock; :meth:`RouterClient.subscribe`
follows the event stream (offers, revocations, state changes) from any process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

from router.events import Event, EventType
from router.lifecycle import AgentState
from router.store import RedisStore, Result
from skills.model import Requirements


class RouterClient:
    """Enqueue contacts, change agent state, answer offers, and follow what happens."""

    def __init__(self, store: RedisStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def enqueue(
        self,
        queue: str,
        channel: str,
        *,
        customer: str = "",
        contact_id: str | None = None,
        priority: int | None = None,
        skills: Requirements = (),
        attrs: dict[str, Any] | None = None,
    ) -> Result:
        """Put a new contact in line; returns it (with its id) as the script saw it."""
        cid = contact_id or uuid.uuid4().hex
        return await self.store.enqueue(
            cid, queue, channel, self.clock(), customer=customer, priority=priority, skills=skills, attrs=attrs
        )

    async def set_agent_state(self, agent_id: str, state: AgentState, reason: str = "") -> Result:
        return await self.store.set_agent_state(agent_id, state, self.clock(), reason)

    async def accept(self, contact_id: str, agent_id: str, offer_id: str) -> Result:
        return await self.store.accept(contact_id, agent_id, offer_id, self.clock())

    async def reject(self, contact_id: str, agent_id: str, offer_id: str) -> Result:
        return await self.store.reject(contact_id, agent_id, offer_id, self.clock())

    async def revoke(self, contact_id: str, agent_id: str, offer_id: str) -> Result:
        return await self.store.revoke(contact_id, agent_id, offer_id, self.clock())

    async def complete(self, contact_id: str, agent_id: str, *, disposition: str = "", note: str = "") -> Result:
        return await self.store.complete(contact_id, agent_id, self.clock(), disposition=disposition, note=note)

    async def end_wrapup(self, contact_id: str, agent_id: str) -> Result:
        return await self.store.end_wrapup(contact_id, agent_id, self.clock())

    async def abandon(self, contact_id: str, reason: str = "customer_left") -> Result:
        return await self.store.abandon(contact_id, self.clock(), reason)

    async def transfer(self, contact_id: str, agent_id: str, to_queue: str, *, to_agent: str = "") -> Result:
        return await self.store.transfer(contact_id, agent_id, to_queue, self.clock(), to_agent=to_agent)

    async def subscribe(
        self,
        *,
        after: str = "$",
        types: Collection[EventType] | None = None,
        agents: Collection[str] | None = None,
        block_ms: int = 1000,
    ) -> AsyncIterator[Event]:
        """Events from the stream after ``after`` ("$": from now on), filtered by type and agent."""
        last = await self.store.last_event_id() if after == "$" else after
        while True:
            for event in await self.store.read_events(last, block_ms=block_ms):
                last = event.id
                if types is not None and event.type not in types:
                    continue
                if agents is not None:
                    holder = (event.contact or {}).get("agent") or (event.agent or {}).get("id")
                    if holder not in agents:
                        continue
                yield event

    def offers(self, agents: Collection[str] | None = None, *, after: str = "$") -> AsyncIterator[Event]:
        """Offers made to ``agents`` (all agents when None), as ``contact.offered`` events."""
        return self.subscribe(after=after, types={EventType.CONTACT_OFFERED}, agents=agents)

    async def no_answer(self, contact_id: str, agent_id: str) -> Result:
        """The agent's phone did not answer a call it accepted: requeued in place, the agent set away (no_answer)."""
        return await self.store.no_answer(contact_id, agent_id, self.clock())
