"""Live figures of agents and queues for supervisors, ``/metrics`` and wait estimates, kept in memory.

Theory of operation
-------------------
The ticker used to read every agent and every active contact from Redis each ``gateway.stats_every``
(at 10,000 agents most of the process, and a stall of the event loop each second). The :class:`Board`
instead holds each agent's state, reason, load and version and each active contact's queue, state and
enqueue time, and keeps them current from the snapshots that every event of the stream carries (the
gateway already follows it; :meth:`Board.observe`). Counts move with each change: agents by state, per
queue the agents available and logged in, per queue and state the contacts; an event costs
O(queues of its agent), never O(agents). A tick reads only the day's service-level counters.

Redis stays the truth: :meth:`Board.load` reads everything once at start, and :meth:`Board.resync_step`
re-reads a slice each tick (agents and active contacts, a whole pass at most once a minute), applying
what it reads only when its version is newer than what the board holds, as the router's mirror does. A
contact read before it finished is not brought back (those gone during the pass are remembered), and a
contact the board holds that Redis no longer lists as active is dropped unless an event touched it after
the pass started.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from router.config.model import Config
from router.events import Event
from router.stats import QueueStats, ServiceLevel
from router.store import RedisStore

ACTIVE = frozenset({"queued", "offered", "connected", "wrapup"})
CONTACT_FIELDS = ("queue", "state", "enqueued_at", "ver")
PASS_EVERY = 60.0  # seconds: at most one full resync pass a minute
CHUNK = 250  # agents or contacts a tick re-reads (one pipelined round trip)
LOAD_CHUNK = 2000  # the same at start


@dataclass(slots=True)
class AgentFigures:
    state: str = "offline"
    reason: str = ""
    load: dict[str, int] = field(default_factory=dict)
    ver: int = 0

    @property
    def bucket(self) -> str:
        """available, busy (available and holding something), away or offline."""
        if self.state == "available" and any(self.load.values()):
            return "busy"
        return self.state


@dataclass(slots=True)
class ContactFigures:
    queue: str
    state: str
    enqueued_at: float
    ver: int
    touched: int  # Board.touches when last changed


@dataclass(slots=True)
class Pass:
    """A resync pass in progress."""

    agents: list[str]  # still to read
    contacts: list[str] = field(default_factory=list)  # still to read
    touches: int = 0  # Board.touches when the pass started
    listed: frozenset[str] = frozenset()  # the active contacts Redis listed when the pass started
    gone: set[str] = field(default_factory=set)  # contacts that finished during the pass


class Board:
    """Agents' and active contacts' figures of one tenant. See the module docstring."""

    def __init__(self, config: Config, queues_of: Callable[[str], Iterable[str]]) -> None:
        self.config = config
        self.queues_of = queues_of
        self.agents: dict[str, AgentFigures] = {a: AgentFigures() for a in config.agents}
        self.contacts: dict[str, ContactFigures] = {}
        self.by_state: dict[str, int] = {"available": 0, "away": 0, "offline": len(self.agents), "busy": 0}
        self.available: dict[str, int] = dict.fromkeys(config.queues, 0)  # queue -> agents available
        self.serving: dict[str, int] = dict.fromkeys(config.queues, 0)  # queue -> agents logged in
        self.counts: dict[tuple[str, str], int] = {}  # (queue, contact state) -> contacts
        self.waiting: dict[str, dict[str, float]] = {q: {} for q in config.queues}  # queue -> id -> enqueued at
        self.touches = 0
        self.next_pass = 0.0
        self._pass: Pass | None = None

    # -- applying snapshots ---------------------------------------------------------------------------

    def observe(self, event: Event) -> None:
        """Apply an event's contact and agent snapshots (each only if newer than what the board holds)."""
        if event.agent:
            self.put_agent(event.agent)
        if event.contact:
            self.put_contact(event.contact)

    def put_agent(self, d: dict[str, Any]) -> None:
        held = self.agents.get(d.get("id", ""))
        if held is None:
            return
        ver = int(d.get("ver") or 0)
        if ver <= held.ver:
            return
        self._count_agent(d["id"], held, -1)
        held.state = d.get("state") or "offline"
        held.reason = d.get("reason", "")
        held.load = {k[5:]: int(v) for k, v in d.items() if k.startswith("load:") and int(v)}
        held.ver = ver
        self._count_agent(d["id"], held, 1)

    def _count_agent(self, agent_id: str, a: AgentFigures, sign: int) -> None:
        bucket = a.bucket
        self.by_state[bucket] = self.by_state.get(bucket, 0) + sign
        if a.state != "offline":
            for queue in self.queues_of(agent_id):
                self.serving[queue] = self.serving.get(queue, 0) + sign
                if a.state == "available":
                    self.available[queue] = self.available.get(queue, 0) + sign

    def put_contact(self, d: dict[str, Any], *, read: Pass | None = None) -> None:
        """Apply a contact snapshot (``read``: it comes from the resync pass, not from the stream)."""
        cid = d.get("id", "")
        ver = int(d.get("ver") or 0)
        held = self.contacts.get(cid)
        if held is not None and ver <= held.ver:
            return
        if held is None and read is not None and cid in read.gone:
            return  # finished after it was read
        self.touches += 1
        if held is not None:
            self._count_contact(cid, held, -1)
        state = d.get("state", "")
        if state not in ACTIVE:
            if held is not None:
                del self.contacts[cid]
            if self._pass is not None and read is None:
                self._pass.gone.add(cid)
            return
        c = ContactFigures(d.get("queue", ""), state, float(d.get("enqueued_at") or 0), ver, self.touches)
        self.contacts[cid] = c
        self._count_contact(cid, c, 1)

    def _count_contact(self, cid: str, c: ContactFigures, sign: int) -> None:
        key = (c.queue, c.state)
        self.counts[key] = self.counts.get(key, 0) + sign
        if c.state == "queued":
            waiting = self.waiting.setdefault(c.queue, {})
            if sign > 0:
                waiting[cid] = c.enqueued_at
            else:
                waiting.pop(cid, None)

    # -- reading Redis --------------------------------------------------------------------------------

    async def load(self, store: RedisStore) -> None:
        """Read every agent and active contact (at start, before following the stream)."""
        step = Pass(list(self.agents), await _active(store))
        while step.agents or step.contacts:
            await self._read(store, step, LOAD_CHUNK)

    async def resync_step(self, store: RedisStore, now: float) -> None:
        """Re-read the next slice of agents and contacts (one round trip); a pass at most every minute."""
        if self._pass is None:
            if now < self.next_pass:
                return
            self.next_pass = now + PASS_EVERY
            contacts = await _active(store)
            self._pass = Pass(list(self.agents), contacts, self.touches, frozenset(contacts))
        step = self._pass
        await self._read(store, step, CHUNK)
        if not step.agents and not step.contacts:
            for cid, c in list(self.contacts.items()):
                if cid not in step.listed and c.touched <= step.touches:
                    self._count_contact(cid, c, -1)
                    del self.contacts[cid]
            self._pass = None

    async def _read(self, store: RedisStore, step: Pass, chunk: int) -> None:
        agents, step.agents = step.agents[:chunk], step.agents[chunk:]
        contacts, step.contacts = step.contacts[: chunk - len(agents)], step.contacts[chunk - len(agents) :]
        pipe = store.client.pipeline(transaction=False)
        for agent_id in agents:
            pipe.hgetall(store.keys.agent(agent_id))
        for cid in contacts:
            pipe.hmget(store.keys.contact(cid), CONTACT_FIELDS)
        rows = await pipe.execute() if agents or contacts else []
        for fields in rows[: len(agents)]:
            if fields:
                self.put_agent(fields)
        for cid, row in zip(contacts, rows[len(agents) :], strict=True):
            if row[0] is not None:
                self.put_contact({"id": cid, **dict(zip(CONTACT_FIELDS, row, strict=True))}, read=step)

    # -- figures ----------------------------------------------------------------------------------------

    def queue_stats(self, now: float, counters: dict[str, str]) -> list[QueueStats]:
        """Per queue: waiting, oldest wait, on offer, connected, agents available, today's service level
        (``counters``: the day's counters hash, :meth:`RedisStore.stats`)."""
        out = []
        for name in self.config.queues:
            waiting = self.waiting.get(name, {})
            oldest = min(waiting.values(), default=math.inf)
            out.append(
                QueueStats(
                    queue=name,
                    waiting=len(waiting),
                    oldest_wait=now - oldest if waiting else None,
                    offered=self.counts.get((name, "offered"), 0),
                    connected=self.counts.get((name, "connected"), 0) + self.counts.get((name, "wrapup"), 0),
                    agents_available=self.available.get(name, 0),
                    today=ServiceLevel.from_counters(counters, name),
                )
            )
        return out


async def _active(store: RedisStore) -> list[str]:
    return sorted(await store.client.smembers(store.keys.contacts))
