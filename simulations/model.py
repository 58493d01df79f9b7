"""What goes into a simulation run and what comes out of it: plain data, no behaviour.

A run takes a routing :class:`~router.config.Config` (the same one the live router runs), a list of
:class:`Arrival` (generated from a scenario or replayed from history) and a list of :class:`Shift`
(who is logged in when). It returns a :class:`RunResult`: one :class:`ContactRecord` per contact,
agent time, and queue lengths over time. Times are seconds from the start of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from router.pickling import by_fields
from skills.model import Requirements


@dataclass(slots=True, kw_only=True, init=False)
class Arrival:
    """One contact arriving, with everything the simulator needs to know about it in advance (read-only
    by convention)."""

    at: float  # seconds from the start of the run
    id: str
    queue: str
    channel: str
    handle: float  # seconds the agent will spend on it once connected (talk or chat time)
    patience: float  # seconds the customer waits before abandoning (inf: never)
    customer: str
    priority: int | None  # None: the queue's
    skills: Requirements  # contact-specific requirements (e.g. a language)

    def __init__(
        self,
        *,
        at: float,
        id: str,
        queue: str,
        channel: str,
        handle: float,
        patience: float = float("inf"),
        customer: str = "",
        priority: int | None = None,
        skills: Requirements = (),
    ) -> None:
        # Written out (dataclass init=False): compiled by mypyc, a dataclass's generated __init__ stays
        # interpreted, about 1.5 us a call, and this runs once per contact.
        self.at = at
        self.id = id
        self.queue = queue
        self.channel = channel
        self.handle = handle
        self.patience = patience
        self.customer = customer
        self.priority = priority
        self.skills = skills

    def __reduce__(self) -> tuple:
        return by_fields(self)


def arrivals_of(
    times: list[float], handles: list[float], patience: list[float], *, queue: str, channel: str, prefix: str
) -> list[Arrival]:
    """Arrivals at ``times`` with these handle times and patience (columns of equal length), all in one
    queue and channel, with ids ``prefix`` + their index. (Here, compiled: a million in a fraction of a
    second, where an interpreted loop takes seconds.)"""
    out = []
    for i in range(len(times)):
        out.append(
            Arrival(
                at=times[i],
                id=f"{prefix}{i}",
                queue=queue,
                channel=channel,
                handle=handles[i],
                patience=patience[i],
            )
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Break:
    start: float
    end: float
    reason: str = "break"

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Shift:
    """An agent (by id, from the routing config) logged in from ``start`` to ``end``, with breaks."""

    agent: str
    start: float
    end: float
    breaks: tuple[Break, ...] = ()

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentBehaviour:
    """How simulated agents answer offers."""

    answer_delay: float = 0.0  # seconds from offer to accept
    no_answer_probability: float = 0.0  # share of offers left to expire

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass(slots=True, kw_only=True, init=False)
class ContactRecord:
    """The outcome of one contact."""

    id: str
    queue: str  # the queue it was answered or abandoned in (after any overflow)
    channel: str
    arrived: float
    answered: float | None  # when an agent accepted
    abandoned: float | None  # when the customer left
    overflowed: float | None  # when it ended by max wait
    ended: float | None  # end of handling (before wrap-up)
    agent: str
    first_queue: str

    def __init__(
        self,
        *,
        id: str,
        queue: str,
        channel: str,
        arrived: float,
        answered: float | None = None,
        abandoned: float | None = None,
        overflowed: float | None = None,
        ended: float | None = None,
        agent: str = "",
        first_queue: str = "",
    ) -> None:
        # Written out (dataclass init=False): compiled by mypyc, a dataclass's generated __init__ stays
        # interpreted, about 1.5 us a call, and this runs once per contact.
        self.id = id
        self.queue = queue
        self.channel = channel
        self.arrived = arrived
        self.answered = answered
        self.abandoned = abandoned
        self.overflowed = overflowed
        self.ended = ended
        self.agent = agent
        self.first_queue = first_queue

    def __reduce__(self) -> tuple:
        return by_fields(self)

    @property
    def wait(self) -> float | None:
        """Seconds from arrival to answer or abandon (None if neither happened in the run)."""
        end = self.answered if self.answered is not None else self.abandoned
        return None if end is None else end - self.arrived


@dataclass(slots=True, kw_only=True)
class RunResult:
    """Everything one replication produced."""

    seed: int
    horizon: float
    records: list[ContactRecord] = field(default_factory=list)  # one per contact, in arrival order
    assignments: list[tuple[str, str]] = field(default_factory=list)  # (contact, agent) in offer order
    agent_busy: dict[str, float] = field(default_factory=dict)  # seconds holding at least one contact
    agent_staffed: dict[str, float] = field(default_factory=dict)  # seconds logged in (not on break)
    queue_length: list[tuple[float, str, int]] = field(default_factory=list)  # (time, queue, waiting) samples
