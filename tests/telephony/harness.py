"""The voice stack of a test: Redis (fixture), a live router, the IVR worker pool and Kamailio, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import socket
import wave
from pathlib import Path

import numpy as np

from router.client import RouterClient
from router.config.loader import load
from router.config.model import Config
from router.engine import LiveRouter
from router.events import Event, EventType
from router.lifecycle import AgentState
from router.store import RedisStore, connect
from telephony.kamailio import Kamailio
from telephony.pool import WorkerPool
from telephony.state import call_key, worker_key
from tests.support import UNIT
from tests.telephony import sipp

FLOW = "tests.telephony.flows:menu"


def free_udp_ports(count: int, *, step: int = 1) -> int:
    """A base port with ``count`` UDP ports (``step`` apart) free on 127.0.0.1 right now."""
    for _ in range(200):
        base = random.randrange(30000, 55000 - count * step)
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i * step))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free UDP port range on 127.0.0.1")


def write_wav(path: Path, seconds: float, freq: float = 440.0) -> None:
    t = np.arange(int(8000 * seconds)) / 8000
    samples = (np.sin(2 * np.pi * freq * t) * 6000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


class Ports:
    def __init__(self, workers: int) -> None:
        self.sip = free_udp_ports(1)
        self.worker = free_udp_ports(workers)
        self.rtp = free_udp_ports(workers, step=100)
        self.phones = free_udp_ports(3, step=2)  # a1, a2 phones (SIP), the customer called back
        self.media = free_udp_ports(8, step=10)


def voice_yaml(tenant: str, ports: Ports, *, workers: int, offer_timeout: float, allow: str, flood: str) -> str:
    return f"""
tenant: {tenant}
routing: {{offer_timeout: {offer_timeout}, reject_delay: 0, no_answer_delay: 0, max_missed_offers: 100, wrapup: 0}}
channels:
  voice: {{capacity: 1, exclusive: true}}
skills: [sales, support]
queues:
  sales: {{channels: [voice], skills: {{sales: 1}}, offer_timeout: {offer_timeout}}}
  support: {{channels: [voice], skills: {{support: 1}}, offer_timeout: {offer_timeout}}}
  general: {{channels: [voice], skills: {{}}, offer_timeout: {offer_timeout}}}
agents:
  - {{id: a1, name: Ana, skills: {{sales: 5}}, channels: [voice], sip_uri: "sip:a1@127.0.0.1:{ports.phones}"}}
  - {{id: a2, name: Bruno, skills: {{support: 5}}, channels: [voice], sip_uri: "sip:a2@127.0.0.1:{ports.phones + 2}"}}
telephony:
  enabled: true
  host: 127.0.0.1
  sip_port: {ports.sip}
  workers: {workers}
  worker_port: {ports.worker}
  rtp_port: {ports.rtp}
  callers_per_worker: 2
  allow: {allow}
  flood: {flood}
  music_on_hold: moh.wav
  probe_interval: 1
  heartbeat: 0.5
  restart_delay: 0.2
  callback_uri: "sip:{{number}}@127.0.0.1:{ports.phones + 4}"
  callback_ring: 5
"""


class VoiceStack:
    """``async with VoiceStack(...)``: router + pool + Kamailio; helpers to read what happened."""

    def __init__(
        self,
        directory: Path,
        redis_url: str,
        tenant: str,
        monkeypatch,
        *,
        workers: int = 2,
        offer_timeout: float = 20,
        allow: str = "[127.0.0.0/8]",
        flood: str = "{requests: 200, per: 2}",
    ) -> None:
        self.dir = directory
        self.redis_url = redis_url
        self.ports = Ports(workers)
        prompts = directory / "prompts"
        prompts.mkdir()
        write_wav(prompts / "main.wav", 4, 440)
        write_wav(prompts / "sub.wav", 4, 660)
        write_wav(directory / "moh.wav", 3, 330)
        monkeypatch.setenv("OMNIROUTE_TEST_PROMPTS", str(prompts))
        path = directory / "routing.yaml"
        path.write_text(
            voice_yaml(tenant, self.ports, workers=workers, offer_timeout=offer_timeout, allow=allow, flood=flood)
        )
        self.config: Config = load(path)
        self.config_path = str(path)
        self.events: list[Event] = []
        self.recording = True  # _record_events runs while set

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.ports.sip}"

    async def __aenter__(self) -> VoiceStack:
        self.client = await connect(self.redis_url, tenant=self.config.tenant)
        self.store = RedisStore(self.client, self.config)
        self.router_client = RouterClient(self.store)
        self.stop = asyncio.Event()
        self.router = LiveRouter(self.store, self.config, max_block=0.2)
        self.pool = WorkerPool(self.config, self.config_path, self.redis_url, flow=FLOW, log_dir=self.dir / "logs")
        ready = asyncio.Event()
        self.tasks = [asyncio.create_task(self.router.run()), asyncio.create_task(self.pool.run(self.stop, ready))]
        self.tasks.append(asyncio.create_task(self._record_events()))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([waiter, self.tasks[1]], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if self.tasks[1].done():
            self.tasks[1].result()
        assert ready.is_set(), f"the worker pool did not start:\n{self.worker_logs()}"
        self.kamailio = Kamailio(self.config.telephony, directory=self.dir / "kamailio")
        await asyncio.get_running_loop().run_in_executor(None, self.kamailio.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Off the loop: Kamailio may take seconds to exit, and a loop blocked that long makes the router's and
        # the event recorder's Redis reads time out (redis-py's 5 s socket timeout), failing the teardown.
        await asyncio.get_running_loop().run_in_executor(None, self.kamailio.stop)
        self.stop.set()
        self.router.stop()
        self.recording = False  # the event recorder ends after its current XREAD (200 ms at most)
        for task, name in zip(self.tasks, ("router", "worker pool", "event recorder"), strict=True):
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(task, 20 * UNIT)
                except TimeoutError:
                    raise AssertionError(f"the {name} did not stop in {20 * UNIT}s\n{self.worker_logs()}") from None
        await self.client.aclose()

    async def _record_events(self) -> None:
        # Its own connection, and it stops by itself when told: cancelling a blocked XREAD (on the shared pool,
        # and later on its own connection) sometimes hung teardown for 20 s.
        client = await connect(self.redis_url, tenant=self.config.tenant, max_connections=2)
        store, last = RedisStore(client, self.config), "0-0"
        try:
            while self.recording:
                for event in await store.read_events(last, block_ms=200):
                    last = event.id
                    self.events.append(event)
        finally:
            await client.aclose()

    def of_type(self, etype: EventType, contact: str | None = None) -> list[Event]:
        return [
            e for e in self.events if e.type == etype and (contact is None or (e.contact or {}).get("id") == contact)
        ]

    async def wait_for(self, predicate, timeout: float, what: str):
        timeout *= UNIT  # OMNIROUTE_TEST_UNIT=3 on a slow or busy machine
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.worker_logs()}")

    async def wait_event(self, etype: EventType, timeout: float = 15, contact: str | None = None) -> Event:
        found = await self.wait_for(lambda: self.of_type(etype, contact), timeout, f"event {etype}")
        return found[0]

    async def worker_state(self, index: int) -> dict[str, str]:
        return await self.client.hgetall(worker_key(self.store.keys.prefix, self.pool.worker_id(index)))

    async def cdr(self, contact_id: str) -> dict[str, str]:
        return await self.client.hgetall(call_key(self.store.keys.prefix, contact_id))

    async def ring_back(self, contact_id: str, agent: str = "a1") -> tuple[Event, dict[str, str]]:
        """An agent accepts the callback contact ``contact_id``: the customer's phone (a sipp UAS at
        ``telephony.callback_uri``, echoing) and then the agent's phone ring, answer and are bridged until the
        agent hangs up. Returns the completed event and the call record."""
        customer = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=200, talk_ms=None), self.dir, "customer", target=None,
            port=self.ports.phones + 4, media_port=self.ports.media + 30, extra=("-rtp_echo",),
        )  # fmt: skip
        phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=200, talk_ms=2000), self.dir, "phone", target=None,
            port=self.ports.phones, media_port=self.ports.media + 10, extra=("-rtp_echo",),
        )  # fmt: skip
        try:
            await self.router_client.set_agent_state(agent, AgentState.AVAILABLE)
            offer = await self.wait_event(EventType.CONTACT_OFFERED, 10, contact_id)
            await self.router_client.accept(contact_id, agent, offer.contact["offer_id"])
            assert await asyncio.to_thread(phone.wait, 15) == 0, phone.output()  # rang, answered, hung up
            assert await asyncio.to_thread(customer.wait, 20) == 0, customer.output()  # answered, then the BYE
            completed = await self.wait_event(EventType.CONTACT_COMPLETED, 10, contact_id)
        finally:
            customer.stop()
            phone.stop()
        cdr = await self.wait_for(lambda: self.cdr(contact_id), 5, "the call record")
        return completed, cdr

    @contextlib.asynccontextmanager
    async def gateway(self):
        """A websockets gateway on this stack's routing.yaml (which needs a ``gateway`` section); yields its
        ``ws://`` URL and stops it afterwards."""
        from router.gateway.server import Gateway  # the gateway's imports only for the tests that use it

        stop, ready = asyncio.Event(), asyncio.Event()
        gateway = Gateway(self.config, RedisStore(self.client, self.config), tick=0.2)
        running = asyncio.create_task(gateway.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 10)
        try:
            yield f"ws://127.0.0.1:{gateway.port}"
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)

    def worker_logs(self) -> str:
        out = []
        for log in sorted((self.dir / "logs").glob("*.log")):
            out.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}")
        return "\n".join(out)
