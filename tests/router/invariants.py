"""Replay an event stream and check the router's invariants; drive random agents. Used by the invariant
and crash tests (router processes are real ``omniroute serve`` processes; this is the agents' side)."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from router.config.model import Config
from router.events import Event, EventType
from router.lifecycle import AgentState
from router.store import RedisStore

RELEASE = {
    EventType.CONTACT_REJECTED,
    EventType.CONTACT_OFFER_EXPIRED,
    EventType.CONTACT_OFFER_REVOKED,
    EventType.CONTACT_DONE,
    EventType.CONTACT_ABANDONED,
    EventType.CONTACT_TRANSFERRED,
    EventType.CONTACT_REQUEUED,
}
BACK_IN_LINE = {
    EventType.CONTACT_ARRIVED,
    EventType.CONTACT_REJECTED,
    EventType.CONTACT_OFFER_EXPIRED,
    EventType.CONTACT_OFFER_REVOKED,
    EventType.CONTACT_REQUEUED,
    EventType.CONTACT_TRANSFERRED,
}


@dataclass
class Report:
    """What the replay found."""

    arrived: int = 0
    done: int = 0
    offers: int = 0
    violations: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def check_stream(events: list[Event], config: Config) -> Report:
    """Replay ``events`` and report every broken invariant.

    - no agent ever holds more contacts of a channel than its capacity, nor anything beside voice;
    - no contact is offered while another agent holds it;
    - within a lane (queue, channel, priority, skills) offers go first come, first served;
    - every contact that arrived finished exactly once.
    """
    report = Report()
    exclusive = {c.name for c in config.channels.values() if c.exclusive}
    holder: dict[str, str] = {}
    held: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    waiting: dict[tuple, dict[str, int]] = defaultdict(dict)  # lane -> contact -> seq
    lane_of: dict[str, tuple] = {}
    finished: dict[str, int] = defaultdict(int)
    arrived: set[str] = set()
    for ev in events:
        c = ev.contact
        if c is None:
            continue
        cid = c["id"]
        report.outcomes[ev.type] += 1
        if ev.type == EventType.CONTACT_ARRIVED:
            if cid in arrived:
                report.violations.append(f"{cid} arrived twice")
            arrived.add(cid)
        lane = (c["queue"], c["channel"], c["priority"], c.get("skills", ""))
        if ev.type in RELEASE and cid in holder:
            agent = holder.pop(cid)
            held[agent][c["channel"]].discard(cid)
        if ev.type in BACK_IN_LINE and c["state"] == "queued":
            old = lane_of.pop(cid, None)
            if old is not None:
                waiting[old].pop(cid, None)
            waiting[lane][cid] = int(c["seq"])
            lane_of[cid] = lane
        if ev.type in (EventType.CONTACT_ABANDONED, EventType.CONTACT_OVERFLOWED):
            old = lane_of.pop(cid, None)
            if old is not None:
                waiting[old].pop(cid, None)
        if ev.type == EventType.CONTACT_OFFERED:
            report.offers += 1
            agent = c["agent"]
            if cid in holder:
                report.violations.append(f"{cid} offered to {agent} while {holder[cid]} holds it")
            line = waiting[lane]
            seq = int(c["seq"])
            ahead = [other for other, s in line.items() if s < seq]
            if ahead:
                report.violations.append(f"{cid} (seq {seq}) offered before {ahead} in lane {lane}")
            line.pop(cid, None)
            lane_of.pop(cid, None)
            holder[cid] = agent
            mine = held[agent]
            mine[c["channel"]].add(cid)
            spec = config.agents[agent]
            cap = config.capacity(spec, c["channel"])
            if len(mine[c["channel"]]) > cap:
                report.violations.append(f"{agent} holds {len(mine[c['channel']])} {c['channel']} > {cap}")
            busy = [ch for ch, ids in mine.items() if ids]
            if len(busy) > 1 and exclusive & set(busy):
                report.violations.append(f"{agent} holds {busy} at once")
        if ev.type in (EventType.CONTACT_DONE, EventType.CONTACT_ABANDONED, EventType.CONTACT_OVERFLOWED):
            finished[cid] += 1
    report.arrived = len(arrived)
    report.done = sum(finished.values())
    for cid in arrived:
        if finished[cid] != 1:
            report.violations.append(f"{cid} finished {finished[cid]} times")
    return report


class RandomAgents:
    """Every configured agent, answering offers at random: accept (then complete), reject, or let expire."""

    def __init__(self, store: RedisStore, rng: random.Random, *, handle: float = 0.6) -> None:
        self.store = store
        self.rng = rng
        self.handle = handle
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False
        # Hundreds of agents act at once; a client's connection pool is smaller (the cluster client
        # raises MaxConnectionsError rather than wait), so at most this many calls are in flight.
        self.in_flight = asyncio.Semaphore(24)

    async def login_all(self) -> None:
        for agent_id in self.store.config.agents:
            await self.store.set_agent_state(agent_id, AgentState.AVAILABLE, time.time())

    async def follow(self, after: str) -> None:
        last = after
        while not self.stopping:
            for ev in await self.store.read_events(last, block_ms=200):
                last = ev.id
                if ev.type == EventType.CONTACT_OFFERED:
                    self._spawn(self._answer(ev))
                elif ev.type == EventType.AGENT_STATE_CHANGED and ev.agent and ev.agent.get("state") == "away":
                    self._spawn(self._back(ev.agent["id"]))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, ev: Event) -> None:
        c = ev.contact
        roll = self.rng.random()
        await asyncio.sleep(self.rng.uniform(0, 0.2))
        try:
            if roll < 0.7:
                async with self.in_flight:
                    await self.store.accept(c["id"], c["agent"], c["offer_id"], time.time())
                await asyncio.sleep(self.rng.uniform(0, self.handle))
                async with self.in_flight:
                    await self.store.complete(c["id"], c["agent"], time.time(), disposition="resolved")
            elif roll < 0.85:
                async with self.in_flight:
                    await self.store.reject(c["id"], c["agent"], c["offer_id"], time.time())
            # else: let it expire
        except Exception as exc:  # a refusal (the offer expired first): the router requeued it
            if type(exc).__name__ != "StaleDecision":
                raise

    async def _back(self, agent_id: str) -> None:
        await asyncio.sleep(0.5)
        async with self.in_flight:
            await self.store.set_agent_state(agent_id, AgentState.AVAILABLE, time.time())


def invariant_config_yaml(tenant: str, agents: int, seed: int = 1) -> str:
    """A routing.yaml with several queues, mixed skills and profiles, short timers."""
    rng = random.Random(seed)
    lines = [
        f"tenant: {tenant}",
        "routing: {offer_timeout: 1.0, reject_delay: 0.2, no_answer_delay: 0.5, max_missed_offers: 3,",
        "          aging: {every: 5, step: 1, max_boost: 5}}",
        "channels:",
        "  voice: {capacity: 1, exclusive: true}",
        "  chat: {capacity: 3}",
        "skills: [sales, support, billing, es, pt]",
        "queues:",
        "  sales: {channels: [voice, chat], skills: {sales: 3}, priority: 1, strategy: longest-idle}",
        "  support: {channels: [voice, chat], skills: {support: 6}, strategy: most-skilled,",
        "            escalation: [{after: 2, skills: {support: 3}}, {after: 4, skills: {support: 1}}]}",
        "  billing: {channels: [voice, chat], skills: {billing: 2}, strategy: least-occupied, wrapup: 0.3}",
        "  spanish: {channels: [chat], skills: {support: 1, es: 5}, strategy: round-robin}",
        "profiles:",
        "  blended:",
        "    queues: [{queue: sales, priority: 1}, {queue: support, priority: 2, delay: 1}]",
        "    capacity: {chat: 2}",
        "agents:",
    ]
    for i in range(agents):
        skills = {s: rng.randint(1, 10) for s in rng.sample(["sales", "support", "billing"], rng.randint(1, 3))}
        if rng.random() < 0.3:
            skills["es"] = rng.randint(4, 10)
        if rng.random() < 0.2:
            skills["pt"] = rng.randint(4, 10)
        channels = rng.choice(["[voice, chat]", "[chat]", "[voice]"])
        profile = ", profile: blended" if rng.random() < 0.2 and "sales" in skills and "support" in skills else ""
        levels = ", ".join(f"{k}: {v}" for k, v in skills.items())
        lines.append(f"  - {{id: ag{i:03d}, name: Agent {i}, skills: {{{levels}}}, channels: {channels}{profile}}}")
    return "\n".join(lines) + "\n"


async def push_contacts(store: RedisStore, n: int, rate: float, rng: random.Random, prefix: str = "c") -> None:
    """Enqueue ``n`` random contacts at about ``rate`` per second."""
    plan = [("sales", 0.3), ("support", 0.3), ("billing", 0.3), ("spanish", 0.1)]
    start = time.time()
    for i in range(n):
        queue = rng.choices([q for q, _ in plan], [w for _, w in plan])[0]
        channel = "chat" if queue == "spanish" or rng.random() < 0.6 else "voice"
        await store.enqueue(f"{prefix}{i:05d}", queue, channel, time.time(), customer=f"cust{i % 997}")
        delay = start + (i + 1) / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


def start_router(config_path: Path, redis_url: str, log: Path) -> subprocess.Popen:
    """An ``omniroute serve`` process (the real command), logging to ``log``."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "router.cli",
                "serve",
                "--config",
                str(config_path),
                "--redis",
                redis_url,
                "--no-gateway",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
