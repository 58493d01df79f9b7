"""The routing state the policy decides on, kept indexed so that a decision costs microseconds.

Pure: no I/O and no clock. The live engine keeps one as a mirror of Redis (fed by script results and
the event stream) and changes it only by replacing views with versioned snapshots
(:meth:`RoutingState.put_contact`, :meth:`RoutingState.drop_contact`, :meth:`RoutingState.put_agent`), so
a stale one is ignored. The simulator keeps one as its truth and changes its views in place, telling the
state what moved (:meth:`RoutingState.move_contact`, :meth:`RoutingState.agent_changed`): no copy per move.

Indexes:

- *lanes*: the waiting contacts of one queue and channel with one priority and one set of contact-specific
  skill requirements, as a heap ordered by sequence number (first-come, first-served). Within a lane an older
  contact is always at least as routable as a younger one (it has aged, escalated and passed more profile
  delays), so the policy only ever looks at a lane's head, and stops at the first head nobody can take.
  Each lane is a :class:`Lane` made once, with what its contacts share (queue, free agents per level,
  offer timeout); a waiting contact's view holds its lane, so routing it looks nothing up.
- *free agents* per (queue, profile priority): the available agents with room for one more contact on one
  of the queue's channels, as a heap in longest-idle order in which each agent has a seat that knows its
  position (:class:`FreeAgents`), so that an agent joins, moves or leaves in place.
- heaps of offer expiries, wrap-up ends and max-wait deadlines;
- which agents are free for at least one queue (a flag on each, and their count), and heaps of their
  back-off ends and of the waiting contacts' last-agent preference ends, so that the next deadline costs
  no scan of every agent or contact.

The other heaps are cleaned lazily: an entry whose contact has moved on is dropped when it reaches the top.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from router.config.model import Agent, Channel, Config, Queue
from router.lifecycle import AgentState, ContactState
from skills.model import Requirements, encode, meets

# heapq's functions bound as finals: compiled (mypyc), a final is a C static, a module global a dict lookup per call.
heappop: Final = heapq.heappop
heappush: Final = heapq.heappush

FINISHED_MEMORY: Final = 100_000  # finished contacts remembered, so that their late events are ignored
_ENDED: Final = frozenset({ContactState.DONE, ContactState.ABANDONED, ContactState.OVERFLOWED})
_NOTHING_PROMISED: Final[dict[str, int]] = {}  # read only
LaneKey = tuple[str, str, int, str]  # (queue, channel, priority, encoded contact-specific requirements)


@dataclass(slots=True, kw_only=True, init=False)
class ContactView:
    """What routing knows of one contact."""

    id: str
    queue: str
    channel: str
    priority: int
    enqueued_at: float  # first arrival; never changes, so the contact keeps its place
    seq: int  # tie-breaker for equal arrival times; assigned once, with enqueued_at
    queued_at: float  # when it entered its current queue (max wait counts from here)
    state: ContactState
    customer: str
    skills: Requirements  # contact-specific requirements added to the queue's (e.g. a language)
    preferred_agent: str  # last-agent preference ...
    preferred_until: float  # ... until this time
    agent: str  # the agent holding it (offered, connected, wrap-up)
    offer_id: str
    offer_expires: float
    wrapup_until: float
    ver: int  # bumped by every change in Redis; older snapshots are ignored
    # The lane it was last indexed in (RoutingState.lane_of checks that it is still its lane): not part of
    # what routing knows of the contact, a shortcut to the state's index.
    lane: Lane | None = field(default=None, compare=False, repr=False)
    # The routing pass that offered it (router.policy's scratch, not routing state).
    offered_in: int = field(default=0, compare=False, repr=False)

    def __init__(
        self,
        *,
        id: str,
        queue: str,
        channel: str,
        priority: int,
        enqueued_at: float,
        seq: int,
        queued_at: float = 0.0,
        state: ContactState = ContactState.QUEUED,
        customer: str = "",
        skills: Requirements = (),
        preferred_agent: str = "",
        preferred_until: float = 0.0,
        agent: str = "",
        offer_id: str = "",
        offer_expires: float = 0.0,
        wrapup_until: float = 0.0,
        ver: int = 0,
    ) -> None:
        # Written out (dataclass init=False): compiled by mypyc, a dataclass's generated __init__ stays
        # interpreted, about 1.5 us a call, and this runs once per contact.
        self.id = id
        self.queue = queue
        self.channel = channel
        self.priority = priority
        self.enqueued_at = enqueued_at
        self.seq = seq
        self.queued_at = queued_at
        self.state = state
        self.customer = customer
        self.skills = skills
        self.preferred_agent = preferred_agent
        self.preferred_until = preferred_until
        self.agent = agent
        self.offer_id = offer_id
        self.offer_expires = offer_expires
        self.wrapup_until = wrapup_until
        self.ver = ver
        self.lane = None
        self.offered_in = 0

    def lane_key(self) -> LaneKey:
        return (self.queue, self.channel, self.priority, encode(self.skills))

    def copy(self, **changes) -> ContactView:
        """A copy with ``changes`` (six times faster than dataclasses.replace: the simulator copies on every move)."""
        new = ContactView.__new__(ContactView)
        new.id = self.id
        new.queue = self.queue
        new.channel = self.channel
        new.priority = self.priority
        new.enqueued_at = self.enqueued_at
        new.seq = self.seq
        new.queued_at = self.queued_at
        new.state = self.state
        new.customer = self.customer
        new.skills = self.skills
        new.preferred_agent = self.preferred_agent
        new.preferred_until = self.preferred_until
        new.agent = self.agent
        new.offer_id = self.offer_id
        new.offer_expires = self.offer_expires
        new.wrapup_until = self.wrapup_until
        new.ver = self.ver
        new.lane = self.lane
        new.offered_in = 0
        for name, value in changes.items():
            setattr(new, name, value)
        return new


@dataclass(slots=True, kw_only=True)
class AgentView:
    """What routing knows of one agent's live state."""

    id: str
    state: AgentState = AgentState.OFFLINE
    reason: str = ""
    idle_since: float = 0.0
    backoff_until: float = 0.0  # no offer before this time (after a reject or a missed offer)
    missed: int = 0  # offers missed in a row
    load: dict[str, int] = field(default_factory=dict)  # channel -> contacts held (offered or later)
    ver: int = 0
    # The state's static facts of this agent (RoutingState.spec_of checks they are the state's own): a
    # shortcut to the state's index, not part of what routing knows of the agent.
    index: AgentIndex | None = field(default=None, compare=False, repr=False)
    # The offers per channel the routing pass ``promised_in`` promised it (router.policy's scratch).
    promised_in: int = field(default=0, compare=False, repr=False)
    promised: dict[str, int] | None = field(default=None, compare=False, repr=False)

    @property
    def total_load(self) -> int:
        total = 0
        for n in self.load.values():  # a loop: compiled, sum() is a call through the builtins
            total += n
        return total

    def copy(self, **changes) -> AgentView:
        """A copy with ``changes`` (the load dict is shared: replace it, never change it in place)."""
        new = AgentView.__new__(AgentView)
        new.id = self.id
        new.state = self.state
        new.reason = self.reason
        new.idle_since = self.idle_since
        new.backoff_until = self.backoff_until
        new.missed = self.missed
        new.load = self.load
        new.ver = self.ver
        new.index = self.index
        new.promised_in = 0
        new.promised = None
        for name, value in changes.items():
            setattr(new, name, value)
        return new


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """The static routing facts of an agent, computed once from the config."""

    agent: Agent
    skills: dict[str, int]  # the agent's skills as a plain dict (compiled, a dict's lookups are direct)
    capacity: dict[str, int]  # channel -> capacity (0: doesn't work it)
    total_capacity: int
    queues: dict[str, tuple[int, float]]  # queue -> (profile priority, delay)


# A lane's heap holds native entries that compare their keys as C numbers, kept by compiled copies of
# heapq's own push and pop (same algorithm, so the same layout and the same order among equal keys as
# heapq on the equivalent tuples): heapq compares tuples item by item through Python's generic
# comparison, several hundred instructions a comparison.


class LaneEntry:
    """A lane's heap entry: a waiting contact's sequence number, id and view, ordered as the tuple (seq, id).

    The entry stands while its view is in the lane (``contact.lane`` is the lane: the state clears it when
    the view leaves the state or is replaced by another), waiting, with the same sequence number
    (:func:`stands`): a check that looks nothing up."""

    __slots__ = ("contact", "id", "seq")

    def __init__(self, seq: int, id: str, contact: ContactView) -> None:
        self.seq = seq
        self.id = id
        self.contact = contact


def _goes_before(a: LaneEntry, b: LaneEntry) -> bool:
    return a.seq < b.seq or (a.seq == b.seq and a.id < b.id)


def heap_push(heap: list[LaneEntry], entry: LaneEntry) -> None:
    """heapq.heappush for lane entries."""
    heap.append(entry)
    _sift_down(heap, 0, len(heap) - 1)


def heap_pop(heap: list[LaneEntry]) -> LaneEntry:
    """heapq.heappop for lane entries (``heap`` not empty)."""
    last = heap.pop()
    if heap:
        first = heap[0]
        heap[0] = last
        _sift_up(heap, 0)
        return first
    return last


def _sift_down(heap: list[LaneEntry], start: int, pos: int) -> None:  # heapq's _siftdown
    item = heap[pos]
    while pos > start:
        parent_pos = (pos - 1) >> 1
        parent = heap[parent_pos]
        if _goes_before(item, parent):
            heap[pos] = parent
            pos = parent_pos
            continue
        break
    heap[pos] = item


def _sift_up(heap: list[LaneEntry], pos: int) -> None:  # heapq's _siftup
    end = len(heap)
    start = pos
    item = heap[pos]
    child = 2 * pos + 1
    while child < end:
        right = child + 1
        if right < end and not _goes_before(heap[child], heap[right]):
            child = right
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    heap[pos] = item
    _sift_down(heap, start, pos)


class Lane:
    """One lane (see the module docstring): its key, its heap of waiting contacts, and what they share,
    found once when the lane is made: their queue (None if not in the config), its free agents at each
    profile level (in the order of ``RoutingState.levels``; None where no agent serves it at that level)
    and the offer timeout."""

    __slots__ = ("buckets", "cursors", "heap", "key", "owner", "queue", "skills", "timeout")

    def __init__(
        self,
        owner: object,
        key: LaneKey,
        skills: Requirements,
        queue: Queue | None,
        buckets: list[FreeAgents | None],
        timeout: float,
    ) -> None:
        self.owner = owner  # the token of the RoutingState that made it (a view may outlive a state)
        self.key = key
        self.skills = skills  # the requirements of the contact it was made for (a quick identity check)
        self.heap: list[LaneEntry] = []
        self.queue = queue
        self.buckets = buckets
        self.timeout = timeout
        # The policy's cursor over this lane at each level, made on first use and kept (its walk state is
        # emptied at the end of every pass): scratch of router.policy, not routing state.
        self.cursors: list[object | None] = [None] * len(buckets)


def stands(entry: LaneEntry, lane: Lane) -> bool:
    """Whether a lane entry still stands for a waiting contact: its view is in the lane (the state clears a
    view's lane when the view leaves it or is replaced), waiting, with the same sequence number."""
    c = entry.contact
    return c.lane is lane and c.state == ContactState.QUEUED and c.seq == entry.seq


def _is_lane_of(lane: Lane, c: ContactView) -> bool:
    """Whether ``lane`` is the lane of ``c`` (its requirements the very object the lane was made for)."""
    key = lane.key
    return key[0] == c.queue and key[1] == c.channel and key[2] == c.priority and lane.skills is c.skills


class Seat:
    """An agent's place in one free bucket: the agent's view, its key (load, idle since, id) and its position
    in the bucket's heap (-1: not in it). One per agent and bucket, made with the state and kept."""

    __slots__ = ("agent", "id", "idle_since", "load", "pos")

    def __init__(self, agent: AgentView) -> None:
        self.agent = agent
        self.id = agent.id
        self.load = 0
        self.idle_since = 0.0
        self.pos = -1


def _before(a: Seat, b: Seat) -> bool:
    """Whether seat ``a`` goes before ``b``: less load, then longer idle, then the id (a total order)."""
    if a.load != b.load:
        return a.load < b.load
    if a.idle_since != b.idle_since:
        return a.idle_since < b.idle_since
    return a.id < b.id


class FreeAgents:
    """The free agents of one (queue, profile level): a heap of their seats in longest-idle order (least
    load, then longest idle, then id), each seat knowing its position, so that an agent joins, moves or
    leaves in O(log n) with nothing allocated and the heap holds only current entries. The policy walks it
    (``router.policy._longest_idle``) with :meth:`pop` and :meth:`push`.
    """

    __slots__ = ("heap", "seats")

    def __init__(self) -> None:
        self.heap: list[Seat] = []
        self.seats: dict[str, Seat] = {}  # agent -> its seat here, whether in the heap or not

    def __bool__(self) -> bool:
        return bool(self.heap)

    def __len__(self) -> int:
        return len(self.heap)

    def __contains__(self, agent_id: str) -> bool:
        seat = self.seats.get(agent_id)
        return seat is not None and seat.pos >= 0

    def values(self) -> list[AgentView]:
        return [seat.agent for seat in self.heap]

    def seat_for(self, a: AgentView) -> Seat:
        """The seat of agent ``a`` here (made on first call)."""
        seat = self.seats.get(a.id)
        if seat is None:
            seat = self.seats[a.id] = Seat(a)
        return seat

    def add(self, seat: Seat, a: AgentView) -> None:
        """Put ``a`` in its seat, or move it to where its load and idle time now place it."""
        seat.agent = a
        load = a.total_load
        idle_since = a.idle_since
        heap = self.heap
        if seat.pos >= 0:
            if seat.load == load and seat.idle_since == idle_since:
                return
            seat.load = load
            seat.idle_since = idle_since
            _sink(heap, _rise(heap, seat.pos))
            return
        seat.load = load
        seat.idle_since = idle_since
        seat.pos = len(heap)
        heap.append(seat)
        _rise(heap, seat.pos)

    def discard(self, seat: Seat) -> None:
        """Take ``seat``'s agent out (if in)."""
        pos = seat.pos
        if pos < 0:
            return
        seat.pos = -1
        heap = self.heap
        last = heap.pop()
        if last is not seat:
            heap[pos] = last
            last.pos = pos
            _sink(heap, _rise(heap, pos))

    def pop(self) -> Seat:
        """Take the first seat out (the heap must not be empty): the policy's walk, which pushes it back."""
        first = self.heap[0]
        self.discard(first)
        return first

    def push(self, seat: Seat) -> None:
        """Put back a seat taken by :meth:`pop` (its key unchanged)."""
        heap = self.heap
        seat.pos = len(heap)
        heap.append(seat)
        _rise(heap, seat.pos)


def _rise(heap: list[Seat], pos: int) -> int:
    """Move the seat at ``pos`` towards the root while it goes before its parent; returns where it stops."""
    seat = heap[pos]
    while pos > 0:
        parent_pos = (pos - 1) >> 1
        parent = heap[parent_pos]
        if not _before(seat, parent):
            break
        heap[pos] = parent
        parent.pos = pos
        pos = parent_pos
    heap[pos] = seat
    seat.pos = pos
    return pos


def _sink(heap: list[Seat], pos: int) -> None:
    """Move the seat at ``pos`` towards the leaves while a child goes before it."""
    seat = heap[pos]
    end = len(heap)
    child = 2 * pos + 1
    while child < end:
        right = child + 1
        first = heap[child]
        if right < end:
            other = heap[right]
            if _before(other, first):
                child, first = right, other
        if not _before(first, seat):
            break
        heap[pos] = first
        first.pos = pos
        pos = child
        child = 2 * pos + 1
    heap[pos] = seat
    seat.pos = pos


class AgentIndex:
    """What a state keeps per agent to re-index it: its spec and, for each queue it serves, the free bucket
    at its profile level, the agent's seat in it, and the queue's channels with the agent's capacity on
    each (so that a re-index looks nothing up)."""

    __slots__ = ("buckets", "free", "owner", "spec")

    def __init__(
        self,
        owner: object,
        spec: AgentSpec,
        buckets: tuple[tuple[FreeAgents, Seat, tuple[tuple[str, int], ...]], ...],
    ) -> None:
        self.owner = owner  # the token of the RoutingState that made it (a view may outlive a state)
        self.spec = spec
        self.buckets = buckets
        self.free = False  # in at least one free bucket


def agent_queues(config: Config, agent: Agent) -> dict[str, tuple[int, float]]:
    """The queues ``agent`` serves with (priority, delay), from its profile or, without one, its skills."""
    if agent.profile is not None:
        return {pq.queue: (pq.priority, pq.delay) for pq in config.profiles[agent.profile].queues}
    served = {}
    for q in config.queues.values():
        if not set(q.channels) & set(agent.channels):
            continue
        steps = [q.requirements, *(s.requirements for s in q.escalation)]
        if any(meets(dict(agent.skills), reqs) for reqs in steps):
            served[q.name] = (1, 0.0)
    return served


class RoutingState:
    """Waiting contacts and agents, indexed for the policy. See the module docstring."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Plain dicts of the config's mappings: compiled, a dict's lookups are direct, a Mapping's generic calls.
        self.queues: dict[str, Queue] = dict(config.queues)
        self.channels: dict[str, Channel] = dict(config.channels)
        self.contacts: dict[str, ContactView] = {}
        self.agents: dict[str, AgentView] = {}
        self.specs: dict[str, AgentSpec] = {}
        for agent in config.agents.values():
            cap = {ch: config.capacity(agent, ch) for ch in config.channels}
            served = agent_queues(config, agent)
            self.specs[agent.id] = AgentSpec(agent, dict(agent.skills), cap, sum(cap.values()), served)
            self.agents[agent.id] = AgentView(id=agent.id)
        self.exclusive = frozenset(c.name for c in config.channels.values() if c.exclusive)
        self._token = object()  # marks the lanes and agent index records made here
        self.lanes: dict[LaneKey, Lane] = {}
        self._last_lane: Lane | None = None  # (lane_of)
        self.queue_lanes: dict[str, list[Lane]] = {}  # queue -> its lanes
        self.free: dict[tuple[str, int], FreeAgents] = {}
        self.levels: tuple[int, ...] = tuple(sorted({lv for s in self.specs.values() for lv, _ in s.queues.values()}))
        self.offer_expiries: list[tuple[float, str, str]] = []  # (expires, contact, offer id)
        self.wrapup_ends: list[tuple[float, str]] = []
        self.max_waits: list[tuple[float, str, str]] = []  # (deadline, contact, queue)
        self.waiting = 0  # contacts in state queued
        self.free_count = 0  # agents in at least one free bucket (AgentIndex.free)
        self.backoffs: list[tuple[float, str]] = []  # (backoff until, agent) of free agents
        self.preferences: list[tuple[float, str]] = []  # (preferred until, contact) of waiting contacts
        # Recently finished contacts -> last version (late events), oldest first. An OrderedDict: dropping a
        # plain dict's first key again and again scans the deleted slots before it, O(n) per drop.
        self.finished: OrderedDict[str, int] = OrderedDict()
        self.last_offered: dict[str, str] = {}  # queue -> agent last offered one of its contacts
        self.queue_delays: dict[str, tuple[float, ...]] = {
            q: tuple(sorted({s.queues[q][1] for s in self.specs.values() if q in s.queues} - {0.0}))
            for q in config.queues
        }
        # Queues whose waiting contacts change with time (escalation steps, profile delays): the others'
        # lanes have no deadline of their own.
        self.timed_queues = frozenset(
            q.name for q in config.queues.values() if q.escalation or self.queue_delays[q.name]
        )
        self._timers: tuple[tuple[list[Any], Callable[[Any], ContactView | None]], ...] = (
            (self.offer_expiries, self.offer_live),
            (self.wrapup_ends, self.wrapup_live),
            (self.max_waits, self.max_wait_live),
        )
        # Per agent: (queue, index of its profile level in self.levels) for each queue it serves.
        level_index = {level: i for i, level in enumerate(self.levels)}
        self.agent_levels: dict[str, tuple[tuple[str, int], ...]] = {
            agent_id: tuple((q, level_index[level]) for q, (level, _delay) in spec.queues.items())
            for agent_id, spec in self.specs.items()
        }
        # Per agent: (free bucket, its seat there, the queue's channels with its capacity on each) for each
        # queue it serves.
        self._agent_index: dict[str, AgentIndex] = {}
        for agent_id, spec in self.specs.items():
            plan = []
            for queue_name, (level, _delay) in spec.queues.items():
                bucket = self.free.get((queue_name, level))
                if bucket is None:
                    bucket = self.free[(queue_name, level)] = FreeAgents()
                queue = config.queues.get(queue_name)
                channels = queue.channels if queue is not None else ()
                seat = bucket.seat_for(self.agents[agent_id])
                plan.append((bucket, seat, tuple((ch, spec.capacity.get(ch, 0)) for ch in channels)))
            self._agent_index[agent_id] = ix = AgentIndex(self._token, spec, tuple(plan))
            self.agents[agent_id].index = ix

    # -- contacts ---------------------------------------------------------------------------------

    def put_contact(self, c: ContactView) -> None:
        """Insert or replace a contact (a snapshot older than the one held is ignored)."""
        old = self.contacts.get(c.id)
        if old is not None and old.ver > c.ver:
            return
        if old is None and c.id in self.finished and self.finished[c.id] >= c.ver:
            return  # a late event of a contact that has finished
        if old is not None and old.state == ContactState.QUEUED:
            self.waiting -= 1
        if old is not None and old is not c:
            old.lane = None  # replaced: its lane entries no longer stand (LaneEntry)
        if c.state in _ENDED:
            self.contacts.pop(c.id, None)
            self.finished[c.id] = c.ver
            if len(self.finished) > FINISHED_MEMORY:
                self.finished.popitem(last=False)
            return
        self.contacts[c.id] = c
        self._index_contact(c, old)

    def add_contact(self, c: ContactView) -> None:
        """Insert a waiting contact that is new to the state (the simulator's arrivals, whose ids are unique):
        :meth:`put_contact` without the checks for an older or finished view.

        Raises:
            ValueError: a contact with this id is held already.
        """
        if c.id in self.contacts:
            raise ValueError(f"contact {c.id} is already held")
        self.contacts[c.id] = c
        self._index_contact(c, None)

    def move_contact(self, c: ContactView, state: ContactState) -> None:
        """Move a contact held here to ``state`` in place and index it, bumping its version.

        The simulator's way (it is the truth, so it changes its views in place; the live mirror replaces
        them with :meth:`put_contact`). Set the fields the new state needs (agent, offer, queue) first.
        """
        if c.state == ContactState.QUEUED:
            self.waiting -= 1
        c.state = state
        c.ver += 1
        if state in _ENDED:
            del self.contacts[c.id]
            c.lane = None
            return
        self._index_contact(c, None)

    def connect_at_once(self, c: ContactView) -> None:
        """Offer a waiting contact and have the offer answered in the same instant, in place (the
        simulator's agents with no answer delay): :meth:`move_contact` to offered then connected, without
        arming an offer expiry that could never fall due. Set its agent and offer first."""
        self.last_offered[c.queue] = c.agent
        self.move_contact(c, ContactState.CONNECTED)

    def _index_contact(self, c: ContactView, old: ContactView | None) -> None:
        """Index a held contact; ``old`` is the view it replaced (None: a new view, or one changed in place)."""
        same = old if old is not None and old.state == c.state else None  # the old view, if in the same state
        if c.state == ContactState.QUEUED:
            self.waiting += 1
            if c.preferred_until and not (same is not None and same.preferred_until == c.preferred_until):
                heappush(self.preferences, (c.preferred_until, c.id))
            lane = self.lane_of(c)
            if same is not c:  # a new view (or one moved in place), whose lane entry holds it
                heap_push(lane.heap, LaneEntry(c.seq, c.id, c))
            if same is not None and same.queue == c.queue and same.queued_at == c.queued_at:
                return  # its max-wait entry still stands
            queue = lane.queue  # (the config's queue of c.queue, found when the lane was made)
            if queue is not None and queue.max_wait is not None:
                heappush(self.max_waits, (c.queued_at + queue.max_wait.seconds, c.id, c.queue))
        elif c.state == ContactState.OFFERED:
            self.last_offered[c.queue] = c.agent
            if not (same is not None and same.offer_id == c.offer_id):
                heappush(self.offer_expiries, (c.offer_expires, c.id, c.offer_id))
        elif c.state == ContactState.WRAPUP and not (same is not None and same.wrapup_until == c.wrapup_until):
            heappush(self.wrapup_ends, (c.wrapup_until, c.id))

    def version_of(self, contact_id: str) -> int:
        """The version of a contact held (or last seen finishing); -1 if unknown."""
        c = self.contacts.get(contact_id)
        return c.ver if c is not None else self.finished.get(contact_id, -1)

    # Timer heap entries: (expires, contact, offer id), (wrap-up until, contact), (deadline, contact, queue).
    # An entry is live while its contact is still in the state that armed it.

    def offer_live(self, entry: tuple[float, str, str]) -> ContactView | None:
        c = self.contacts.get(entry[1])
        return c if c is not None and c.state == ContactState.OFFERED and c.offer_id == entry[2] else None

    def wrapup_live(self, entry: tuple[float, str]) -> ContactView | None:
        c = self.contacts.get(entry[1])
        return c if c is not None and c.state == ContactState.WRAPUP and c.wrapup_until == entry[0] else None

    def max_wait_live(self, entry: tuple[float, str, str]) -> ContactView | None:
        c = self.contacts.get(entry[1])
        queue = self.queues.get(entry[2])
        if c is None or c.state != ContactState.QUEUED or c.queue != entry[2] or queue is None:
            return None
        return c if queue.max_wait is not None and c.queued_at + queue.max_wait.seconds == entry[0] else None

    def timer_heaps(self) -> tuple[tuple[list[Any], Callable[[Any], ContactView | None]], ...]:
        """(heap, liveness check) for offer expiries, wrap-up ends and max waits, with dead tops dropped."""
        self._drop_dead_timers()
        return self._timers

    def next_timer(self) -> float:
        """When the earliest live timer (offer expiry, wrap-up end, max wait) falls due; inf if none."""
        self._drop_dead_timers()
        best = math.inf
        if self.offer_expiries:
            best = self.offer_expiries[0][0]
        if self.wrapup_ends and self.wrapup_ends[0][0] < best:
            best = self.wrapup_ends[0][0]
        if self.max_waits and self.max_waits[0][0] < best:
            best = self.max_waits[0][0]
        return best

    def _drop_dead_timers(self) -> None:
        """Drop the tops of the timer heaps whose contacts have moved on. (Written out, not a loop over
        ``_timers``: compiled, a call through a bound method in a tuple is generic; the policy asks for
        the next timer after every event.)"""
        offers = self.offer_expiries
        while offers and self.offer_live(offers[0]) is None:
            heappop(offers)
        wrapups = self.wrapup_ends
        while wrapups and self.wrapup_live(wrapups[0]) is None:
            heappop(wrapups)
        waits = self.max_waits
        while waits and self.max_wait_live(waits[0]) is None:
            heappop(waits)

    def drop_contact(self, contact_id: str) -> None:
        """Forget a contact (it ended)."""
        old = self.contacts.pop(contact_id, None)
        if old is not None:
            old.lane = None
            if old.state == ContactState.QUEUED:
                self.waiting -= 1

    def lane_of(self, c: ContactView) -> Lane:
        """The lane of ``c`` by its queue, channel, priority and requirements (made if new), kept on ``c``."""
        lane = c.lane
        if lane is not None and lane.owner is self._token and _is_lane_of(lane, c):
            return lane
        lane = self._last_lane  # the lane looked up last: often that of the next new contact too
        if lane is not None and _is_lane_of(lane, c):
            c.lane = lane
            return lane
        key = c.lane_key()
        lane = self.lanes.get(key)
        if lane is None:
            queue = self.queues.get(c.queue)
            buckets = [self.free.get((c.queue, level)) for level in self.levels]
            timeout = 0.0  # the channel's offer timeout, else the queue's
            if queue is not None:
                ch = self.channels.get(c.channel)
                timeout = ch.offer_timeout if ch is not None and ch.offer_timeout is not None else queue.offer_timeout
            lane = self.lanes[key] = Lane(self._token, key, c.skills, queue, buckets, timeout)
            self.queue_lanes.setdefault(c.queue, []).append(lane)
        c.lane = lane
        self._last_lane = lane
        return lane

    def lane_head(self, lane: Lane) -> ContactView | None:
        """The first waiting contact of a lane, dropping stale entries on the way."""
        heap = lane.heap
        while heap:
            top = heap[0]
            if stands(top, lane):
                return top.contact
            heap_pop(heap)
        return None

    # -- agents -----------------------------------------------------------------------------------

    def put_agent(self, a: AgentView) -> None:
        """Insert or replace an agent's live state (older snapshots are ignored) and re-index it."""
        if a.id not in self.specs:
            return  # not in this config (removed since): never routed to
        old = self.agents.get(a.id)
        if old is not None and old.ver > a.ver:
            return
        self.agents[a.id] = a
        self._index_agent(a, self.index_of(a), old is None or old.backoff_until != a.backoff_until)

    def agent_changed(self, a: AgentView, *, backoff_changed: bool = False) -> None:
        """Re-index an agent held here whose view was changed in place (the simulator's way; bump its
        version with every change of load or idle time, so that stale index entries are known)."""
        self._index_agent(a, self.index_of(a), backoff_changed)

    def index_of(self, a: AgentView) -> AgentIndex:
        """The state's index record of agent ``a`` (its spec, its buckets), kept on ``a``."""
        ix = a.index
        if ix is not None and ix.owner is self._token and ix.spec.agent.id == a.id:
            return ix
        ix = self._agent_index[a.id]
        a.index = ix
        return ix

    def spec_of(self, a: AgentView) -> AgentSpec:
        """The static routing facts of agent ``a`` (``self.specs[a.id]``, without the lookup)."""
        return self.index_of(a).spec

    def _index_agent(self, a: AgentView, ix: AgentIndex, backoff_changed: bool) -> None:
        available = a.state == AgentState.AVAILABLE
        free = False
        for bucket, seat, channels in ix.buckets:
            room = False
            if available:
                for ch, cap in channels:
                    if self.room_for(a, ch, cap):
                        room = True
                        break
            if room:
                bucket.add(seat, a)
                free = True
            else:
                bucket.discard(seat)
        was_free = ix.free
        if not free:
            if was_free:
                ix.free = False
                self.free_count -= 1
            return
        if a.backoff_until and (not was_free or backoff_changed):
            heappush(self.backoffs, (a.backoff_until, a.id))
        if not was_free:
            ix.free = True
            self.free_count += 1

    def is_free(self, agent_id: str) -> bool:
        """Whether the agent is in at least one free bucket (available, with room for one queue or more)."""
        ix = self._agent_index.get(agent_id)
        return ix is not None and ix.free

    def next_backoff_end(self, now: float) -> float | None:
        """The earliest back-off end after ``now`` among free agents (None if none backs off)."""
        heap = self.backoffs
        while heap:
            until, agent_id = heap[0]
            if until > now and self.is_free(agent_id) and self.agents[agent_id].backoff_until == until:
                return until
            heappop(heap)  # past, or no longer the agent's: never relevant again
        return None

    def next_preference_end(self, now: float) -> float | None:
        """The earliest last-agent preference end after ``now`` among waiting contacts (None if none)."""
        heap = self.preferences
        while heap:
            until, cid = heap[0]
            c = self.contacts.get(cid)
            if until > now and c is not None and c.state == ContactState.QUEUED and c.preferred_until == until:
                return until
            heappop(heap)
        return None

    def has_room(self, a: AgentView, spec: AgentSpec, channel: str, promised: dict[str, int] | None = None) -> bool:
        """Whether ``a`` can hold one more contact of ``channel``, counting what this pass ``promised`` it."""
        return self.room_for(a, channel, spec.capacity.get(channel, 0), promised)

    def room_for(self, a: AgentView, channel: str, cap: int, promised: dict[str, int] | None = None) -> bool:
        """:meth:`has_room` with the agent's capacity on ``channel`` given."""
        if cap <= 0:
            return False
        load = a.load
        if not load and not promised:
            return True
        # Counted in place, not on a merged copy: this runs for every agent looked at. With nothing promised
        # (the usual case) ``promised`` is not looked up.
        if load.get(channel, 0) + (promised.get(channel, 0) if promised else 0) >= cap:
            return False
        busy = False
        for n in load.values():
            if n:
                busy = True
                break
        if not busy and promised:
            for n in promised.values():
                if n:
                    busy = True
                    break
        if not busy:
            return True
        if channel in self.exclusive:
            return False  # an exclusive channel needs an agent with no other work
        for ch in self.exclusive:  # noqa: SIM110 (and blocks all other work; a loop: compiled, all() is a call)
            if load.get(ch, 0) or (promised and promised.get(ch, 0)):
                return False
        return True

    def any_free(self) -> bool:
        return self.free_count > 0

    def queue(self, name: str) -> Queue:
        return self.queues[name]
