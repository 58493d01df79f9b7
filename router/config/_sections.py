"""Building queues, profiles and agents: the sections of routing.yaml that refer to other sections."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from yaml.nodes import Node, ScalarNode

from router.config._yamlnodes import NAME, NAME_RULE, Fields, Reader, at, is_null
from router.config.model import (
    Agent,
    Aging,
    Channel,
    EscalationStep,
    MaxWait,
    MaxWaitAction,
    Profile,
    ProfileQueue,
    Queue,
    RoutingDefaults,
    ServiceLevel,
    Strategy,
    frozen_map,
)
from skills.model import MAX_LEVEL, MIN_LEVEL, SkillRequirement

AGING_KEYS = ("every", "step", "max_boost")
QUEUE_KEYS = (
    "channel",
    "channels",
    "skills",
    "priority",
    "strategy",
    "service_level",
    "escalation",
    "max_wait",
    "aging",
    "wrapup",
    "offer_timeout",
    "last_agent",
)
PROFILE_KEYS = ("queues", "capacity")
PROFILE_QUEUE_KEYS = ("queue", "priority", "delay")
AGENT_KEYS = (
    "id",
    "name",
    "skills",
    "channel",
    "channels",
    "profile",
    "capacity",
    "token_sha256",
    "token_env",
    "sip_uri",
)

SHA256 = re.compile(r"[0-9A-Fa-f]{64}")
ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SIP_URI = re.compile(r"sips?:\S+")
SECONDS = "a number of seconds"


@dataclass
class Known:
    """The names declared so far, for checking references."""

    channels: dict[str, Channel | None]  # name -> the channel, or None if its settings are wrong
    skills: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()


def read_aging(r: Reader, parent: Fields, base: Aging) -> Aging:
    """``parent``'s ``aging``, each missing key taken from ``base``."""
    node = parent.get("aging")
    f = None if node is None else r.fields(node, parent.at("aging"), AGING_KEYS)
    if f is None:
        return base
    return Aging(
        every=f.number("every", base.every, lo=0, what=SECONDS),
        step=f.integer("step", base.step, lo=0),
        max_boost=f.integer("max_boost", base.max_boost, lo=0),
    )


def _levels(r: Reader, node: Node, path: str, known: Known) -> dict[str, int]:
    """A mapping of skill -> level 1-10."""
    out = {}
    for skill, (key_node, value_node) in (r.entries(node, path) or {}).items():
        level = r.integer(value_node, at(path, skill), MIN_LEVEL, MAX_LEVEL)
        if r.reference(key_node, at(path, skill), known.skills, "skill") is not None and level is not None:
            out[skill] = level
    return out


def _requirements(r: Reader, node: Node | None, path: str, known: Known) -> tuple[SkillRequirement, ...]:
    if node is None:
        return ()
    return tuple(SkillRequirement(skill=s, min_level=lv) for s, lv in _levels(r, node, path, known).items())


def channel_list(r: Reader, f: Fields, known: Known) -> tuple[str, ...]:
    """``channel: x`` or ``channels: [x, y]`` (exactly one of them)."""
    if "channel" in f and "channels" in f:
        r.problem(f.key_node("channels"), f.at("channels"), "give either 'channel' or 'channels', not both")
    if "channel" in f:
        one = r.reference(f.get("channel"), f.at("channel"), known.channels, "channel")
        return (one,) if one else ()
    if "channels" not in f:
        r.problem(f.node, f.path, "missing required key 'channels' (or 'channel')")
        return ()
    node = f.get("channels")
    if isinstance(node, ScalarNode) and not is_null(node):
        r.expected(node, f.at("channels"), f"a list (for one channel write channel: {node.value})")
        return ()
    out: list[str] = []
    for i, item in enumerate(r.sequence(node, f.at("channels"), non_empty=True) or []):
        name = r.reference(item, at(f.at("channels"), i), known.channels, "channel")
        if name in out:
            r.problem(item, at(f.at("channels"), i), f"channel '{name}' is listed twice")
        elif name is not None:
            out.append(name)
    return tuple(out)


def _capacity(
    r: Reader, node: Node | None, path: str, known: Known, works: tuple[str, ...] | None = None
) -> Mapping[str, int]:
    """A mapping of channel -> capacity (>= 0); ``works``: the agent's channels, the only ones allowed."""
    out = {}
    entries = {} if node is None else r.entries(node, path) or {}
    for channel, (key_node, value_node) in entries.items():
        capacity = r.integer(value_node, at(path, channel), lo=0)
        if r.reference(key_node, at(path, channel), known.channels, "channel") is None:
            continue
        if works is not None and channel not in works:
            r.problem(
                key_node,
                at(path, channel),
                f"the agent doesn't work channel '{channel}' (channels: {', '.join(works)})",
            )
        elif capacity is not None:
            out[channel] = capacity
    return frozen_map(out)


def read_queue(r: Reader, name: str, node: Node, path: str, routing: RoutingDefaults, known: Known) -> Queue | None:
    f = r.fields(node, path, QUEUE_KEYS, required=("skills",))
    if f is None:
        return None
    channels = channel_list(r, f, known)
    only = known.channels.get(channels[0]) if len(channels) == 1 else None
    offer_timeout = only.offer_timeout if only and only.offer_timeout else routing.offer_timeout
    return Queue(
        name=name,
        channels=channels,
        requirements=_requirements(r, f.get("skills"), f.at("skills"), known),
        priority=f.integer("priority", 0),
        strategy=f.choice("strategy", Strategy, routing.strategy),
        service_level=_service_level(r, f),
        escalation=_escalation(r, f.get("escalation"), f.at("escalation"), known),
        max_wait=_max_wait(r, name, f.get("max_wait"), f.at("max_wait"), known),
        aging=read_aging(r, f, routing.aging),
        wrapup=f.number("wrapup", routing.wrapup, lo=0, what=SECONDS),
        offer_timeout=f.number("offer_timeout", offer_timeout, above=0, what=SECONDS),
        last_agent=f.number("last_agent", routing.last_agent, lo=0, what=SECONDS),
    )


def _service_level(r: Reader, parent: Fields) -> ServiceLevel:
    base = ServiceLevel()
    node = parent.get("service_level")
    f = None if node is None else r.fields(node, parent.at("service_level"), ("target_seconds", "percent"))
    if f is None:
        return base
    return ServiceLevel(
        target_seconds=f.number("target_seconds", base.target_seconds, above=0, what=SECONDS),
        percent=f.number("percent", base.percent, above=0, hi=100, what="a percentage"),
    )


def _escalation(r: Reader, node: Node | None, path: str, known: Known) -> tuple[EscalationStep, ...]:
    steps: list[EscalationStep] = []
    previous = None
    for i, item in enumerate([] if node is None else r.sequence(node, path) or []):
        f = r.fields(item, at(path, i), ("after", "skills"), required=("after", "skills"))
        if f is None:
            continue
        after = f.number("after", None, above=0, what=SECONDS)
        if after is not None and previous is not None and after <= previous:
            r.problem(
                f.get("after"),
                f.at("after"),
                f"expected more than {previous:g}: steps go in increasing 'after' order",
            )
        previous = after if after is not None else previous
        requirements = _requirements(r, f.get("skills"), f.at("skills"), known)
        if after is not None:
            steps.append(EscalationStep(after=after, requirements=requirements))
    return tuple(steps)


def _max_wait(r: Reader, queue: str, node: Node | None, path: str, known: Known) -> MaxWait | None:
    f = None if node is None else r.fields(node, path, ("seconds", "action", "queue"), required=("seconds", "action"))
    if f is None:
        return None
    seconds = f.number("seconds", None, above=0, what=SECONDS)
    action = f.choice("action", MaxWaitAction)
    target = None
    if action == MaxWaitAction.OVERFLOW and "queue" not in f:
        r.problem(f.node, f.path, "missing required key 'queue' (action overflow moves contacts to a queue)")
    elif action == MaxWaitAction.END and "queue" in f:
        r.problem(f.key_node("queue"), f.at("queue"), "action end takes no queue (use action: overflow)")
    elif action == MaxWaitAction.OVERFLOW:
        target = f.reference("queue", known.queues, "queue")
        if target == queue:
            r.problem(f.get("queue"), f.at("queue"), f"queue '{queue}' can't overflow to itself")
    if seconds is None or action is None:
        return None
    return MaxWait(seconds=seconds, action=action, queue=target)


def read_profile(r: Reader, name: str, node: Node, path: str, known: Known) -> Profile | None:
    f = r.fields(node, path, PROFILE_KEYS, required=("queues",))
    if f is None:
        return None
    entries: dict[str, ProfileQueue] = {}
    queues_path = f.at("queues")
    for i, item in enumerate(
        [] if "queues" not in f else r.sequence(f.get("queues"), queues_path, non_empty=True) or []
    ):
        entry = _profile_queue(r, item, at(queues_path, i), known)
        if entry is not None and entry.queue in entries:
            r.problem(item, at(queues_path, i), f"queue '{entry.queue}' is listed twice")
        elif entry is not None:
            entries[entry.queue] = entry
    capacity = _capacity(r, f.get("capacity"), f.at("capacity"), known)
    return Profile(name=name, queues=tuple(entries.values()), capacity=capacity)


def _profile_queue(r: Reader, node: Node, path: str, known: Known) -> ProfileQueue | None:
    """``- sales`` or ``- {queue: sales, priority: 2, delay: 20}``."""
    if isinstance(node, ScalarNode):
        queue = r.reference(node, path, known.queues, "queue")
        return ProfileQueue(queue=queue) if queue else None
    f = r.fields(node, path, PROFILE_QUEUE_KEYS, required=("queue",))
    if f is None:
        return None
    queue = f.reference("queue", known.queues, "queue")
    priority = f.integer("priority", 1, lo=1)
    delay = f.number("delay", 0.0, lo=0, what=SECONDS)
    return ProfileQueue(queue=queue, priority=priority, delay=delay) if queue else None


def read_agents(r: Reader, node: Node | None, path: str, known: Known) -> dict[str, Agent]:
    out: dict[str, Agent] = {}
    first_line: dict[str, int] = {}
    for i, item in enumerate([] if is_null(node) else r.sequence(node, path) or []):
        f = r.fields(item, at(path, i), AGENT_KEYS, required=("id",))
        if f is None:
            continue
        agent_id = f.matching("id", NAME, NAME_RULE)
        if agent_id is not None and agent_id in first_line:
            r.problem(
                f.get("id"),
                f.at("id"),
                f"duplicate agent id '{agent_id}' (first on line {first_line[agent_id]})",
            )
            agent_id = None
        elif agent_id is not None:
            first_line[agent_id] = f.get("id").start_mark.line + 1
        agent = _agent(r, f, agent_id or "?", known)
        if agent_id is not None:
            out[agent_id] = agent
    return out


def _agent(r: Reader, f: Fields, agent_id: str, known: Known) -> Agent:
    channels = channel_list(r, f, known)
    if "token_sha256" in f and "token_env" in f:
        r.problem(f.key_node("token_env"), f.at("token_env"), "give either 'token_sha256' or 'token_env', not both")
    token = f.matching("token_sha256", SHA256, "the SHA-256 of the agent's token, as 64 hex digits")
    capacity = _capacity(r, f.get("capacity"), f.at("capacity"), known, channels or None)
    return Agent(
        id=agent_id,
        name=f.text("name", agent_id),
        skills=frozen_map(_levels(r, f.get("skills"), f.at("skills"), known) if "skills" in f else {}),
        channels=channels,
        profile=f.reference("profile", known.profiles, "profile"),
        capacity=capacity,
        token_sha256=token.lower() if token else None,
        token_env=f.matching("token_env", ENV_VAR, "an environment variable name"),
        sip_uri=f.matching("sip_uri", SIP_URI, "a SIP URI such as sip:a01@pbx.example.com"),
    )
