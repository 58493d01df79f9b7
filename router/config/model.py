"""The configuration as frozen dataclasses: what ``router.config.load`` returns.

Nothing below the loader reads raw YAML: every module takes these types. Times are seconds (floats),
skill levels are 1-10, capacities are whole contacts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from router.config.frozen import FrozenMap, frozen_map
from router.pickling import by_fields
from skills.model import SkillRequirement

__all__ = ["FrozenMap", "frozen_map"]  # (re-exported: defined in router.config.frozen)


class Strategy(StrEnum):
    """How a queue picks among the agents able to take a contact."""

    LONGEST_IDLE = "longest-idle"
    MOST_SKILLED = "most-skilled"
    LEAST_OCCUPIED = "least-occupied"
    ROUND_ROBIN = "round-robin"
    RANDOM = "random"


class MaxWaitAction(StrEnum):
    """What happens to a contact that has waited a queue's ``max_wait``."""

    OVERFLOW = "overflow"  # move to another queue, keeping its place (enqueue time)
    END = "end"  # the contact ends as ``overflowed`` (the channel tells the customer)


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A medium contacts arrive on, and how many of its contacts one agent holds by default."""

    name: str
    capacity: int  # contacts of this channel one agent holds at once (voice 1, chat 3, email 5)
    exclusive: bool = False  # a contact on it blocks every other channel, and needs an agent with no work
    offer_timeout: float | None = None  # overrides routing.offer_timeout for this channel

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationStep:
    """From ``after`` seconds of waiting on, the queue's requirements become ``requirements``."""

    after: float
    requirements: tuple[SkillRequirement, ...]

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxWait:
    """The longest a contact waits in a queue, and what happens then."""

    seconds: float
    action: MaxWaitAction
    queue: str | None = None  # target queue for OVERFLOW

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevel:
    """A service-level target: ``percent`` of contacts answered within ``target_seconds``."""

    target_seconds: float = 20.0
    percent: float = 80.0

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Aging:
    """Effective priority = priority + step * floor(wait / every), capped at ``max_boost`` added."""

    every: float = 30.0  # seconds; 0 disables aging
    step: int = 1
    max_boost: int = 10

    def boost(self, waited: float) -> int:
        """Priority added after waiting ``waited`` seconds."""
        if self.every <= 0 or waited <= 0:
            return 0
        return min(self.max_boost, int(waited // self.every) * self.step)

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue:
    """A skill-based queue."""

    name: str
    channels: tuple[str, ...]
    requirements: tuple[SkillRequirement, ...]
    priority: int = 0  # base priority of its contacts; higher is served first
    strategy: Strategy = Strategy.LONGEST_IDLE
    service_level: ServiceLevel = field(default_factory=ServiceLevel)
    escalation: tuple[EscalationStep, ...] = ()  # ordered by ``after``
    max_wait: MaxWait | None = None
    aging: Aging = field(default_factory=Aging)
    wrapup: float = 0.0  # seconds of wrap-up after each contact
    offer_timeout: float = 20.0  # seconds an agent has to accept
    last_agent: float = 0.0  # seconds a returning customer waits for the agent who served them last

    def requirements_at(self, waited: float) -> tuple[SkillRequirement, ...]:
        """The requirements in force after waiting ``waited`` seconds (escalation applied)."""
        current = self.requirements
        for step in self.escalation:
            if waited >= step.after:
                current = step.requirements
            else:
                break
        return current

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileQueue:
    """One queue in a routing profile."""

    queue: str
    priority: int = 1  # 1 is served first
    delay: float = 0.0  # offered to this agent only once a contact has waited this long

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A routing profile: which queues an agent serves, in which order, and capacity overrides."""

    name: str
    queues: tuple[ProfileQueue, ...]
    capacity: Mapping[str, int] = field(default_factory=frozen_map)  # channel -> capacity

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """An agent as configured (its live state is in Redis)."""

    id: str
    name: str
    skills: Mapping[str, int]  # skill -> level 1-10
    channels: tuple[str, ...]
    profile: str | None = None  # None: every queue whose requirements the agent's skills meet
    capacity: Mapping[str, int] = field(default_factory=frozen_map)  # overrides profile and channel
    token_sha256: str | None = None  # hex SHA-256 of the agent's login token
    token_env: str | None = None  # or: the name of an environment variable holding the token
    sip_uri: str | None = None  # the agent's phone, for voice (issue: telephony)

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingDefaults:
    """Router-wide settings; queues and channels may override some."""

    strategy: Strategy = Strategy.LONGEST_IDLE
    offer_timeout: float = 20.0
    reject_delay: float = 5.0  # seconds an agent gets no offer after rejecting one
    no_answer_delay: float = 30.0  # seconds an agent gets no offer after letting one expire
    max_missed_offers: int = 3  # in a row; then the agent is set away with reason ``missed_offers``
    wrapup: float = 0.0
    last_agent: float = 0.0
    aging: Aging = field(default_factory=Aging)
    seed: int = 0  # for the random strategy

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """A whole routing.yaml."""

    source: str  # the file it came from
    tenant: str
    routing: RoutingDefaults
    channels: Mapping[str, Channel]
    skills: tuple[str, ...]
    queues: Mapping[str, Queue]
    profiles: Mapping[str, Profile]
    agents: Mapping[str, Agent]
    # Sections other packages read (loader.SECTION_READERS); a plain read-only mapping until registered.
    gateway: Any = field(default_factory=frozen_map)
    telephony: Any = field(default_factory=frozen_map)
    ivr: Any = field(default_factory=frozen_map)
    simulation: Any = field(default_factory=frozen_map)
    customers: Any = field(default_factory=frozen_map)

    def capacity(self, agent: Agent, channel: str) -> int:
        """Contacts of ``channel`` that ``agent`` may hold at once (0 if it doesn't work that channel)."""
        if channel not in agent.channels:
            return 0
        if channel in agent.capacity:
            return agent.capacity[channel]
        if agent.profile is not None:
            profile = self.profiles[agent.profile]
            if channel in profile.capacity:
                return profile.capacity[channel]
        return self.channels[channel].capacity

    def __reduce__(self) -> tuple:  # compiled: see router.pickling
        return by_fields(self)
