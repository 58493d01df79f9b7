"""The websockets gateway: one port for the agent, customer, connector and supervisor endpoints and HTTP.

Theory of operation
-------------------
Every ``omniroute serve`` process runs one :class:`Gateway` beside its router. Redis is the truth: the
gateway keeps only its open sockets and caches. Two readers follow the tenant's streams and deliver
to the sockets this process holds:

- the event stream (``router.events``): offers go to the agent's socket, expired or revoked offers
  become ``offer_revoked``, a customer hears when an agent joins or leaves, counters move, the live
  figures of agents and queues (:mod:`router.gateway.board`) follow, and contacts' starts, transfers,
  dispositions and ends go into their customers' timelines (caught up at start from the position saved);
- the chat stream (:mod:`router.gateway.sessions`): messages go to the customer's socket, the agent
  holding the contact and the connector that owns the conversation, wherever they are connected.

So a customer on process B talks with an agent on process A through Redis. A ticker (every second)
sends queue positions to waiting customers, statistics to supervisors, refreshes the metrics gauges,
this process's heartbeat key and the saved timeline position, and looks after agent sessions: a
session whose process stopped beating is closed (its offers revoked at once), and a session
disconnected for longer than the grace period ends (the agent goes offline and its open contacts go
back to their queues, in their place). One more task pings every connection once per ``gateway.heartbeat``
(a slice every 50 ms) and closes those whose pong does not come within another (:mod:`router.gateway.keepalive`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import ssl
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import resources
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from customers.config import settings as customer_settings
from customers.continuity import continuity
from customers.follow import TIMELINE_EVENTS
from customers.follow import apply as timeline_apply
from customers.follow import follow as follow_timelines
from customers.store import CustomerError, CustomerStore
from customers.timeline import message as timeline_message
from router.batch import Batcher
from router.client import RouterClient
from router.config.model import Config
from router.errors import StaleDecision
from router.events import Event, EventType
from router.gateway import agents, connectors, supervisors, today, webchat
from router.gateway.board import Board
from router.gateway.config import GatewayConfig
from router.gateway.keepalive import Keepalive, KeptAlive
from router.gateway.metrics import Metrics
from router.gateway.peer import Peer
from router.gateway.protocol import (
    AGENT,
    CONNECTOR,
    CUSTOMER,
    SUPERVISOR,
    ErrorCode,
    ProtocolError,
    message,
    parse,
)
from router.gateway.ratelimit import MovingWindows
from router.gateway.sessions import GatewayState, Posted, Refused
from router.stats import HandleTimes, QueueStats
from router.store import RedisStore
from router.tap import EventTap

log = logging.getLogger(__name__)

ENDPOINTS = {"/v1/agent": AGENT, "/v1/customer": CUSTOMER, "/v1/connector": CONNECTOR, "/v1/supervisor": SUPERVISOR}
PAGES = {"/agent": "agent.html", "/chat": "chat.html", "/wallboard": "wallboard.html", "/": "index.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Script refusals -> protocol error codes.
REFUSALS = {
    "not_found": ErrorCode.NOT_FOUND,
    "forbidden": ErrorCode.FORBIDDEN,
    "illegal_state": ErrorCode.ILLEGAL_STATE,
    "illegal": ErrorCode.ILLEGAL_STATE,
    "no_such_offer": ErrorCode.OFFER_GONE,
    "expired": ErrorCode.OFFER_GONE,
    "not_connected": ErrorCode.ILLEGAL_STATE,
    "not_in_wrapup": ErrorCode.ILLEGAL_STATE,
    "not_waiting": ErrorCode.ILLEGAL_STATE,
    "unknown_queue": ErrorCode.NOT_FOUND,
    "unknown_agent": ErrorCode.NOT_FOUND,
    "channel_not_in_queue": ErrorCode.BAD_FIELD,
}
PURGE_EVERY = 3600.0  # seconds between checks that today's retention purge has run
KPI_EVERY = 30.0  # seconds between recomputations of today's CSAT and FCR
KPI_SOON = 2.0  # seconds: this soon after a survey or a completion
FREEZE_EVERY = 1.0  # seconds between gc.freeze() calls (_manage_gc)
COLLECT_EVERY = 3600.0  # seconds between full collections of everything (_manage_gc)
DEFAULT_HANDLE_TIME = 300.0  # seconds, until the queue's own completions give an average


@dataclass(slots=True)
class OfferInfo:
    contact: str
    agent: str
    queue: str | None = None  # the contact's queue when offered
    open: bool = True


class Gateway:
    """The websockets server of one process. ``await run(stop)``; :attr:`port` once ``ready`` is set."""

    def __init__(
        self,
        config: Config,
        store: RedisStore,
        *,
        clock: Callable[[], float] = time.time,
        gateway_id: str | None = None,
        tick: float = 1.0,
        events: EventTap | None = None,
    ) -> None:
        self.config = config
        self.events = events  # the process's shared reader of the stream (router/tap.py), if any
        self.settings: GatewayConfig = config.gateway if isinstance(config.gateway, GatewayConfig) else GatewayConfig()
        self.store = store
        if store.batch is None:  # the agents' scripts of one loop turn in one round trip (router/batch.py)
            store.batch = Batcher(store.direct)
        self.clock = clock
        self.id = gateway_id or uuid.uuid4().hex[:12]
        self.tick = tick
        self.router = RouterClient(store, clock=clock)
        self.state = GatewayState(store)
        self.profiles = CustomerStore(store.client, config.tenant, clock, customer_settings(config))
        self.metrics = Metrics()
        self.limiter = MovingWindows(self.settings.rate_messages, self.settings.rate_per)
        self.agents: dict[str, Peer] = {}  # agent id -> its connection here
        self.customers: dict[str, set[Peer]] = {}  # contact id -> web-chat connections
        self.connectors: dict[str, set[Peer]] = {}  # connector name -> its connections
        self.supervisors: set[Peer] = set()
        self.offers: OrderedDict[str, OfferInfo] = OrderedDict()  # offer id -> ..., the newest 100,000
        self.open_offer: dict[str, str] = {}  # contact id -> its open offer id
        self.positions: dict[str, tuple[int, int]] = {}  # contact id -> (position, estimate) last sent
        self.handle_times = HandleTimes()  # each queue's recent handle times, for wait estimates
        self.board = Board(config, self._queues_of)  # agents' and queues' live figures (board.py)
        self.serving = self.board.serving  # queue -> agents logged in who serve it
        self.session_watch = agents.SessionWatch()  # when the ticker next reads every agent session
        self._latest: tuple[float, list[QueueStats], dict[str, int]] | None = None  # the last tick's figures
        self.today: dict[str, Any] = {}  # CSAT, FCR, ... of the day so far (router/gateway/today.py)
        self.contacts_today = today.TodaysContacts()
        self.kpis_stale = False  # a survey or a completion since: recompute within 2 s, not 30
        self.server: Server | None = None
        self.keepalive = Keepalive(self.settings.heartbeat)  # pings every connection each heartbeat
        self.started = 0.0
        self.open_connections = 0  # websocket connections open here
        self._tasks: list[asyncio.Task] = []
        self._frozen_at = 0  # open connections at the last gc.freeze()
        self._next_freeze = 0.0  # when _manage_gc next freezes
        self._timeline_key = store.keys.prefix + "cust:follow_at"  # the stream position timelines are applied to
        self._events_at = self._timeline_saved = ""  # the event follower's position, and the one saved there
        self._next_collect = 0.0  # when _manage_gc next unfreezes and collects
        self._agent_queues: dict[str, tuple[str, ...]] = {}  # agent id -> the queues it serves
        self._transcripts: dict[str, list[dict[str, Any]]] = {}  # contact id -> transcript read ahead
        # contact id -> (agent, queue, customer) of contacts accepted here and still connected, so that
        # completing one takes one round trip (agents.py)
        self.held: dict[str, tuple[str, str, str]] = {}

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    # -- running --------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        s = self.settings
        tls = None
        if s.tls_cert:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(s.tls_cert, s.tls_key)
        await self.store.load_scripts()
        self.started = self.clock()
        await self.state.beat(self.id, 3 * s.heartbeat)
        events_from = await self.store.last_event_id()
        await self.contacts_today.load(self, self.clock(), events_from)
        await self.board.load(self.store)
        await self._catch_up_timelines(events_from)
        chat_from = await self._last_chat_id()
        async with serve(
            self._connection,
            s.host,
            s.port,
            process_request=self._http,
            ssl=tls,
            max_size=16 * s.max_message,  # past this the library closes the socket (1009)
            compression=None,  # 15 KiB instead of 47 KiB per connection; messages are small
            ping_interval=None,  # one task pings them all (keepalive.py), not a task per connection
            create_connection=KeptAlive,
            close_timeout=s.heartbeat,
            logger=log.getChild("ws"),
        ) as server:
            self.server = server
            self._tasks = [
                asyncio.create_task(self._follow_events(events_from), name="gateway-events"),
                asyncio.create_task(self._follow_chat(chat_from), name="gateway-chat"),
                asyncio.create_task(self._ticker(), name="gateway-ticker"),
                asyncio.create_task(self.keepalive.run(), name="gateway-keepalive"),
            ]
            log.info("gateway %s listening on %s:%d", self.id, s.host, self.port)
            gc.freeze()  # the configuration and everything made at startup: full collections skip them
            if ready is not None:
                ready.set()
            done = asyncio.create_task(stop.wait())
            await asyncio.wait([done, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise task.exception()
            done.cancel()
        with contextlib.suppress(Exception):
            await self.state.client.delete(self.state.heartbeat_key(self.id))

    async def _last_chat_id(self) -> str:
        info = (
            await self.state.client.xinfo_stream(self.state.chat)
            if await self.state.client.exists(self.state.chat)
            else None
        )
        return info["last-generated-id"] if info else "0-0"

    # -- HTTP -----------------------------------------------------------------------------------------

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path in ENDPOINTS:
            return None  # a websocket handshake (the library answers 426 to a plain GET)
        if path == "/healthz":
            return _response(HTTPStatus.OK, b'{"status":"ok"}', "application/json")
        if path == "/metrics":
            return _response(HTTPStatus.OK, self.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8")
        name = PAGES.get(path) or (path[len("/static/") :] if path.startswith("/static/") else None)
        if name and "/" not in name and not name.startswith("."):
            file = resources.files("router.gateway") / "static" / name
            if file.is_file():
                suffix = name[name.rfind(".") :]
                return _response(
                    HTTPStatus.OK, file.read_bytes(), CONTENT_TYPES.get(suffix, "application/octet-stream")
                )
        return _response(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    # -- websocket connections ------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        path = ws.request.path.split("?", 1)[0]
        commands = ENDPOINTS[path]
        endpoint = path.rsplit("/", 1)[1]
        peer = Peer(ws, endpoint, self.limiter)
        self.keepalive.add(ws)
        self.metrics.connections.labels(endpoint).inc()
        self.open_connections += 1
        try:
            async for frame in ws:
                await self._frame(peer, frame, commands)
        except ConnectionClosed:
            pass
        finally:
            self.open_connections -= 1
            self.metrics.connections.labels(endpoint).dec()
            self.limiter.forget(peer.key)
            try:
                await self._closed(peer)
            except Exception:
                log.exception("cleaning up a %s connection", endpoint)

    async def _frame(self, peer: Peer, frame: str | bytes, commands: dict[str, type]) -> None:
        request_id = None
        try:
            if len(frame) > self.settings.max_message:
                raise ProtocolError(ErrorCode.TOO_LARGE, f"a message may be at most {self.settings.max_message} bytes")
            if not peer.allowed():
                raise ProtocolError(
                    ErrorCode.RATE_LIMITED, "too many messages; this one was dropped", id=_request_id(frame)
                )
            command = parse(frame, commands)
            request_id = command.id
            handler = {
                "agent": agents.handle,
                "customer": webchat.handle,
                "connector": connectors.handle,
                "supervisor": supervisors.handle,
            }[peer.endpoint]
            await handler(self, peer, command)
        except ProtocolError as exc:
            await self._error(peer, exc.code, exc.message, exc.id if exc.id is not None else request_id)
        except Refused as exc:
            await self._error(
                peer, REFUSALS.get(exc.code, ErrorCode.ILLEGAL_STATE), _refusal_text(exc.code), request_id
            )
        except StaleDecision as exc:
            code = REFUSALS.get(exc.code, ErrorCode.ILLEGAL_STATE)
            await self._error(peer, code, _refusal_text(exc.code), request_id)
        except ConnectionClosed:
            raise
        except Exception:
            log.exception("fault handling a %s message", peer.endpoint)
            await self._error(
                peer, ErrorCode.INTERNAL, "the server failed on this message; it has been logged", request_id
            )

    async def _error(self, peer: Peer, code: ErrorCode, text: str, request_id: Any) -> None:
        self.metrics.errors.labels(str(code)).inc()
        await peer.error(code, text, request_id)

    async def _closed(self, peer: Peer) -> None:
        if peer.endpoint == "agent" and peer.user and self.agents.get(peer.user) is peer:
            del self.agents[peer.user]
            await agents.disconnected(self, peer.user, self.id, peer.since)
        elif peer.endpoint == "customer" and peer.contact:
            peers = self.customers.get(peer.contact)
            if peers is not None:
                peers.discard(peer)
                if not peers:
                    del self.customers[peer.contact]
                    self.positions.pop(peer.contact, None)
        elif peer.endpoint == "connector" and peer.user:
            self.connectors.get(peer.user, set()).discard(peer)
        elif peer.endpoint == "supervisor":
            self.supervisors.discard(peer)

    # -- following the streams -------------------------------------------------------------------------

    async def _follow_events(self, last: str) -> None:
        while True:
            try:
                events = await (self.events or self.store).read_events(last, block_ms=1000)
            except (ConnectionError, OSError) as exc:
                log.warning("event stream unavailable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            try:
                await self._prefetch_transcripts(events)
            except (ConnectionError, OSError):
                self._transcripts = {}  # each offer reads its own below
            for event in events:
                last = event.id
                try:
                    await self._event(event)
                except Exception:
                    log.exception("delivering event %s", event.type)
            self._events_at = last

    async def _prefetch_transcripts(self, events: list[Event]) -> None:
        """Read the transcripts of a batch's offers to agents connected here in one round trip.

        The follower delivers in stream order, one event at a time; a Redis round trip per offer made it
        wait a loop turn for each and limited delivery to a few hundred offers a second under load.
        """
        wanted = [
            e.contact["id"]
            for e in events
            if e.type == EventType.CONTACT_OFFERED
            and e.contact
            and e.contact.get("agent") in self.agents
            and e.contact.get("messages") != "0"  # none to read (enqueue.lua, chat_message.lua)
        ]
        self._transcripts = {}
        if wanted:
            rows = await self.store.direct.execute([self.state.transcript_read(cid) for cid in wanted])
            self._transcripts = {
                c: [orjson.loads(m) for m in row] for c, row in zip(wanted, rows, strict=True) if isinstance(row, list)
            }  # (a contact whose read failed reads its own transcript when its offer is sent)

    async def _event(self, event: Event) -> None:
        self.metrics.observe(event)
        self.contacts_today.observe(event)
        self.board.observe(event)
        contact = event.contact or {}
        cid = contact.get("id", "")
        t = event.type
        if t == EventType.CONTACT_OFFERED:
            offer_id = contact.get("offer_id", "")
            self.offers[offer_id] = OfferInfo(cid, contact.get("agent", ""), contact.get("queue"))
            while len(self.offers) > 100_000:
                self.offers.popitem(last=False)
            self.open_offer[cid] = offer_id
            peer = self.agents.get(contact.get("agent", ""))
            if peer is not None:
                await peer.send(await agents.offer_message(self, contact, self._transcripts.pop(cid, None)))
        elif cid in self.open_offer and t in agents.OFFER_CLOSERS:
            offer_id = self.open_offer.pop(cid)
            info = self.offers.get(offer_id)
            if info is not None:
                info.open = False
                reason = agents.OFFER_CLOSERS[t]
                peer = self.agents.get(info.agent)
                if reason and peer is not None:
                    await peer.push(
                        "offer_revoked",
                        offer=offer_id,
                        contact=cid,
                        reason=(event.extra.get("reason") or reason)
                        if t == EventType.CONTACT_OFFER_REVOKED
                        else reason,
                    )
        if t == EventType.CONTACT_COMPLETED:
            self.kpis_stale = True
        if cid in self.held and contact.get("state") != "connected":
            del self.held[cid]
        self.handle_times.observe(event)
        if t == EventType.AGENT_STATE_CHANGED and event.agent:
            peer = self.agents.get(event.agent.get("id", ""))
            if peer is not None:
                await peer.push("state", state=event.agent.get("state"), reason=event.agent.get("reason", ""))
        elif t == EventType.CONTACT_DONE and float(contact.get("wrapup_until") or 0) > 0:  # a wrap-up ended
            holder = self.agents.get((event.agent or {}).get("id", "")) if event.agent else None
            if holder is not None:
                await holder.push("wrapup_ended", contact=cid)
        elif t == EventType.CONTACT_REQUEUED and event.agent:
            holder = self.agents.get(event.agent.get("id", ""))
            if holder is not None:
                await holder.push("contact_removed", contact=cid, reason=event.extra.get("reason", "requeued"))
        if t in TIMELINE_EVENTS and contact.get("customer"):
            await self._timeline(event)
        if cid in self.customers:
            await webchat.on_event(self, event, cid)
        attrs_connector = webchat.connector_of(contact)
        if attrs_connector and attrs_connector in self.connectors:
            await connectors.on_event(self, event, attrs_connector)

    async def _follow_chat(self, last: str) -> None:
        client = self.state.client
        while True:
            try:
                reply = await client.xread({self.state.chat: last}, block=1000, count=500)
            except (ConnectionError, OSError) as exc:
                log.warning("chat stream unavailable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    try:
                        await self._chat(fields)
                    except Exception:
                        log.exception("delivering a chat message")

    async def _chat(self, fields: dict[str, str]) -> None:
        if "control" in fields:
            if fields["control"] == "replaced":
                await agents.replaced(self, fields.get("agent", ""), fields.get("gw", ""))
            return
        cid = fields["contact"]
        msg = json.loads(fields["message"])
        body = {"contact": cid, "from": msg["from"], "text": msg["text"], "at": msg["at"], "seq": msg["seq"]}
        delivered = 0
        for peer in list(self.customers.get(cid, ())):
            delivered += await peer.push("message", **body, agent_name=self.agent_first_name(msg.get("agent", "")))
        holder = self.agents.get(fields.get("holder", ""))
        if holder is not None:
            delivered += await holder.push("message", **body)
        connector = fields.get("connector", "")
        if connector and msg["from"] == "agent" and connector in self.connectors:
            delivered += await connectors.outbound(
                self, connector, cid, fields.get("channel", ""), fields.get("address", ""), msg["text"]
            )
        if delivered:
            self.metrics.messages.labels(msg["from"]).inc(delivered)

    # -- customers: identity, continuity, timeline (customers/) -------------------------------------------

    async def admit(
        self, contact_id: str, identifiers: dict[str, str], channel: str, queue: str, *, chosen: bool
    ) -> tuple[str, str]:
        """The customer a new contact belongs to, and its queue after continuity.

        A returning customer with an open case continues it; when the channel's continuity rule says
        ``reuse_queue`` and the customer did not choose a queue, the contact goes to the case's queue.
        """
        given = {k: v for k, v in identifiers.items() if v}
        customer = await self.profiles.identify(given, contact_id=contact_id, strict=False)
        if not chosen:
            follow_on = continuity(await self.profiles.case(customer), channel, self.clock(), self.profiles.config)
            if follow_on.queue in self.config.queues and channel in self.config.queues[follow_on.queue].channels:
                queue = follow_on.queue
        return customer, queue

    async def say(self, contact_id: str, kind: str, agent_id: str, text: str, now: float) -> Posted:
        """Post a message on a contact's conversation and put it in its customer's timeline."""
        posted = await self.state.post(contact_id, kind, agent_id, text, now)
        if posted.customer:
            entry = timeline_message(now, kind, text, channel=posted.channel, contact=contact_id, agent=agent_id)
            try:
                await self.profiles.append(posted.customer, entry)
            except CustomerError as exc:  # erased meanwhile: the conversation goes on without a timeline
                log.info("contact %s: timeline entry skipped (%s)", contact_id, exc.code)
        return posted

    async def record_survey(self, contact_id: str, score: int, now: float) -> None:
        """A customer's 1-5 satisfaction score for a contact: the timeline and the metrics."""
        channel, agent = await self.store.client.hmget(self.store.keys.contact(contact_id), ["channel", "agent"])
        await self.profiles.record_survey(contact_id, score, channel=channel or "", agent=agent or "", now=now)
        await today.count_survey(self, score, now)
        self.kpis_stale = True
        self.metrics.surveys.labels(str(score)).inc()

    async def _catch_up_timelines(self, until: str) -> None:
        """Contacts' starts, transfers, dispositions, notes and ends into their customers' timelines, from
        the position the processes saved up to ``until`` (where the event follower starts), so nothing is
        missed while all of them were down. From there the event follower applies them (:meth:`_timeline`)
        and the ticker saves its position. Every process does it; the store skips what a profile has.
        """
        after = await self.store.client.get(self._timeline_key) or until
        while _stream_id(after) < _stream_id(until):
            moved = await follow_timelines(self.profiles, after, block_ms=None)
            if moved == after:
                break
            after = moved
        self._events_at = self._timeline_saved = after

    async def _timeline(self, event: Event) -> None:
        try:
            await timeline_apply(self.profiles, event)
        except (ConnectionError, OSError) as exc:  # the next process start catches up from the saved position
            log.warning("timeline entry of event %s skipped: redis unavailable (%s)", event.id, type(exc).__name__)

    async def _save_timeline_position(self) -> None:
        if self._events_at != self._timeline_saved:
            await self.store.client.set(self._timeline_key, self._events_at)
            self._timeline_saved = self._events_at

    def agent_first_name(self, agent_id: str) -> str | None:
        agent = self.config.agents.get(agent_id)
        return agent.name.split()[0] if agent else None  # customers see a first name, never an id

    # -- the ticker ------------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        s = self.settings
        next_stats = next_kpis = next_purge = 0.0
        while True:
            now = self.clock()
            try:
                await self.state.beat(self.id, 3 * s.heartbeat)
                await agents.look_after_sessions(self, now)
                if now >= next_kpis or (self.kpis_stale and now >= next_kpis - KPI_EVERY + KPI_SOON):
                    next_kpis, self.kpis_stale = now + KPI_EVERY, False
                    self.today = await today.todays_kpis(self, now)  # kept up to date: one read (surveys)
                    self.metrics.update_today(self.today)
                if now >= next_purge:
                    next_purge = now + PURGE_EVERY
                    await self._purge(now)
                await self.board.resync_step(self.store, now)
                await self._save_timeline_position()
                if now >= next_stats:
                    next_stats = now + s.stats_every
                    await self._stats(now)
                await webchat.send_positions(self)
            except (ConnectionError, OSError) as exc:
                log.warning("redis unavailable in the ticker (%s)", type(exc).__name__)
            except Exception:
                log.exception("gateway ticker")
            self._manage_gc(now)
            await asyncio.sleep(self.tick)

    def _manage_gc(self, now: float) -> None:
        """``gc.freeze()`` every ``FREEZE_EVERY`` seconds; once every ``COLLECT_EVERY``, unfreeze and collect.

        With 10,000 agents connected a full collection walked about a million long-lived objects and
        stopped the loop for 0.2-1.6 s every few seconds (docs/performance.md): the connections, the
        router's mirror (rebuilt every minute), the offers and today's contacts. Frozen objects are never
        walked (freezing is a constant-time move of the generations), so full collections stay short.
        Objects that die in reference cycles after being frozen are not reclaimed until the hourly
        collection (a pause of a few hundred ms at 10,000 connections), or an unfreeze when half the
        connections are gone.
        """
        open_now = self.open_connections  # (len(server.connections) builds a set of them all)
        if now >= self._next_collect or open_now < self._frozen_at / 2:
            gc.unfreeze()
            gc.collect()
            self._next_collect = now + COLLECT_EVERY
            self._next_freeze = 0.0
        if now >= self._next_freeze or open_now >= max(1.1 * self._frozen_at, self._frozen_at + 500):
            gc.freeze()
            self._frozen_at = open_now
            self._next_freeze = now + FREEZE_EVERY

    async def _purge(self, now: float) -> None:
        """Once a day per tenant (whichever process gets there first): erase customer data past
        ``customers.retention_days`` (idle profiles, older timeline entries)."""
        key = f"{self.store.keys.prefix}cust:purged:{datetime.fromtimestamp(now, UTC):%Y-%m-%d}"
        if await self.store.client.set(key, self.id, nx=True, ex=2 * 86400):
            done = await self.profiles.purge(now)
            log.info("retention purge: %s", done)

    async def _stats(self, now: float) -> None:
        """The gauges, and the supervisors' statistics (from the board: one Redis read, the day's counters)."""
        queues = self.board.queue_stats(now, await self.store.stats(now))
        by_state = dict(self.board.by_state)
        self.metrics.update(queues, by_state)
        self._latest = (now, queues, by_state)
        if self.supervisors:
            text = message("stats", **self.latest_stats)  # O(agents): encoded once for every supervisor
            for peer in list(self.supervisors):
                await peer.send(text)

    @property
    def latest_stats(self) -> dict[str, Any] | None:
        """The body of the last ``stats`` message (None before the first tick)."""
        if self._latest is None:
            return None
        at, queues, by_state = self._latest
        return {
            "at": at,
            "queues": [
                {
                    "queue": q.queue,
                    "waiting": q.waiting,
                    "oldest_wait": q.oldest_wait,
                    "offered": q.offered,
                    "connected": q.connected,
                    "agents_available": q.agents_available,
                    "answered_today": q.today.answered,
                    "abandoned_today": q.today.abandoned,
                    "service_level_today": q.today.of_answered,
                    "asa_today": q.today.asa,
                    "target_seconds": self.config.queues[q.queue].service_level.target_seconds,
                }
                for q in queues
            ],
            "agents_by_state": by_state,
            "agents": [
                {
                    "id": agent_id,
                    "name": self.config.agents[agent_id].name,
                    "state": a.state,
                    "reason": a.reason,
                    "load": dict(a.load),
                }
                for agent_id, a in self.board.agents.items()
            ],
            "today": self.today,
        }

    def _queues_of(self, agent_id: str) -> tuple[str, ...]:
        """The queues an agent serves (from the configuration; computed once: 10% of the process at 10,000
        agents when done every second)."""
        queues = self._agent_queues.get(agent_id)
        if queues is None:
            from router.state import agent_queues

            queues = self._agent_queues[agent_id] = tuple(agent_queues(self.config, self.config.agents[agent_id]))
        return queues

    def estimate(self, queue: str, position: int, channel: str) -> int:
        """Estimated wait of the ``position``-th waiting contact, rounded up to the minute (seconds)."""
        handle = self.handle_times.mean(queue, DEFAULT_HANDLE_TIME)
        capacity = self.config.channels[channel].capacity if channel in self.config.channels else 1
        servers = max(1, self.serving.get(queue, 0) * capacity)
        return int(math.ceil(position * handle / servers / 60.0) * 60)


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    )
    return Response(status.value, status.phrase, headers, body)


def _request_id(frame: str | bytes) -> Any:
    """The ``id`` of a frame, if it has a readable one (for replies to frames refused before parsing)."""
    try:
        data = orjson.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _refusal_text(code: str) -> str:
    return {
        "not_found": "no such contact",
        "forbidden": "that is not yours",
        "illegal_state": "not possible in the contact's current state",
        "illegal": "not possible in the current state",
        "no_such_offer": "the offer is gone (expired, revoked or answered)",
        "expired": "the offer expired",
        "not_connected": "the contact is not connected to you",
        "not_in_wrapup": "the contact is not in wrap-up",
        "not_waiting": "the contact is no longer waiting",
        "unknown_queue": "no such queue",
        "unknown_agent": "no such agent",
        "channel_not_in_queue": "that queue does not take this channel",
    }.get(code, code.replace("_", " "))
