"""Queue and agent statistics: from Redis for the CLI, the wallboard and metrics; followed from the event
stream for wait estimates (the chat widget's and the IVR's announcements)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from router.events import Event, EventType, agent_from_fields
from router.lifecycle import AgentState
from router.state import AgentView, agent_queues
from router.store import RedisStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevel:
    """Today's answered and abandoned counts of a queue, and the service level both ways in use."""

    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    answered_wait_sum: float = 0.0

    @property
    def of_answered(self) -> float | None:
        """Answered within the target over answered."""
        return self.answered_within / self.answered if self.answered else None

    @property
    def of_offered(self) -> float | None:
        """(Answered within + abandoned within the target) over (answered + abandoned)."""
        total = self.answered + self.abandoned
        return (self.answered_within + self.abandoned_within) / total if total else None

    @property
    def asa(self) -> float | None:
        """Average speed of answer, seconds."""
        return self.answered_wait_sum / self.answered if self.answered else None

    @classmethod
    def from_counters(cls, counters: dict[str, str], queue: str) -> ServiceLevel:
        def get(name: str) -> float:
            return float(counters.get(f"{queue}|{name}", 0))

        return cls(
            answered=int(get("answered")),
            answered_within=int(get("answered_within")),
            abandoned=int(get("abandoned")),
            abandoned_within=int(get("abandoned_within")),
            answered_wait_sum=get("answered_wait_sum"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    queue: str
    waiting: int
    oldest_wait: float | None
    offered: int
    connected: int
    agents_available: int
    today: ServiceLevel


async def queue_stats(store: RedisStore, now: float) -> list[QueueStats]:
    """Live figures per queue: waiting, oldest wait, on offer, connected, agents available, today's SL."""
    client = store.client
    ids = list(await client.smembers(store.keys.contacts))
    pipe = client.pipeline(transaction=False)
    for cid in ids:
        pipe.hmget(store.keys.contact(cid), ["queue", "state", "enqueued_at"])
    rows = await pipe.execute() if ids else []
    agents = await agent_states(store)
    counters = await store.stats(now)
    out = []
    for name in store.config.queues:
        mine = [r for r in rows if r[0] == name]
        waits = [now - float(r[2]) for r in mine if r[1] == "queued"]
        available = sum(
            1
            for a in agents.values()
            if a.state == AgentState.AVAILABLE and name in agent_queues(store.config, store.config.agents[a.id])
        )
        out.append(
            QueueStats(
                queue=name,
                waiting=len(waits),
                oldest_wait=max(waits) if waits else None,
                offered=sum(1 for r in mine if r[1] == "offered"),
                connected=sum(1 for r in mine if r[1] in ("connected", "wrapup")),
                agents_available=available,
                today=ServiceLevel.from_counters(counters, name),
            )
        )
    return out


async def agent_states(store: RedisStore) -> dict[str, AgentView]:
    """Every configured agent's live state (offline when Redis has never seen it)."""
    pipe = store.client.pipeline(transaction=False)
    for agent_id in store.config.agents:
        pipe.hgetall(store.keys.agent(agent_id))
    rows = await pipe.execute()
    return {
        agent_id: agent_from_fields(fields) if fields else AgentView(id=agent_id)
        for agent_id, fields in zip(store.config.agents, rows, strict=True)
    }


def serving_agents(states: Mapping[str, AgentView], queues_of: Callable[[str], Iterable[str]]) -> dict[str, int]:
    """Per queue, the agents logged in (not offline) who serve it; ``queues_of(agent id)`` names its queues."""
    serving: dict[str, int] = {}
    for agent_id, view in states.items():
        if view.state != AgentState.OFFLINE:
            for queue in queues_of(agent_id):
                serving[queue] = serving.get(queue, 0) + 1
    return serving


class HandleTimes:
    """Each queue's last ``keep`` handle times (acceptance to completion), from the lifecycle events."""

    def __init__(self, keep: int = 20) -> None:
        self.keep = keep
        self._accepted: dict[str, float] = {}  # contact -> when an agent accepted it
        self._times: dict[str, deque[float]] = {}

    def observe(self, event: Event) -> None:
        contact = event.contact or {}
        cid = contact.get("id", "")
        if event.type == EventType.CONTACT_ACCEPTED:
            self._accepted[cid] = event.at
        elif event.type == EventType.CONTACT_COMPLETED and cid in self._accepted:
            times = self._times.setdefault(contact.get("queue", ""), deque(maxlen=self.keep))
            times.append(event.at - self._accepted.pop(cid))

    def recent(self, queue: str) -> tuple[float, ...]:
        return tuple(self._times.get(queue, ()))

    def mean(self, queue: str, default: float) -> float:
        times = self._times.get(queue)
        return sum(times) / len(times) if times else default
