"""The Redis adapter: keys, scripts, and the calls that change routing state.

Every change is one Lua script from ``router/lua`` (loaded once at start, called by SHA, with
``_lib.lua`` prepended). Every key of a tenant carries the hash tag ``{tenant}``, so a tenant's scripts
run in one Redis Cluster slot. The store makes no routing decision: it commits what the policy decided
and reports a refusal as :class:`~router.errors.StaleDecision`.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, ResponseError

from router.config.model import Config
from router.direct import Direct
from router.errors import StaleDecision
from router.events import Event, agent_from_fields, contact_from_fields
from router.lifecycle import (
    AGENT_TRANSITIONS,
    AgentEvent,
    AgentState,
    ContactEvent,
    contact_sources,
)
from router.policy import EndWrapup, ExpireOffer, Offer, Overflow, TimerAction
from router.state import AgentView, ContactView, LaneKey, RoutingState
from skills.model import Requirements, encode

if TYPE_CHECKING:
    from router.batch import Batcher

SCRIPT_NAMES = (
    "enqueue",
    "offer",
    "accept",
    "requeue_offer",
    "complete",
    "end_wrapup",
    "abandon",
    "transfer",
    "overflow",
    "agent_state",
    "no_answer",
)
DEFAULT_STREAM_MAXLEN = 1_000_000
READ_BACK_COUNT = 1000  # most entries read back after a pipeline of offers (as many as a reader's read)

Client = aredis.Redis | RedisCluster


async def connect(url: str, *, tenant: str | None = None, max_connections: int = 64) -> Client:
    """A client for ``url``.

    On a Redis Cluster, with ``tenant`` given, a client of the node that holds the tenant's slot: every
    key of a tenant shares the ``{tenant}`` hash tag, so one node holds them all, and talking to it
    directly lets the store pipeline its scripts (redis-py's cluster pipeline refuses EVALSHA). A
    resharding that moves the slot makes the scripts fail with MOVED; restart the process to follow it.
    Without ``tenant``, a cluster client. At most ``max_connections`` are open at once; a caller beyond
    that waits for one (it is not refused).
    """
    client = _plain(url, max_connections)
    info = await client.info("cluster")
    if not info.get("cluster_enabled"):
        return client
    await client.aclose()
    cluster = RedisCluster.from_url(url, decode_responses=True)
    await cluster.initialize()
    if tenant is None:
        return cluster
    node = cluster.get_node_from_key(Keys(tenant).seq)
    await cluster.aclose()
    return _plain(f"redis://{node.host}:{node.port}/0", max_connections)


def _plain(url: str, max_connections: int) -> aredis.Redis:
    pool = aredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=max_connections, timeout=30
    )
    pool.connection_class = _DIRECT_SEND.get(pool.connection_class, pool.connection_class)
    return aredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


class _DirectSend:
    """A connection that writes a command straight to its socket.

    redis-py sends every command under ``asyncio.wait_for(..., socket_timeout)`` (5 s by default). On Python
    3.11 ``wait_for`` runs the send in a new task: the command is written a loop turn later, and the caller
    resumes a turn after that, for every command and pipeline (under load, each turn waits for the rest of a
    busy loop iteration; docs/performance.md). Writing to the socket's buffer does not block, so the send
    goes without the timeout (once connected); the reply is still read under ``socket_timeout``, so a Redis
    that stops answering still raises TimeoutError.
    """

    socket_timeout: float | None
    is_connected: bool

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:  # connecting (and its handshake's replies) under the timeouts, as before
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
            return
        timeout, self.socket_timeout = self.socket_timeout, None
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        finally:
            self.socket_timeout = timeout


class _Connection(_DirectSend, aredis.Connection):
    pass


class _SSLConnection(_DirectSend, aredis.SSLConnection):
    pass


class _UnixConnection(_DirectSend, aredis.UnixDomainSocketConnection):
    pass


_DIRECT_SEND: dict[type, type] = {
    aredis.Connection: _Connection,
    aredis.SSLConnection: _SSLConnection,
    aredis.UnixDomainSocketConnection: _UnixConnection,
}


class Keys:
    """Key names of one tenant. Every key carries the ``{tenant}`` hash tag."""

    def __init__(self, tenant: str) -> None:
        self.prefix = f"or:{{{tenant}}}:"
        self.seq = self.prefix + "seq"
        self.events = self.prefix + "events"
        self.contacts = self.prefix + "contacts"  # ids of every contact not yet finished
        self.none = self.prefix + "none"  # stands in where a script takes a key it won't touch

    def contact(self, contact_id: str) -> str:
        return f"{self.prefix}contact:{contact_id}"

    def queue(self, name: str) -> str:
        return f"{self.prefix}queue:{name}"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def agent_contacts(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:contacts"

    def lane(self, lane: LaneKey) -> str:
        """The zset of one lane: waiting contacts of one queue, channel, priority and skill set."""
        queue, channel, priority, skills = lane
        return f"{self.prefix}lane:{queue}:{channel}:{priority}:{skills}"

    def customer_last(self, customer: str) -> str:
        return f"{self.prefix}customer:{customer}:last" if customer else self.none

    def stats(self, day: str) -> str:
        return f"{self.prefix}stats:{day}"


@dataclass(frozen=True, slots=True)
class Result:
    """What a script returned: the contact and agent after the change, or a refusal code."""

    ok: bool
    code: str = ""
    contact: ContactView | None = None
    agent: AgentView | None = None
    detail: tuple[str, ...] = ()  # with out_of_order: the contacts found ahead in the lane
    fields: dict[str, str] | None = None  # the contact's hash after the change, as the script returned it


def _day(now: float) -> str:
    """The UTC date of ``now`` (YYYY-MM-DD), the day of its statistics' key."""
    return _date_of_day(int(now // 86400))


@functools.lru_cache(maxsize=4)
def _date_of_day(day: int) -> str:  # (every accept asks: a datetime each time was 1% of the gateway)
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


def _entries_of(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREAD reply on one stream: redis-py gives [[stream, entries]] (RESP2) or
    {stream: [entries]} (RESP3), or nothing."""
    if not reply:
        return []
    return reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]


def _parse(reply: Any) -> Result:
    if isinstance(reply, Exception):
        raise reply
    status = reply[0]
    if status == "err":
        return Result(False, reply[1], detail=tuple(reply[2].split(",")) if len(reply) > 2 else ())
    contact = orjson.loads(reply[1]) if reply[1] else None
    agent = orjson.loads(reply[2]) if len(reply) > 2 and reply[2] else None
    return Result(
        status == "ok",
        "" if status == "ok" else status,
        contact_from_fields(contact) if contact else None,
        agent_from_fields(agent) if agent else None,
        fields=contact or None,
    )


class RedisStore:
    """Routing state in Redis, for one tenant."""

    def __init__(self, client: Client, config: Config, *, stream_maxlen: int = DEFAULT_STREAM_MAXLEN) -> None:
        self.client = client
        self.config = config
        self.keys = Keys(config.tenant)
        self.maxlen = stream_maxlen
        self._source = {name: _script_text(name) for name in SCRIPT_NAMES}
        self._sha: dict[str, str] = {}
        # set: single scripts (and accept's reads) go in the pipeline of the loop turn (router/batch.py)
        self.batch: Batcher | None = None
        self.direct = Direct(client)  # round trips on held connections (router/direct.py)
        self.exclusive_csv = ",".join(c.name for c in config.channels.values() if c.exclusive)
        self._capacity = {(a.id, ch): config.capacity(a, ch) for a in config.agents.values() for ch in config.channels}

    async def load_scripts(self) -> None:
        """Load every script into Redis (every primary, on a cluster) and remember its SHA."""
        # Loaded first, published at once: a concurrent caller never finds half the scripts.
        self._sha = {name: await self.client.script_load(text) for name, text in self._source.items()}

    # -- running scripts --------------------------------------------------------------------------

    async def _call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Result:
        return _parse((await self._run([(name, keys, args)], batched=True))[0])

    async def _run(
        self,
        calls: Sequence[tuple[str, Sequence[str], Sequence[Any]]],
        reads: Sequence[Sequence[Any]] = (),
        *,
        batched: bool = False,
    ) -> list[Any]:
        """Scripts and, after them, the commands ``reads``, in one round trip: in the loop turn's pipeline
        (:attr:`batch`) when ``batched`` and there is one, else on a held connection (:attr:`direct`). Replies,
        errors as values. Scripts Redis lost (it restarted or failed over) are loaded and the round trip run again."""
        if not self._sha:
            await self.load_scripts()
        for attempt in range(2):
            commands = [("EVALSHA", self._sha[name], len(keys), *keys, *args) for name, keys, args in calls]
            commands += reads
            if batched and self.batch is not None:
                replies = await self.batch.execute(*commands)
            else:
                replies = await self.direct.execute(commands)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in replies[: len(calls)]):
                await self.load_scripts()
                continue
            break
        return replies

    async def _call_many(self, calls: list[tuple[str, Sequence[str], Sequence[Any]]]) -> list[Result]:
        """Run many scripts in one pipelined round trip (not a transaction: each is atomic alone)."""
        return (await self._call_many_and_read(calls, None))[0]

    async def _call_many_and_read(
        self, calls: list[tuple[str, Sequence[str], Sequence[Any]]], read_after: str | None
    ) -> tuple[list[Result], list[tuple[str, dict[str, str]]]]:
        """:meth:`_call_many`, then, in the same round trip, with ``read_after``, the event stream's entries
        after that id (what the scripts appended, and anything before them)."""
        if not calls:
            return [], []
        xread = ("XREAD", "COUNT", READ_BACK_COUNT, "STREAMS", self.keys.events, read_after)
        replies = await self._run(calls, [] if read_after is None else [xread])
        entries = []
        if read_after is not None:
            read = replies.pop()
            if isinstance(read, Exception):
                raise read
            entries = _entries_of(read)
        return [_parse(r) for r in replies], entries

    def add_scripts(self, package: str, names: Iterable[str]) -> None:
        """Scripts of another package (its ``lua/`` folder; router's ``_lib.lua`` is prepended), for :meth:`eval`."""
        for name in names:
            self._source[name] = _script_text(name, package)
        self._sha = {}  # loaded again, with these, on the next call

    async def eval(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script and return its raw reply (for scripts that don't answer with a contact and an agent)."""
        if not self._sha:
            await self.load_scripts()
        try:
            return await self.client.evalsha(self._sha[name], len(keys), *keys, *args)
        except NoScriptError:
            await self.load_scripts()
            return await self.client.evalsha(self._sha[name], len(keys), *keys, *args)

    async def _must(self, operation: str, name: str, keys: Sequence[str], args: Sequence[Any]) -> Result:
        result = await self._call(name, keys, args)
        if not result.ok:
            raise StaleDecision(operation, result.code)
        return result

    # -- contacts ---------------------------------------------------------------------------------

    def _enqueue_call(
        self,
        contact_id: str,
        queue: str,
        channel: str,
        now: float,
        *,
        customer: str = "",
        priority: int | None = None,
        skills: Requirements = (),
        attrs: dict[str, Any] | None = None,
    ):
        q = self.config.queues[queue]
        k = self.keys
        priority = q.priority if priority is None else priority
        keys = [
            k.contact(contact_id),
            k.queue(queue),
            k.seq,
            k.events,
            k.contacts,
            k.customer_last(customer),
            k.lane((queue, channel, priority, encode(skills))),
        ]
        args = [
            contact_id,
            queue,
            channel,
            priority,
            repr(now),
            customer,
            encode(skills),
            json.dumps(attrs or {}),
            repr(q.last_agent),
            self.maxlen,
        ]
        return "enqueue", keys, args

    async def enqueue(self, contact_id: str, queue: str, channel: str, now: float, **kw: Any) -> Result:
        """Put a new contact in line (idempotent on ``contact_id``: a repeat returns code ``dup``).

        Keyword arguments: ``customer``, ``priority`` (default: the queue's), ``skills`` (requirements
        of this contact on top of the queue's), ``attrs`` (JSON-able attributes).
        """
        if queue not in self.config.queues:
            raise StaleDecision("enqueue", "unknown_queue")
        if channel not in self.config.queues[queue].channels:
            raise StaleDecision("enqueue", "channel_not_in_queue")
        return await self._call(*self._enqueue_call(contact_id, queue, channel, now, **kw))

    async def enqueue_many(self, contacts: Sequence[tuple[str, str, str]], now: float) -> list[Result]:
        """Enqueue many contacts, given as (id, queue, channel), in one round trip."""
        return await self._call_many([self._enqueue_call(cid, q, ch, now) for cid, q, ch in contacts])

    def _offer_call(self, offer: Offer, now: float, offer_id: str) -> tuple[str, list[str], list[Any]]:
        k = self.keys
        keys = [
            k.contact(offer.contact_id),
            k.queue(offer.queue),
            k.agent(offer.agent_id),
            k.agent_contacts(offer.agent_id),
            k.events,
            k.lane(offer.lane),
        ]
        args = [
            offer.contact_id,
            offer.agent_id,
            offer_id,
            repr(now),
            repr(offer.expires_at),
            self._capacity.get((offer.agent_id, offer.channel), 0),
            self.exclusive_csv,
            self.maxlen,
            offer.queue,
            ",".join(contact_sources(ContactEvent.OFFER)),
            ",".join(offer.passed),
        ]
        return "offer", keys, args

    async def offer_many(self, offers: Iterable[Offer], now: float) -> list[Result]:
        """Commit routing decisions; each result says whether its offer stood."""
        return await self._call_many([self._offer_call(o, now, secrets.token_hex(8)) for o in offers])

    async def offer_many_and_read(
        self, offers: Iterable[Offer], now: float, after: str
    ) -> tuple[list[Result], list[tuple[str, dict[str, str]]]]:
        """:meth:`offer_many`, and in the same round trip the event stream's entries after ``after`` (the
        offers' own entries among them): a reader that follows the stream needs no read of its own for them."""
        return await self._call_many_and_read([self._offer_call(o, now, secrets.token_hex(8)) for o in offers], after)

    def _accept_call(self, contact_id: str, agent_id: str, offer_id: str, queue: str, now: float):
        q = self.config.queues.get(queue)
        target = q.service_level.target_seconds if q else 0.0
        k = self.keys
        keys = [k.contact(contact_id), k.agent(agent_id), k.events, k.stats(_day(now))]
        return "accept", keys, [contact_id, agent_id, offer_id, repr(now), self.maxlen, repr(target)]

    async def accept(self, contact_id: str, agent_id: str, offer_id: str, now: float) -> Result:
        """The agent takes the offer: the contact is connected."""
        queue = await self.client.hget(self.keys.contact(contact_id), "queue") or ""
        name, keys, args = self._accept_call(contact_id, agent_id, offer_id, queue, now)
        return await self._must("accept", name, keys, args)

    async def accept_and_read(
        self, contact_id: str, agent_id: str, offer_id: str, queue: str, now: float, reads: Sequence[Sequence[Any]]
    ) -> tuple[Result, list[Any]]:
        """:meth:`accept`, given the offer's queue (for the service-level target), and after it, in the same
        round trip, the read commands ``reads`` (e.g. ``("LRANGE", key, 0, -1)``); returns both replies.

        Raises:
            StaleDecision: the script refused.
        """
        replies = await self._run([self._accept_call(contact_id, agent_id, offer_id, queue, now)], reads, batched=True)
        for reply in replies[1:]:
            if isinstance(reply, Exception):
                raise reply
        result = _parse(replies[0])
        if not result.ok:
            raise StaleDecision("accept", result.code)
        return result, replies[1:]

    async def accept_many(self, offers: Sequence[tuple[str, str, str, str]], now: float) -> list[Result]:
        """Accept many offers, given as (contact, agent, offer id, queue), in one round trip."""
        return await self._call_many([self._accept_call(*o, now) for o in offers])

    def _requeue_call(
        self, contact_id: str, queue: str, lane: str, agent_id: str, offer_id: str, now: float, kind: str
    ):
        k = self.keys
        delay = {"reject": self.config.routing.reject_delay, "expire": self.config.routing.no_answer_delay}
        keys = [k.contact(contact_id), k.queue(queue), k.agent(agent_id), k.agent_contacts(agent_id), k.events, lane]
        args = [
            contact_id,
            agent_id,
            offer_id,
            repr(now),
            kind,
            repr(delay.get(kind, 0.0)),
            self.config.routing.max_missed_offers,
            self.maxlen,
        ]
        return "requeue_offer", keys, args

    async def _requeue(self, operation: str, contact_id: str, agent_id: str, offer_id: str, now: float):
        queue, lane = await self.client.hmget(self.keys.contact(contact_id), ["queue", "lane"])
        if queue is None:
            raise StaleDecision(operation, "no_such_offer")
        name, keys, args = self._requeue_call(contact_id, queue, lane, agent_id, offer_id, now, operation)
        return await self._must(operation, name, keys, args)

    async def reject(self, contact_id: str, agent_id: str, offer_id: str, now: float) -> Result:
        """The agent turns the offer down: the contact goes back in its place, the agent backs off."""
        return await self._requeue("reject", contact_id, agent_id, offer_id, now)

    async def revoke(self, contact_id: str, agent_id: str, offer_id: str, now: float) -> Result:
        """Take an offer back (the agent's connection is gone): the contact goes back in its place."""
        return await self._requeue("revoke", contact_id, agent_id, offer_id, now)

    def _complete_call(
        self,
        contact_id: str,
        agent_id: str,
        queue: str,
        customer: str,
        now: float,
        disposition: str,
        note: str,
        transfer_to: str = "",
    ):
        q = self.config.queues.get(queue)
        k = self.keys
        keys = [
            k.contact(contact_id),
            k.agent(agent_id),
            k.agent_contacts(agent_id),
            k.events,
            k.contacts,
            k.customer_last(customer),
        ]
        wrapup = repr(q.wrapup if q else 0.0)
        return "complete", keys, [contact_id, agent_id, repr(now), wrapup, disposition, note, self.maxlen, transfer_to]

    async def complete(
        self,
        contact_id: str,
        agent_id: str,
        now: float,
        *,
        disposition: str = "",
        note: str = "",
        transfer_to: str = "",
        known: tuple[str, str] | None = None,
    ) -> Result:
        """The agent is done with a connected contact: wrap-up starts (or it is done at once).

        ``transfer_to``: the SIP URI a call leaves for (the event carries it to the telephony worker holding
        the call). ``known``: the contact's (queue, customer) as the caller last saw them, saving a read; the
        script checks them, and on a mismatch the contact is read and the call made again.
        """
        if known is not None:
            name, keys, args = self._complete_call(contact_id, agent_id, *known, now, disposition, note, transfer_to)
            result = await self._call(name, keys, [*args, *known])
            if result.ok:
                return result
            if result.code != "retry":
                raise StaleDecision("complete", result.code)
        queue, customer = await self.client.hmget(self.keys.contact(contact_id), ["queue", "customer"])
        name, keys, args = self._complete_call(
            contact_id, agent_id, queue or "", customer or "", now, disposition, note, transfer_to
        )
        return await self._must("complete", name, keys, args)

    async def complete_many(self, contacts: Sequence[tuple[str, str, str, str]], now: float) -> list[Result]:
        """Complete many connected contacts, given as (contact, agent, queue, customer), in one round trip."""
        return await self._call_many([self._complete_call(*c, now, "", "") for c in contacts])

    def _end_wrapup_call(self, contact_id: str, agent_id: str, now: float, early: bool):
        k = self.keys
        keys = [k.contact(contact_id), k.agent(agent_id), k.agent_contacts(agent_id), k.events, k.contacts]
        return "end_wrapup", keys, [contact_id, agent_id, repr(now), "1" if early else "0", self.maxlen]

    async def end_wrapup(self, contact_id: str, agent_id: str, now: float, *, early: bool = True) -> Result:
        """The agent says its wrap-up is done (before its time is up)."""
        name, keys, args = self._end_wrapup_call(contact_id, agent_id, now, early)
        return await self._must("end_wrapup", name, keys, args)

    async def abandon(self, contact_id: str, now: float, reason: str = "customer_left") -> Result:
        """The customer left before being connected."""
        k = self.keys
        for _ in range(5):
            fields = await self.client.hmget(k.contact(contact_id), ["queue", "agent", "lane"])
            queue_name, agent_id, lane = fields[0], fields[1] or "", fields[2] or k.none
            if queue_name is None:
                raise StaleDecision("abandon", "not_waiting")
            queue = self.config.queues.get(queue_name)
            keys = [
                k.contact(contact_id),
                k.queue(queue_name),
                k.agent(agent_id) if agent_id else k.none,
                k.agent_contacts(agent_id) if agent_id else k.none,
                k.events,
                k.contacts,
                k.stats(_day(now)),
                lane,
            ]
            args = [
                contact_id,
                agent_id,
                repr(now),
                reason,
                self.maxlen,
                ",".join(contact_sources(ContactEvent.ABANDON)),
                repr(queue.service_level.target_seconds if queue else 0),
            ]
            result = await self._call("abandon", keys, args)
            if result.ok or result.code != "retry":
                break
        if not result.ok:
            raise StaleDecision("abandon", result.code)
        return result

    async def transfer(
        self, contact_id: str, agent_id: str, to_queue: str, now: float, *, to_agent: str = ""
    ) -> Result:
        """Send a connected contact to another queue (to the back of its line), optionally preferring an agent."""
        if to_queue not in self.config.queues:
            raise StaleDecision("transfer", "unknown_queue")
        k = self.keys
        channel, priority, skills = await self.client.hmget(k.contact(contact_id), ["channel", "priority", "skills"])
        lane = k.lane((to_queue, channel or "", int(priority or 0), skills or ""))
        keys = [
            k.contact(contact_id),
            k.queue(to_queue),
            k.agent(agent_id),
            k.agent_contacts(agent_id),
            k.events,
            k.seq,
            lane,
        ]
        until = now + self.config.routing.offer_timeout * 3 if to_agent else 0.0
        args = [contact_id, agent_id, to_queue, repr(now), self.maxlen, to_agent, repr(until)]
        return await self._must("transfer", "transfer", keys, args)

    # -- timers -----------------------------------------------------------------------------------

    def _timer_call(self, action: TimerAction, state: RoutingState, now: float):
        k = self.keys
        if isinstance(action, ExpireOffer):
            c = state.contacts[action.contact_id]
            lane = k.lane(c.lane_key())
            return self._requeue_call(c.id, c.queue, lane, action.agent_id, action.offer_id, now, "expire")
        if isinstance(action, EndWrapup):
            return self._end_wrapup_call(action.contact_id, action.agent_id, now, False)
        assert isinstance(action, Overflow)
        max_wait = self.config.queues[action.from_queue].max_wait
        c = state.contacts[action.contact_id]
        target_lane = (action.to_queue, c.channel, c.priority, encode(c.skills)) if action.to_queue else None
        keys = [
            k.contact(action.contact_id),
            k.queue(action.from_queue),
            k.queue(action.to_queue) if action.to_queue else k.none,
            k.contacts,
            k.events,
            k.lane(c.lane_key()),
            k.lane(target_lane) if target_lane else k.none,
        ]
        args = [
            action.contact_id,
            action.from_queue,
            action.to_queue or "",
            repr(now),
            repr(max_wait.seconds if max_wait else 0),
            self.maxlen,
        ]
        return "overflow", keys, args

    async def run_timers(self, actions: Sequence[TimerAction], state: RoutingState, now: float) -> list[Result]:
        """Commit timer actions the policy found due (offer expiries need the contact's queue from ``state``)."""
        return await self._call_many([self._timer_call(a, state, now) for a in actions])

    # -- agents -----------------------------------------------------------------------------------

    async def set_agent_state(self, agent_id: str, state: AgentState, now: float, reason: str = "") -> Result:
        """Set an agent available, away (with a reason) or offline (giving back all it holds)."""
        if agent_id not in self.config.agents:
            raise StaleDecision("agent_state", "unknown_agent")
        k = self.keys
        event = AgentEvent(state.value)
        sources = ",".join(s.value for s, moves in AGENT_TRANSITIONS.items() if event in moves)
        for _ in range(5):
            held: list[str] = []
            contact_keys: list[str] = []
            if state == AgentState.OFFLINE:
                held = sorted(await self.client.smembers(k.agent_contacts(agent_id)))
                for cid in held:
                    queue, lane = await self.client.hmget(k.contact(cid), ["queue", "lane"])
                    contact_keys += [k.contact(cid), k.queue(queue or ""), lane or k.none]
            keys = [k.agent(agent_id), k.agent_contacts(agent_id), k.events, k.contacts, *contact_keys]
            args = [agent_id, state.value, reason, repr(now), self.maxlen, len(held), *held, sources]
            result = await self._call("agent_state", keys, args)
            if result.ok or result.code != "retry":
                break
        if not result.ok:
            raise StaleDecision("agent_state", result.code)
        return result

    # -- reading ----------------------------------------------------------------------------------

    async def contact(self, contact_id: str) -> dict[str, str]:
        return await self.client.hgetall(self.keys.contact(contact_id))

    async def agent(self, agent_id: str) -> dict[str, str]:
        return await self.client.hgetall(self.keys.agent(agent_id))

    async def refresh(
        self,
        state: RoutingState,
        contact_ids: Iterable[str],
        agent_ids: Iterable[str],
        *,
        chunk: int = 1000,
        newer_only: bool = False,
    ) -> None:
        """Read contacts and agents again and put them in ``state`` (after a refused decision, or all of them
        when loading), ``chunk`` keys per round trip so that other tasks of the process run in between.
        ``newer_only``: put only what is newer than ``state`` holds (a resync of a live mirror)."""
        contact_ids, agent_ids = list(contact_ids), list(agent_ids)
        for i in range(0, len(contact_ids), chunk):
            part = contact_ids[i : i + chunk]
            pipe = self.client.pipeline(transaction=False)
            for cid in part:
                pipe.hgetall(self.keys.contact(cid))
            for cid, fields in zip(part, await pipe.execute(), strict=True):
                if not fields:
                    state.drop_contact(cid)
                elif not newer_only or int(fields.get("ver") or 0) > state.version_of(cid):
                    state.put_contact(contact_from_fields(fields))
        for i in range(0, len(agent_ids), chunk):
            pipe = self.client.pipeline(transaction=False)
            for aid in agent_ids[i : i + chunk]:
                pipe.hgetall(self.keys.agent(aid))
            for fields in await pipe.execute():
                if not fields:
                    continue
                held = state.agents.get(fields.get("id", "")) if newer_only else None
                if held is None or int(fields.get("ver") or 0) > held.ver:
                    state.put_agent(agent_from_fields(fields))

    async def last_event_id(self) -> str:
        entries = await self.client.xrevrange(self.keys.events, count=1)
        return entries[0][0] if entries else "0-0"

    async def load(self, state: RoutingState) -> str:
        """Fill ``state`` from Redis; returns the event id to tail the stream from.

        The id is read first, so any change made while loading is also in the tail; applying it again
        is harmless because every snapshot carries a version and older ones are ignored.
        """
        last_id = await self.last_event_id()
        contact_ids = await self.active_contacts()
        await self.refresh(state, contact_ids, list(self.config.agents))
        return last_id

    async def active_contacts(self) -> list[str]:
        """The ids of every contact not yet finished."""
        return list(await self.client.smembers(self.keys.contacts))

    async def read_entries(
        self, after: str, *, block_ms: int | None, count: int = 1000
    ) -> list[tuple[str, dict[str, str]]]:
        """Raw stream entries (id, fields) after the id ``after`` (waiting up to ``block_ms`` for one)."""
        block = () if block_ms is None else ("BLOCK", block_ms)
        [reply] = await self.direct.execute([("XREAD", "COUNT", count, *block, "STREAMS", self.keys.events, after)])
        if isinstance(reply, Exception):
            raise reply
        return _entries_of(reply)

    async def read_events(self, after: str, *, block_ms: int | None, count: int = 1000) -> list[Event]:
        """Events after the id ``after`` (waiting up to ``block_ms`` for the first one)."""
        entries = await self.read_entries(after, block_ms=block_ms, count=count)
        return [Event.from_entry(entry_id, fields) for entry_id, fields in entries]

    async def events_between(self, start: str = "-", end: str = "+", count: int | None = None) -> list[Event]:
        entries = await self.client.xrange(self.keys.events, start, end, count=count)
        return [Event.from_entry(entry_id, fields) for entry_id, fields in entries]

    async def queue_ids(self, queue: str) -> list[str]:
        """The ids waiting in a queue, in line order."""
        return await self.client.zrange(self.keys.queue(queue), 0, -1)

    async def stats(self, now: float) -> dict[str, str]:
        return await self.client.hgetall(self.keys.stats(_day(now)))

    async def delete_tenant(self) -> int:
        """Delete every key of this tenant (and nothing else). Returns how many."""
        deleted = 0
        async for key in self.client.scan_iter(match=self.keys.prefix + "*", count=1000):
            deleted += await self.client.delete(key)
        return deleted

    async def no_answer(self, contact_id: str, agent_id: str, now: float) -> Result:
        """The agent accepted but its phone did not answer: back in line in its place; the agent goes away."""
        k = self.keys
        queue, lane = await self.client.hmget(k.contact(contact_id), ["queue", "lane"])
        if queue is None:
            raise StaleDecision("no_answer", "not_connected")
        keys = [k.contact(contact_id), k.queue(queue), k.agent(agent_id), k.agent_contacts(agent_id), k.events, lane]
        args = [contact_id, agent_id, repr(now), self.maxlen, ",".join(contact_sources(ContactEvent.REQUEUE))]
        return await self._must("no_answer", "no_answer", keys, args)


def _script_text(name: str, package: str = "router") -> str:
    lib = resources.files("router") / "lua" / "_lib.lua"
    return lib.read_text() + "\n" + (resources.files(package) / "lua" / f"{name}.lua").read_text()


__all__ = ["Keys", "RedisStore", "ResponseError", "Result", "connect"]
