"""What goes into a simulation run and what comes out of it: plain data, no behaviour.

A run takes a routing :class:`~router.config.Config` (the same one the live router runs), a list of
:class:`Arrival` (generated from a scenario or replayed from history) and a list of :class:`Shift`
(who is logged in when). It returns a :class:`RunResult`: one :class:`ContactRecord` per contact,
agent time, and queue lengths over time. Times are seconds from the start of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from router.pickling import by_fields, construct
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


NAN: Final = math.nan


def _nan(value: float | None) -> float:
    return NAN if value is None else value


def _none(value: float) -> float | None:
    return None if value != value else value  # NaN: did not happen


class ContactRecord:
    """The outcome of one contact.

    The times of what did not happen are None. (They are kept as floats, NaN for None: a run keeps a
    million records, and a time of ``float | None`` would be a boxed float, one more object to make, keep
    and free for each.)
    """

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
        self.id = id
        self.queue = queue  # the queue it was answered or abandoned in (after any overflow)
        self.channel = channel
        self.arrived = arrived
        self._answered = _nan(answered)  # when an agent accepted
        self._abandoned = _nan(abandoned)  # when the customer left
        self._overflowed = _nan(overflowed)  # when it ended by max wait
        self._ended = _nan(ended)  # end of handling (before wrap-up)
        self.agent = agent
        self.first_queue = first_queue

    @property
    def answered(self) -> float | None:
        return _none(self._answered)

    @answered.setter
    def answered(self, value: float | None) -> None:
        self._answered = _nan(value)

    @property
    def abandoned(self) -> float | None:
        return _none(self._abandoned)

    @abandoned.setter
    def abandoned(self, value: float | None) -> None:
        self._abandoned = _nan(value)

    @property
    def overflowed(self) -> float | None:
        return _none(self._overflowed)

    @overflowed.setter
    def overflowed(self, value: float | None) -> None:
        self._overflowed = _nan(value)

    @property
    def ended(self) -> float | None:
        return _none(self._ended)

    @ended.setter
    def ended(self, value: float | None) -> None:
        self._ended = _nan(value)

    # Setters that take a time, not an optional one (the simulator's: compiled, the properties' setters
    # would box it).

    def set_answered(self, at: float) -> None:
        self._answered = at

    def set_abandoned(self, at: float) -> None:
        self._abandoned = at

    def set_overflowed(self, at: float) -> None:
        self._overflowed = at

    def set_ended(self, at: float) -> None:
        self._ended = at

    def _fields(self) -> dict[str, object]:
        return {
            "id": self.id,
            "queue": self.queue,
            "channel": self.channel,
            "arrived": self.arrived,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "overflowed": self.overflowed,
            "ended": self.ended,
            "agent": self.agent,
            "first_queue": self.first_queue,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContactRecord):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        return "ContactRecord(" + ", ".join(f"{k}={v!r}" for k, v in self._fields().items()) + ")"

    def __reduce__(self) -> tuple:
        return construct, (ContactRecord, tuple(self._fields().items()))

    @property
    def wait(self) -> float | None:
        """Seconds from arrival to answer or abandon (None if neither happened in the run)."""
        end = self._answered if self._answered == self._answered else self._abandoned
        return None if end != end else end - self.arrived


@dataclass(slots=True, kw_only=True)
class RunResult:
    """Everything one replication produced."""

    seed: int
    horizon: float
    records: list[ContactRecord] = field(default_factory=list)  # one per contact, in arrival order
    # Every offer made, in order: its contact and its agent (two lists: no tuple per offer; see assignments).
    offered_contacts: list[str] = field(default_factory=list)
    offered_agents: list[str] = field(default_factory=list)
    agent_busy: dict[str, float] = field(default_factory=dict)  # seconds holding at least one contact
    agent_staffed: dict[str, float] = field(default_factory=dict)  # seconds logged in (not on break)
    queue_length: list[tuple[float, str, int]] = field(default_factory=list)  # (time, queue, waiting) samples

    @property
    def assignments(self) -> list[tuple[str, str]]:
        """(contact, agent) of every offer made, in offer order."""
        return list(zip(self.offered_contacts, self.offered_agents, strict=True))
