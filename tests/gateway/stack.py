"""A live router and gateway on real Redis, and websocket clients that speak the protocol, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import textwrap
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from router.config import loads
from router.config.model import Config
from router.engine import LiveRouter
from router.gateway.server import Gateway
from router.store import RedisStore, connect


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


AGENTS = "\n".join(
    f"""  - id: {a}
    name: {name}
    skills: {{sales: 5, support: 5, en: 5}}
    channels: [chat, whatsapp, voice]
    token_sha256: {sha("tok-" + a)}"""
    for a, name in (("a1", "Ana Souza"), ("a2", "Bruno Lima"), ("a3", "Carla Dias"))
)


def gateway_config(tenant: str, **settings: Any) -> Config:
    """A small tenant (queues sales and support, agents a1-a3, a connector, a supervisor) with a gateway."""
    return loads(gateway_yaml(tenant, **settings), source="gateway-test.yaml")


def gateway_yaml(
    tenant: str,
    *,
    grace: float = 30,
    offer_timeout: float = 20,
    reject_delay: float = 0,
    chat_capacity: int = 3,
    last_agent: float = 0,
    port: int = 0,
    extra: str = "",
) -> str:
    return f"""
tenant: {tenant}
routing: {{offer_timeout: {offer_timeout}, reject_delay: {reject_delay}, no_answer_delay: 0, max_missed_offers: 100,
          last_agent: {last_agent}}}
channels:
  chat: {{capacity: {chat_capacity}}}
  whatsapp: {{capacity: 3}}
  voice: {{capacity: 1, exclusive: true}}
skills: [sales, support, en]
queues:
  sales: {{channels: [chat, whatsapp, voice], skills: {{sales: 1}}}}
  support: {{channels: [chat, whatsapp, voice], skills: {{support: 1}}}}
agents:
{AGENTS}
gateway:
  host: 127.0.0.1
  port: {port}
  grace: {grace}
  heartbeat: 1
  max_message: 4096
  rate: {{messages: 30, per: 1}}
  chat: {{queue: sales, topics: {{buying: sales, help: support}}}}
  supervisors:
    boss: {{token_sha256: {sha("tok-boss")}}}
  connectors:
    wa: {{token_sha256: {sha("tok-wa")}, channels: [whatsapp], queue: support}}
{textwrap.dedent(extra)}
"""


class Stack:
    """One router and one gateway in this event loop (``async with``)."""

    def __init__(self, config: Config, redis_url: str, *, router: bool = True) -> None:
        self.config = config
        self.redis_url = redis_url
        self.with_router = router

    async def __aenter__(self) -> Stack:
        self.client = await connect(self.redis_url, tenant=self.config.tenant)
        self.store = RedisStore(self.client, self.config)
        self.stop = asyncio.Event()
        self.gateway = Gateway(self.config, RedisStore(self.client, self.config), tick=0.2)
        ready = asyncio.Event()
        self.tasks = [asyncio.create_task(self.gateway.run(self.stop, ready))]
        if self.with_router:
            self.router = LiveRouter(self.store, self.config, max_block=0.2)
            self.tasks.append(asyncio.create_task(self.router.run()))
        await asyncio.wait_for(ready.wait(), 10)
        self.url = f"ws://127.0.0.1:{self.gateway.port}"
        self.http = f"http://127.0.0.1:{self.gateway.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.with_router:
            self.router.stop()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
        await self.client.aclose()


class Peer:
    """A protocol client: send commands, wait for a message of a given type (others are kept)."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []  # everything received, in order
        self._unread: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, path: str) -> Peer:
        return cls(await websockets.connect(url + path, open_timeout=5))

    async def send(self, type_: str, /, **body: Any) -> int:
        request_id = next(self._ids)
        await self.ws.send(json.dumps({"type": type_, "id": request_id, **body}))
        return request_id

    async def raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def expect(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next message of type ``kind`` whose fields include ``match``; fails after ``timeout`` s."""

        def fits(m: dict[str, Any]) -> bool:
            return m.get("type") == kind and all(m.get(k) == v for k, v in match.items())

        for i, m in enumerate(self._unread):
            if fits(m):
                del self._unread[i]
                return m
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {kind} {match} within {timeout}s; got {self.seen[-8:]}")
            try:
                m = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                continue
            self.seen.append(m)
            if fits(m):
                return m
            self._unread.append(m)

    async def call(self, type_: str, /, timeout: float = 5.0, **body: Any) -> dict[str, Any]:
        """Send a command and return its ``ack`` (or ``error``) reply."""
        return await self.reply(await self.send(type_, **body), timeout)

    async def reply(self, request_id: int, timeout: float = 5.0) -> dict[str, Any]:
        """The ``ack`` or ``error`` answering the command sent with ``request_id``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, m in enumerate(self._unread):
                if m.get("id") == request_id and m.get("type") in ("ack", "error"):
                    del self._unread[i]
                    return m
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no reply to #{request_id} within {timeout}s; got {self.seen[-8:]}")
            try:
                m = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                continue
            self.seen.append(m)
            self._unread.append(m)

    async def close(self) -> None:
        await self.ws.close()


async def agent(url: str, agent_id: str, *, available: bool = True) -> Peer:
    p = await Peer.open(url, "/v1/agent")
    reply = await p.call("login", agent=agent_id, token="tok-" + agent_id)
    assert reply["type"] == "ack", reply
    if available:
        assert (await p.call("state", state="available"))["type"] == "ack"
    return p


async def customer(url: str, text: str = "hello", **fields: Any) -> tuple[Peer, dict[str, Any]]:
    p = await Peer.open(url, "/v1/customer")
    reply = await p.call("start", name=fields.pop("name", "Maria"), text=text, **fields)
    assert reply["type"] == "ack", reply
    return p, reply
