"""``omniroute demo``: scripted agents and customers driving a running ``omniroute serve`` over the real protocol.

Theory of operation
-------------------
Everything goes through the gateway's websockets, exactly as a browser or a channel bridge would:

- each scripted agent logs in on ``/v1/agent`` (token: ``token_prefix`` + its id), goes available, accepts
  offers after a short human-like pause, chats a few lines, completes with a disposition, and now and then
  takes a break (away, reason ``break``). It logs in again by itself if its connection drops;
- customers arrive as a Poisson process (``rate`` per minute): a share on web chat (``/v1/customer``, some
  of them leave if nobody answers within their patience), the rest on WhatsApp through one connector
  (``/v1/connector``); both answer the agent now and then, and web customers rate the chat when it ends.

All delays are multiplied by ``pace`` (1.0: human speed; tests use a small pace). The counters in
:class:`DemoStats` count what the server acknowledged, never what was merely sent. Message texts and the
customers' made-up phone numbers are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

log = logging.getLogger(__name__)

NAMES = ("Maria", "João", "Aisha", "Chen", "Lucas", "Sofia", "Omar", "Priya", "Tom", "Inés", "Yuki", "Kwame")
OPENERS = (
    "Hi, I'd like to upgrade my plan",
    "My internet has been slow since yesterday",
    "I was charged twice this month",
    "Can I add a second line?",
    "How do I set up roaming for a trip?",
    "My phone shows no signal at home",
)
CUSTOMER_LINES = ("Ok, thanks", "Let me check…", "Yes, that's right", "How long will it take?", "Perfect")
AGENT_LINES = (
    "Hello! Thanks for reaching out, let me look at your account.",
    "I can see it here. One moment please.",
    "Done — you should see the change within a few minutes.",
    "Is there anything else I can help you with?",
)
DISPOSITIONS = ("resolved", "resolved", "sold", "follow_up", "escalated")
TOPICS = ("buying", "help", "")


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSettings:
    url: str = "ws://127.0.0.1:8765"
    agents: tuple[str, ...] = ()  # agent ids the demo logs in as
    token_prefix: str = "demo-"  # agent a01's token is token_prefix + "a01"
    connector: str = "demo-whatsapp"
    connector_token: str = "demo-connector"
    connector_queues: tuple[str, ...] = ()  # queues WhatsApp contacts name (empty: the connector's own)
    topics: tuple[str, ...] = TOPICS  # web-chat topics ('' : the default queue)
    rate: float = 4.0  # customers per minute
    web_share: float = 0.6  # the rest arrive on WhatsApp
    leave_share: float = 0.15  # web customers who give up if nobody answers within their patience
    break_share: float = 0.1  # after a contact, the chance an agent takes a break
    pace: float = 1.0  # multiplies every delay
    duration: float = 0.0  # seconds; 0: until stopped
    report_every: float = 60.0
    seed: int | None = None


@dataclass(slots=True)
class DemoStats:
    """What the server acknowledged so far."""

    arrived_web: int = 0
    arrived_whatsapp: int = 0
    answered: int = 0
    completed: int = 0
    left: int = 0
    surveys: int = 0
    breaks: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)  # the first few errors, for the final line
    agent_states: dict[str, str] = field(default_factory=dict)  # agent id -> available/away/offline/busy

    def line(self, elapsed: float) -> str:
        states = {s: 0 for s in ("available", "busy", "away", "offline")}
        for s in self.agent_states.values():
            states[s] = states.get(s, 0) + 1
        return (
            f"demo {int(elapsed // 60):02d}:{int(elapsed % 60):02d}  "
            f"arrived {self.arrived_web + self.arrived_whatsapp} (web {self.arrived_web}, "
            f"whatsapp {self.arrived_whatsapp})  answered {self.answered}  completed {self.completed}  "
            f"left waiting {self.left}  surveys {self.surveys}  |  agents: "
            + ", ".join(f"{n} {s}" for s, n in states.items())
        )


def arrival_gaps(rate_per_minute: float, rng: random.Random) -> Iterator[float]:
    """Seconds between arrivals of a Poisson process of ``rate_per_minute``."""
    while True:
        yield rng.expovariate(rate_per_minute / 60.0)


class DemoError(Exception):
    """The demo can't run (the server is unreachable or refused a login)."""


class Rejected(Exception):
    """The server answered a command with ``error``."""

    def __init__(self, reply: dict[str, Any], kind: str = "") -> None:
        super().__init__(f"{kind}: {reply.get('code')}: {reply.get('message')}")
        self.code = str(reply.get("code", ""))


class Client:
    """One protocol connection: ``call`` returns the ``ack`` (raises :class:`Rejected` on ``error``);
    every other message goes to ``on_push``."""

    def __init__(self, ws: ClientConnection, on_push: Callable[[dict[str, Any]], None]) -> None:
        self.ws = ws
        self.on_push = on_push
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, path: str, on_push: Callable[[dict[str, Any]], None]) -> Client:
        return cls(await connect(url + path, open_timeout=5, compression=None), on_push)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                msg = json.loads(frame)
                future = self._waiting.pop(msg.get("id"), None) if msg.get("type") in ("ack", "error") else None
                if future is not None and not future.done():
                    future.set_result(msg)
                else:
                    self.on_push(msg)
        except ConnectionClosed:
            pass
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            self._waiting.clear()

    async def call(self, kind: str, timeout: float = 10.0, **body: Any) -> dict[str, Any]:
        if self.reader.done():
            raise ConnectionError("connection closed")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        await self.ws.send(json.dumps({"type": kind, "id": request_id, **body}))
        reply = await asyncio.wait_for(future, timeout)
        if reply["type"] == "error":
            raise Rejected(reply, kind)
        return reply

    @property
    def closed(self) -> bool:
        return self.reader.done()

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class Demo:
    """The scripted agents and customers of one run; ``await run(stop)``."""

    def __init__(self, settings: DemoSettings, *, out: Callable[[str], None] = print) -> None:
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.stats = DemoStats()
        self.out = out
        self.stop = asyncio.Event()
        self.stopping = asyncio.Event()  # arrivals stopped; agents finish up
        self._tasks: set[asyncio.Task] = set()

    def pause(self, lo: float, hi: float) -> float:
        return self.s.pace * self.rng.uniform(lo, hi)

    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, ConnectionError | ConnectionClosed | Rejected | TimeoutError | OSError):
                log.error("demo task failed", exc_info=exc)
            self.problem(exc)

    def problem(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if len(self.stats.problems) < 5:
            self.stats.problems.append(f"{type(exc).__name__}: {exc}")

    async def run(self, stop: asyncio.Event) -> DemoStats:
        """Run until ``stop`` is set or ``duration`` passes; then agents complete what they hold and log off."""
        await self._check_reachable()
        started = time.monotonic()
        connector = Connector(self)
        await connector.open()
        agents = [ScriptedAgent(self, agent_id) for agent_id in self.s.agents]
        agent_tasks = [asyncio.create_task(a.run()) for a in agents]
        arrivals = asyncio.create_task(self._arrivals(connector))
        reporter = asyncio.create_task(self._report(started))
        waits = [asyncio.create_task(stop.wait())]
        if self.s.duration > 0:
            waits.append(asyncio.create_task(asyncio.sleep(self.s.duration)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        arrivals.cancel()
        self.stopping.set()
        await asyncio.wait(agent_tasks, timeout=max(5.0, 10 * self.s.pace))
        for task in [*agent_tasks, *self._tasks, reporter]:
            task.cancel()
        await asyncio.gather(*agent_tasks, *self._tasks, reporter, arrivals, return_exceptions=True)
        await connector.close()
        self.out(self.stats.line(time.monotonic() - started) + "  (stopped)")
        return self.stats

    async def _check_reachable(self) -> None:
        try:
            ws = await connect(self.s.url + "/v1/supervisor", open_timeout=5)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise DemoError(
                f"can't reach the gateway at {self.s.url} ({exc}); is `omniroute serve` running? (make run)"
            ) from None
        await ws.close()

    async def _report(self, started: float) -> None:
        while True:
            await asyncio.sleep(self.s.report_every)
            self.out(self.stats.line(time.monotonic() - started))

    async def _arrivals(self, connector: Connector) -> None:
        numbers = itertools.count(1)
        for gap in arrival_gaps(self.s.rate, self.rng):
            await asyncio.sleep(gap)
            n = next(numbers)
            if self.rng.random() < self.s.web_share:
                self.spawn(WebCustomer(self, n).run())
            else:
                self.spawn(connector.new_conversation(n))


class ScriptedAgent:
    """One agent at the desk: accepts offers, chats, completes, takes breaks; logs in again if dropped."""

    def __init__(self, demo: Demo, agent_id: str) -> None:
        self.demo = demo
        self.id = agent_id
        self.client: Client | None = None
        self.contacts: dict[str, asyncio.Queue[dict[str, Any]]] = {}  # open contact -> customer messages
        self.on_break = False

    def _state(self, state: str) -> None:
        if state == "available" and self.contacts:
            state = "busy"
        self.demo.stats.agent_states[self.id] = state

    async def run(self) -> None:
        demo = self.demo
        while not demo.stopping.is_set():
            try:
                self.client = await Client.open(demo.s.url, "/v1/agent", self._push)
                ack = await self.client.call("login", agent=self.id, token=demo.s.token_prefix + self.id)
                for contact in ack.get("contacts", []):
                    if contact.get("state") == "connected":
                        self._converse(contact["id"], resumed=True)
                for offer in ack.get("offers", []):
                    self._push(offer)
                if not self.on_break:
                    await self.client.call("state", state="available")
                self._state("away" if self.on_break else "available")
                stopping = asyncio.create_task(demo.stopping.wait())
                await asyncio.wait([self.client.reader, stopping], return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
            except Rejected as exc:
                if exc.code == "unauthorized":
                    demo.out(f"demo: agent {self.id} can't log in ({exc}); check --token-prefix")
                    self.demo.stats.agent_states.pop(self.id, None)
                    return
                demo.problem(exc)
            except (OSError, ConnectionError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass
            if not demo.stopping.is_set():
                await asyncio.sleep(1.0)
        await self._log_off()

    async def _log_off(self) -> None:
        """Finish what the agent holds, go offline, disconnect."""
        client = self.client
        if client is None or client.closed:
            return
        with contextlib.suppress(Rejected, ConnectionError, ConnectionClosed, TimeoutError):
            for contact_id in list(self.contacts):
                await client.call("complete", contact=contact_id, disposition="demo_stopped", timeout=3)
            await client.call("state", state="offline", timeout=3)
        self.demo.stats.agent_states[self.id] = "offline"
        await client.close()

    def _push(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "offer":
            self.demo.spawn(self._answer(msg))
        elif kind == "message" and msg.get("from") == "customer" and msg.get("contact") in self.contacts:
            self.contacts[msg["contact"]].put_nowait(msg)
        elif kind == "contact_removed":
            self.contacts.pop(msg.get("contact", ""), None)
        elif kind == "state":
            self._state(str(msg.get("state")))

    async def _answer(self, offer: dict[str, Any]) -> None:
        await asyncio.sleep(self.demo.pause(1.0, 4.0))
        client = self.client
        if client is None or client.closed or self.demo.stopping.is_set():
            return
        try:
            ack = await client.call("accept", offer=offer["offer"])
        except Rejected:
            return  # expired or revoked meanwhile
        self.demo.stats.answered += 1
        self._converse(ack["contact"]["id"])

    def _converse(self, contact_id: str, *, resumed: bool = False) -> None:
        if contact_id not in self.contacts:
            self.contacts[contact_id] = asyncio.Queue()
            self._state("available")
            self.demo.spawn(self._conversation(contact_id, resumed))

    async def _conversation(self, contact_id: str, resumed: bool) -> None:
        try:
            await self._chat(contact_id, resumed)
        except Rejected as exc:
            self.demo.problem(exc)  # e.g. the contact went back to its queue meanwhile
            self.contacts.pop(contact_id, None)
        except (ConnectionError, ConnectionClosed, TimeoutError):
            self.contacts.pop(contact_id, None)  # resumed (with the login's contacts) once connected again

    async def _chat(self, contact_id: str, resumed: bool) -> None:
        demo, inbox = self.demo, self.contacts[contact_id]
        lines = AGENT_LINES[1:] if resumed else AGENT_LINES
        for text in lines[: demo.rng.randint(2, len(lines))]:
            client = self.client
            if client is None or client.closed or demo.stopping.is_set() or contact_id not in self.contacts:
                return
            await client.call("message", contact=contact_id, text=text)
            with contextlib.suppress(TimeoutError):  # the customer may answer, or not
                await asyncio.wait_for(inbox.get(), demo.pause(3.0, 8.0))
        client = self.client
        if client is None or client.closed or contact_id not in self.contacts:
            return
        await client.call("complete", contact=contact_id, disposition=demo.rng.choice(DISPOSITIONS))
        del self.contacts[contact_id]
        demo.stats.completed += 1
        self._state("available")
        if not self.contacts and not self.on_break and demo.rng.random() < demo.s.break_share:
            await self._take_break()

    async def _take_break(self) -> None:
        demo, client = self.demo, self.client
        if client is None:
            return
        self.on_break = True
        await client.call("state", state="away", reason="break")
        demo.stats.breaks += 1
        self._state("away")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(demo.stopping.wait(), demo.pause(30.0, 90.0))
        self.on_break = False
        if not demo.stopping.is_set() and self.client is client and not client.closed:
            await client.call("state", state="available")
            self._state("available")


class WebCustomer:
    """A customer on the web-chat widget."""

    def __init__(self, demo: Demo, n: int) -> None:
        self.demo = demo
        self.n = n
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def run(self) -> None:
        demo = self.demo
        client = await Client.open(demo.s.url, "/v1/customer", self.events.put_nowait)
        try:
            body: dict[str, Any] = {"name": demo.rng.choice(NAMES), "text": demo.rng.choice(OPENERS)}
            topic = demo.rng.choice(demo.s.topics) if demo.s.topics else ""
            if topic:
                body["topic"] = topic
            await client.call("start", **body)
            demo.stats.arrived_web += 1
            leaves = demo.rng.random() < demo.s.leave_share
            patience = demo.pause(10.0, 40.0) if leaves else 3600.0
            if not await self._until("agent_joined", patience):
                await client.call("leave")  # gives up waiting (or the demo stops)
                if not demo.stopping.is_set():
                    demo.stats.left += 1
                return
            while True:
                msg = await self._next(3600.0)
                if msg is None or msg.get("type") == "ended":
                    break
                if msg.get("type") == "message" and msg.get("from") == "agent" and demo.rng.random() < 0.7:
                    await asyncio.sleep(demo.pause(2.0, 6.0))
                    try:
                        await client.call("message", text=demo.rng.choice(CUSTOMER_LINES))
                    except Rejected as exc:
                        if exc.code != "illegal_state":
                            raise  # else the agent completed while the customer typed; `ended` follows
            if msg is not None and not demo.stopping.is_set():
                await client.call("survey", score=demo.rng.choice((3, 4, 4, 5, 5)))
                demo.stats.surveys += 1
        finally:
            await client.close()

    async def _next(self, timeout: float) -> dict[str, Any] | None:
        """The next message; None after ``timeout`` or when the demo stops."""
        get = asyncio.create_task(self.events.get())
        stopping = asyncio.create_task(self.demo.stopping.wait())
        await asyncio.wait([get, stopping], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if get.done():
            return get.result()
        get.cancel()
        return None

    async def _until(self, kind: str, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            msg = await self._next(left)
            if msg is not None and msg.get("type") == kind:
                return True
            if msg is None or msg.get("type") == "ended":
                return False
        return False


class Connector:
    """The demo's WhatsApp bridge: one connection carrying every WhatsApp customer's conversation."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.client: Client | None = None
        self.by_address: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.address_of: dict[str, str] = {}  # contact id -> address

    async def open(self) -> None:
        s = self.demo.s
        self.client = await Client.open(s.url, "/v1/connector", self._push)
        try:
            await self.client.call("login", connector=s.connector, token=s.connector_token)
        except Rejected as exc:
            await self.client.close()
            raise DemoError(f"connector {s.connector!r} can't log in ({exc}); see the gateway section") from None

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    def _push(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "outbound" and msg.get("to") in self.by_address:
            self.by_address[msg["to"]].put_nowait(msg)
        elif msg.get("type") == "closed":
            address = self.address_of.pop(msg.get("contact", ""), "")
            if address in self.by_address:
                self.by_address[address].put_nowait(msg)

    async def new_conversation(self, n: int) -> None:
        demo, client = self.demo, self.client
        assert client is not None
        address = f"+1555{demo.rng.randrange(10**7):07d}"  # a made-up number
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.by_address[address] = inbox
        body: dict[str, Any] = {"channel": "whatsapp", "from": address, "text": demo.rng.choice(OPENERS)}
        if demo.s.connector_queues:
            body["queue"] = demo.rng.choice(demo.s.connector_queues)
        try:
            ack = await client.call("inbound", **body)
            self.address_of[ack["contact"]] = address
            demo.stats.arrived_whatsapp += 1
            while True:
                try:
                    msg = await asyncio.wait_for(inbox.get(), 3600.0)
                except TimeoutError:
                    return
                if msg.get("type") == "closed":
                    return
                if demo.rng.random() < 0.6:
                    await asyncio.sleep(demo.pause(2.0, 8.0))
                    reply = {"channel": "whatsapp", "from": address, "text": demo.rng.choice(CUSTOMER_LINES)}
                    ack = await client.call("inbound", **reply)
                    if ack.get("new"):  # the agent had closed the conversation meanwhile: this starts another
                        demo.stats.arrived_whatsapp += 1
                        self.address_of[ack["contact"]] = address
        finally:
            self.by_address.pop(address, None)
