"""The live router: the policy on the wall clock, with Redis as the truth.

A LiveRouter keeps a RoutingState mirroring Redis. It loads it at start, then tails the event stream
(every script appends the contact and agent it changed, with a version, so the mirror applies each
change once and ignores older ones). Each turn it commits the timers that fell due and the offers the
policy decided, all pipelined in one round trip each, applies what the scripts return, and blocks on
the stream until the next event or the policy's next deadline.

With a process's shared reader of the stream (:class:`~router.tap.EventTap`), the router takes its turn
in the reader's task as soon as entries are read (:meth:`LiveRouter.entries_read`), instead of being
woken a loop turn later; under load, each wake-up of a task waited for the rest of a busy loop turn
(docs/performance.md). Its own task then only wakes for deadlines, resync steps, and what the reader's
turn left (one turn at a time: a lock). In the reader's turn, the round trip of the router's offers also
reads the stream after the reader's last entry, and feeds what it read to the reader
(:meth:`~router.tap.EventTap.feed`): the gateway has the offers without a read of its own.

Redis stays the truth: every ``resync_every`` seconds (in case the stream was trimmed past what the mirror
read) the router re-reads every agent and active contact, ``resync_chunk`` keys every ``resync_pace``
seconds between its turns, and puts into the mirror only what is newer than it holds; contacts it holds that
Redis no longer lists are read last (dropped if gone). Rebuilding the whole mirror at once stalled the
process for tens of ms at 10,000 agents (docs/performance.md); it is done only at start and after Redis
was unavailable.

Several routers may share one Redis: they decide on their own mirrors and contend only through the
scripts, which re-check every precondition. A router that loses a race reads the contacts and agents
concerned again and decides anew on the next turn. A router that dies loses nothing: its offers are
in Redis and expire there, and any other router requeues them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from router.config.model import Config
from router.events import agent_from_fields, contact_from_fields
from router.policy import RoutingPolicy
from router.state import RoutingState
from router.store import RedisStore, Result
from router.tap import EventTap

log = logging.getLogger(__name__)

# Turns the router takes in a row in the reader's hook while each commits something (each reads back what
# came meanwhile) before it leaves the rest to its own task: under steady load a few, rarely more.
HOOK_TURNS = 64


@dataclass(slots=True)
class RouterStats:
    """Counters of one router's own work."""

    turns: int = 0
    offers: int = 0
    refused: int = 0
    timers: int = 0
    events: int = 0
    resyncs: int = 0


@dataclass(slots=True)
class ResyncPass:
    """A resync of the mirror in progress: what is still to be read."""

    agents: list[str]
    contacts: list[str]
    listed: set[str] = field(default_factory=set)  # the active contacts Redis listed when the pass started
    rest_read: bool = False  # the contacts held here that Redis did not list were read


class LiveRouter:
    """Routes one tenant on the wall clock. See the module docstring."""

    def __init__(
        self,
        store: RedisStore,
        config: Config,
        *,
        policy: RoutingPolicy | None = None,
        clock: Callable[[], float] = time.time,
        max_block: float = 1.0,
        resync_every: float = 60.0,
        resync_chunk: int = 100,
        resync_pace: float = 0.05,
        events: EventTap | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.policy = policy or RoutingPolicy(config.routing.seed)
        self.clock = clock
        self.max_block = max_block  # longest wait for an event before looking at the clock again
        self.resync_every = resync_every  # a pass over Redis, in case the stream was trimmed
        self.resync_chunk = resync_chunk  # agents or contacts a step of the pass reads (one round trip)
        self.resync_pace = resync_pace  # seconds between steps
        self.events = events  # the process's shared reader of the stream (router/tap.py), if any
        self.state = RoutingState(config)
        self.last_id = "0-0"
        self.stats = RouterStats()
        self._stopping = asyncio.Event()
        self._turn_lock = asyncio.Lock()  # one turn (or resync step, or load) at a time
        self._poke = asyncio.Event()  # the router's task has work the reader's turn left it
        self._running = False
        self._outages_seen = 0  # the reader's outages this router has recovered from
        self._loaded_at = 0.0  # when the last full load or resync pass started
        self._resync: ResyncPass | None = None
        self._next_step = 0.0

    async def load(self) -> None:
        """(Re)build the mirror from Redis, all at once (at start, and after Redis was unavailable)."""
        state = RoutingState(self.config)
        self.last_id = await self.store.load(state)
        self.state = state
        self._loaded_at = self.clock()
        self._resync = None
        self.stats.resyncs += 1

    async def resync_step(self, now: float) -> None:
        """One step of the periodic resync (see the module docstring): start a pass every ``resync_every``
        seconds, then read ``resync_chunk`` agents or contacts at most every ``resync_pace`` seconds."""
        step = self._resync
        if step is None:
            if now - self._loaded_at < self.resync_every:
                return
            self._loaded_at = self._next_step = now
            listed = await self.store.active_contacts()
            self._resync = ResyncPass(list(self.config.agents), sorted(listed), set(listed))
            self.stats.resyncs += 1
            return
        if now < self._next_step:
            return
        self._next_step = now + self.resync_pace
        if not step.agents and not step.contacts:
            step.contacts = [cid for cid in self.state.contacts if cid not in step.listed]
            step.rest_read = True
        n = self.resync_chunk
        agents, step.agents = step.agents[:n], step.agents[n:]
        contacts, step.contacts = step.contacts[: n - len(agents)], step.contacts[n - len(agents) :]
        if agents or contacts:
            await self.store.refresh(self.state, contacts, agents, newer_only=True)
        if step.rest_read and not step.contacts:
            self._resync = None

    def stop(self) -> None:
        self._stopping.set()
        self._poke.set()

    async def run(self) -> None:
        """Route until :meth:`stop` is called."""
        await self.store.load_scripts()
        await self.load()
        tap = self.events
        if tap is not None:
            tap.hook = self.entries_read
            self._outages_seen = tap.outages
        self._running = True
        busy = True
        try:
            while not self._stopping.is_set():
                try:
                    if tap is not None and not busy:  # the reader's turns route new entries: wait for the clock
                        await self._wait_poke(self._block_ms(self.clock()))
                    if tap is not None and tap.outages != self._outages_seen:
                        self._outages_seen = tap.outages
                        raise RedisConnectionError("the event stream was unavailable")
                    async with self._turn_lock:
                        now = self.clock()
                        await self.resync_step(now)
                        block = None if busy or tap is not None else self._block_ms(now)
                        entries = await (tap or self.store).read_entries(self.last_id, block_ms=block)
                        self.apply_entries(entries)
                        busy = await self.turn(self.clock())
                except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                    # Redis restarting or a failover: wait, then reload scripts and mirror from scratch.
                    log.warning("redis unavailable (%s); retrying in 1 s", type(exc).__name__)
                    await asyncio.sleep(1.0)
                    try:
                        async with self._turn_lock:
                            await self.store.load_scripts()
                            await self.load()
                    except (RedisConnectionError, RedisTimeoutError, OSError):
                        continue
        finally:
            self._running = False
            if tap is not None and tap.hook == self.entries_read:
                tap.hook = None

    async def _wait_poke(self, block_ms: int) -> None:
        poke = self._poke
        if not poke.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(block_ms / 1000):
                    await poke.wait()
        poke.clear()

    async def entries_read(self, after: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        """The stream reader's hook: ``entries`` (those after ``after``) were just read; route on them now.

        Left to the router's task (poked) when it is taking a turn itself or its position is elsewhere
        (e.g. right after a reload); it then reads the same entries from the reader's buffer.
        """
        if not self._running or self._turn_lock.locked() or self.last_id != after:
            self._poke.set()
            return
        try:
            async with self._turn_lock:
                self.apply_entries(entries)
                tap = self.events
                if tap is not None:
                    tap.read_through("router", self.last_id)
                for _ in range(HOOK_TURNS):  # each turn's offers read back what came meanwhile: route that too
                    if not await self.turn(self.clock(), read_back=tap):
                        break
                else:
                    self._poke.set()  # there may be more to offer
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self._poke.set()  # the router's task meets the same and recovers
        except Exception:
            log.exception("routing on the entries read")
            self._poke.set()

    def _block_ms(self, now: float) -> int:
        deadline = self.policy.next_deadline(self.state, now)
        wait = self.max_block if deadline is None else min(self.max_block, deadline - now)
        # a resync pass starts and goes on at its pace even when nothing happens
        wait = min(wait, (self._loaded_at + self.resync_every if self._resync is None else self._next_step) - now)
        return max(1, int(wait * 1000) + 1)

    def apply_entries(self, entries: Iterable[tuple[str, dict[str, str]]]) -> None:
        """Bring the mirror up to date with stream entries, parsing only snapshots newer than it holds."""
        state = self.state
        tap = self.events
        for entry_id, fields in entries:
            self.last_id = entry_id
            self.stats.events += 1
            event = None
            cid = fields.get("cid")
            if cid and int(fields["cv"]) > state.version_of(cid):
                if tap is not None:  # parsed once for the router and the gateway
                    event = tap.event_of(entry_id, fields)
                contact = event.contact if event is not None and event.contact else orjson.loads(fields["contact"])
                state.put_contact(contact_from_fields(contact))
            aid = fields.get("aid")
            if aid:
                held = state.agents.get(aid)
                if held is None or int(fields["av"]) > held.ver:
                    if tap is not None and event is None:
                        event = tap.event_of(entry_id, fields)
                    agent = event.agent if event is not None and event.agent else orjson.loads(fields["agent"])
                    state.put_agent(agent_from_fields(agent))

    async def turn(self, now: float, *, read_back: EventTap | None = None) -> bool:
        """Commit due timers and new offers once. Returns whether anything was committed.

        With ``read_back`` (the process's reader of the stream, parked in this router's hook, its last entry
        the router's own position), the offers' round trip also reads the stream after that entry: the
        reader gets the offers' entries (and any that came before them) without a read of its own, so the
        gateway delivers the offers one round trip sooner, and the router applies what came meanwhile.
        """
        self.stats.turns += 1
        committed = False
        actions = self.policy.due(self.state, now)
        if actions:
            results = await self.store.run_timers(actions, self.state, now)
            committed |= await self._apply(results, [a.contact_id for a in actions], [])
            self.stats.timers += sum(r.ok for r in results)
        offers = self.policy.decide(self.state, now)
        if offers:
            after = read_back.tail if read_back is not None else None
            entries: list[tuple[str, dict[str, str]]] = []
            if read_back is not None and after is not None and after == self.last_id:
                results, entries = await self.store.offer_many_and_read(offers, now, after)
                if not read_back.feed(after, entries):
                    entries = []
            else:
                results = await self.store.offer_many(offers, now)
            ok = await self._apply(results, [o.contact_id for o in offers], [o.agent_id for o in offers])
            committed |= ok
            self.stats.offers += sum(r.ok for r in results)
            if entries:
                self.apply_entries(entries)
                read_back.read_through("router", self.last_id)
        return committed

    async def _apply(self, results: list[Result], contact_ids: list[str], agent_ids: list[str]) -> bool:
        stale_contacts, stale_agents = set(), set()
        any_ok = False
        for i, result in enumerate(results):
            if result.ok:
                any_ok = True
                if result.contact is not None:
                    self.state.put_contact(result.contact)
                if result.agent is not None:
                    self.state.put_agent(result.agent)
            else:
                self.stats.refused += 1
                stale_contacts.add(contact_ids[i])
                stale_contacts.update(result.detail)
                if agent_ids:
                    stale_agents.add(agent_ids[i])
        if stale_contacts or stale_agents:
            await self.store.refresh(self.state, stale_contacts, stale_agents)
        return any_ok
