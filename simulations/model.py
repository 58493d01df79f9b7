"""What goes into a simulation run and what comes out of it: plain data, no behaviour.

A run takes a routing :class:`~router.config.Config` (the same one the live router runs), a list of
:class:`Arrival` (generated from a scenario or replayed from history) and a list of :class:`Shift`
(who is logged in when). It returns a :class:`RunResult`: one :class:`ContactRecord` per contact,
agent time, and queue lengths over time. Times are seconds from the start of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skills.model import Requirements


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    """One contact arriving, with everything the simulator needs to know about it in advance."""

    at: float  # seconds from the start of the run
    id: str
    queue: str
    channel: str
    handle: float  # seconds the agent will spend on it once connected (talk or chat time)
    patience: float = float("inf")  # seconds the customer waits before abandoning (inf: never)
    customer: str = ""
    priority: int | None = None  # None: the queue's
    skills: Requirements = ()  # contact-specific requirements (e.g. a language)


@dataclass(frozen=True, slots=True, kw_only=True)
class Break:
    start: float
    end: float
    reason: str = "break"


@dataclass(frozen=True, slots=True, kw_only=True)
class Shift:
    """An agent (by id, from the routing config) logged in from ``start`` to ``end``, with breaks."""

    agent: str
    start: float
    end: float
    breaks: tuple[Break, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentBehaviour:
    """How simulated agents answer offers."""

    answer_delay: float = 0.0  # seconds from offer to accept
    no_answer_probability: float = 0.0  # share of offers left to expire


@dataclass(slots=True, kw_only=True)
class ContactRecord:
    """The outcome of one contact."""

    id: str
    queue: str  # the queue it was answered or abandoned in (after any overflow)
    channel: str
    arrived: float
    answered: float | None = None  # when an agent accepted
    abandoned: float | None = None  # when the customer left
    overflowed: float | None = None  # when it ended by max wait
    ended: float | None = None  # end of handling (before wrap-up)
    agent: str = ""
    first_queue: str = ""

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
    records: list[ContactRecord] = field(default_factory=list)
    assignments: list[tuple[str, str]] = field(default_factory=list)  # (contact, agent) in offer order
    agent_busy: dict[str, float] = field(default_factory=dict)  # seconds holding at least one contact
    agent_staffed: dict[str, float] = field(default_factory=dict)  # seconds logged in (not on break)
    queue_length: list[tuple[float, str, int]] = field(default_factory=list)  # (time, queue, waiting) samples
