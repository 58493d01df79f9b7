"""The discrete-event simulator: the live routing policy on a simulated clock.

Theory of operation
-------------------
Time is data: a heap of (time, sequence, kind, payload) events, the sequence breaking ties in the order
events were scheduled (as SimPy does; :class:`_Event`, kept by the compiled :func:`_push` and
:func:`_pop`, which compare the two keys as C numbers where ``heapq`` compares tuples item by item);
arrivals are merged in from their sorted list and go first at equal times. The routing state is a
:class:`~router.state.RoutingState`, the same indexed state the live router mirrors from Redis, and
every routing decision is made by :class:`~router.policy.RoutingPolicy`, the same object the live router
calls: after each event the simulator commits the timers the policy finds due (offer expiry, end of
wrap-up, max wait) and the offers it decides, then schedules a wake-up at the policy's next deadline.
What the Lua scripts do in Redis, :mod:`simulations.lifecycle` does here in memory, by the same
lifecycle table.

Customers abandon when their patience runs out while queued or offered; agents answer offers after
``answer_delay`` (or let a share expire), hold each contact for its handle time, then wrap up for the
queue's wrap-up time; shifts log agents in and out and breaks set them away.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import Any, Final

from router.config.model import Config
from router.lifecycle import AgentState, ContactState
from router.policy import EndWrapup, ExpireOffer, Offer, Overflow, RoutingPolicy
from router.state import ContactView, RoutingState
from simulations.gcpause import paused_gc
from simulations.lifecycle import SimLifecycle
from simulations.model import AgentBehaviour, Arrival, RunResult, Shift

# Kinds of heap events (arrivals come from their own list). Finals: compiled, a literal final is inlined
# where a module global is a dict lookup per use.
ACCEPT: Final = 1
COMPLETE: Final = 2
ABANDON: Final = 3
AGENT_STATE: Final = 4
SAMPLE: Final = 5
WAKE: Final = 6
MAX_OFFERS: Final = 64  # offers per policy pass
DEFAULT_BEHAVIOUR = AgentBehaviour()  # answer at once, never let an offer expire


class Simulation:
    """One replication. Create, then :meth:`run`."""

    def __init__(
        self,
        config: Config,
        arrivals: Iterable[Arrival],
        shifts: Sequence[Shift],
        *,
        behaviour: AgentBehaviour = DEFAULT_BEHAVIOUR,
        seed: int = 0,
        horizon: float | None = None,
        sample_every: float = 60.0,
        policy: RoutingPolicy | None = None,
        lane_local: bool = True,
    ) -> None:
        self.config = config
        self.arrivals = _in_time_order(list(arrivals))
        self.shifts = shifts
        self.behaviour = behaviour
        self.seed = seed
        self.rng = random.Random(seed)  # agents' behaviour (no-answer draws)
        self.horizon = horizon if horizon is not None else (self.arrivals[-1].at if self.arrivals else 0.0)
        self.sample_every = sample_every
        self.policy = policy or RoutingPolicy(seed)
        self.lane_local = lane_local  # False: a full pass after every event (the reference, for tests)
        self.state = RoutingState(config)
        self.result = RunResult(seed=seed, horizon=self.horizon)
        self.life = SimLifecycle(self.state, self.result)
        self._events: list[_Event] = []
        self._seq = 0
        self._wake_at = math.inf
        self.now = 0.0

    def schedule(self, at: float, kind: int, payload: Any) -> None:
        self._seq += 1
        _push(self._events, _Event(at, self._seq, kind, payload))

    def run(self) -> RunResult:
        """Simulate until every contact has finished (or nothing more can happen).

        The cyclic garbage collector is paused meanwhile: the loop makes no reference cycles, and the
        collector's repeated passes over the growing records only cost time (a few per cent here).
        """
        with paused_gc():
            return self._run()

    def _run(self) -> RunResult:
        # Arrivals are read from their sorted list, not pushed on the heap: the heap stays as small as
        # the events in flight. An arrival goes first among events at the same time, as it would on the
        # heap where all arrivals were scheduled before anything else.
        arrivals = self.arrivals
        total = len(arrivals)
        taken = 0
        for shift in self.shifts:
            self._schedule_shift(shift)
        if self.sample_every > 0:
            self.schedule(0.0, SAMPLE, None)
        events = self._events
        life = self.life
        payload: Any
        arrival: Arrival
        while True:
            if taken < total and (not events or arrivals[taken].at <= events[0].at):
                arrival = arrivals[taken]
                taken += 1
                at = arrival.at
                self.now = at
                c = life.arrive(arrival, at)
                if arrival.patience != math.inf:
                    self.schedule(at + arrival.patience, ABANDON, c.id)
                # Lane-local decisions: while no deadline has passed (at < wake), the last pass left nothing
                # routable, so an arrival can only route in its own lane and a freed agent only in its queues.
                if at < self._wake_at and self.lane_local:
                    self._route_contact(at, c)
                else:
                    self._route(at)
                continue
            elif events:
                event = _pop(events)
                at, kind, payload = event.at, event.kind, event.payload
            else:
                break
            self.now = at
            local = at < self._wake_at and self.lane_local  # (see above)
            if kind == ACCEPT:
                contact_id, offer_id, handle = payload
                answered = life.accept(contact_id, offer_id, at)
                if answered is not None:
                    self.schedule(at + handle, COMPLETE, answered)
                continue  # an answer frees nothing and adds no contact: no new offer is possible
            elif kind == COMPLETE:
                freed = life.complete(payload, at)
                if local:
                    self._route_agent(at, freed)
                    continue
            elif kind == ABANDON:
                freed = life.abandon(payload, at)
                if local:
                    self._route_agent(at, freed)
                    continue
            elif kind == AGENT_STATE:
                agent_id, state, reason = payload
                life.set_agent_state(agent_id, state, reason, at)
            elif kind == SAMPLE:
                self._sample(at)
                continue
            elif kind == WAKE:
                if at != self._wake_at:
                    continue
                self._wake_at = math.inf
            self._route(at)
            if taken == total and not self.state.contacts:
                break
        life.close(self.now)
        return self.result

    def _route(self, now: float) -> None:
        """Commit due timers and the policy's offers, then arm the next wake-up."""
        state, policy, life = self.state, self.policy, self.life
        for action in policy.due(state, now):
            if isinstance(action, ExpireOffer):
                if life.expire(action, now):  # the agent missed too many: back after the no-answer delay
                    back = now + max(1.0, self.config.routing.no_answer_delay)
                    self.schedule(back, AGENT_STATE, (action.agent_id, AgentState.AVAILABLE, ""))
            elif isinstance(action, EndWrapup):
                life.end_wrapup(action.contact_id, now)
            elif isinstance(action, Overflow):
                life.overflow(action, now)
        while self._made(policy.decide(state, now, max_offers=MAX_OFFERS), now):
            pass
        self._arm(now)

    def _route_contact(self, now: float, c: ContactView) -> None:
        """Offers ``c``'s arrival made possible (lane-local; see :meth:`RoutingPolicy.offers_for_contact`)."""
        policy, state = self.policy, self.state
        while self._made(policy.offers_for_contact(state, c, now, max_offers=MAX_OFFERS), now):
            pass
        self._arm(now)

    def _route_agent(self, now: float, agent_id: str) -> None:
        """Offers an agent's freed room made possible (``agent_id`` empty: none freed)."""
        policy, state = self.policy, self.state
        while agent_id and self._made(policy.offers_for_agent(state, agent_id, now, max_offers=MAX_OFFERS), now):
            pass
        self._arm(now)

    def _made(self, offers: list[Offer], now: float) -> bool:
        """Make ``offers``; True if the pass stopped at its cap (ask again: there may be more to offer now).
        (Three explicit loops rather than one over a callable: compiled, a call through a callable is generic.)"""
        for offer in offers:
            self._offer(offer, now)
        return len(offers) >= MAX_OFFERS

    def _arm(self, now: float) -> None:
        """Schedule a wake-up at the policy's next deadline, if it is earlier than the one armed."""
        deadline = self.policy.next_deadline(self.state, now)
        if deadline is not None and deadline < self._wake_at:
            self._wake_at = max(deadline, now)
            self.schedule(self._wake_at, WAKE, None)

    def _offer(self, offer: Offer, now: float) -> None:
        behaviour = self.behaviour
        if behaviour.no_answer_probability and self.rng.random() < behaviour.no_answer_probability:
            self.life.offer(offer, now)
            return  # left to expire
        if behaviour.answer_delay <= 0:
            # Answered at once: no event needed.
            answered = self.life.offer_answered(offer, now)
            if answered is not None:
                self.schedule(now + answered.handle, COMPLETE, answered)
            else:
                self.life.offer(offer, now)
        else:
            handle = self.life.contact(offer.contact_id).handle
            offer_id = self.life.offer(offer, now)
            self.schedule(now + behaviour.answer_delay, ACCEPT, (offer.contact_id, offer_id, handle))

    def _schedule_shift(self, shift: Shift) -> None:
        self.schedule(shift.start, AGENT_STATE, (shift.agent, AgentState.AVAILABLE, ""))
        for b in shift.breaks:
            self.schedule(b.start, AGENT_STATE, (shift.agent, AgentState.AWAY, b.reason))
            self.schedule(b.end, AGENT_STATE, (shift.agent, AgentState.AVAILABLE, ""))
        self.schedule(shift.end, AGENT_STATE, (shift.agent, AgentState.AWAY, "shift_end"))

    def _sample(self, now: float) -> None:
        counts = dict.fromkeys(self.config.queues, 0)
        for c in self.state.contacts.values():
            if c.state == ContactState.QUEUED:
                counts[c.queue] += 1
        self.result.queue_length.extend((now, q, n) for q, n in counts.items())
        if now + self.sample_every <= self.horizon:
            self.schedule(now + self.sample_every, SAMPLE, None)


class _Event:
    """One scheduled event; the heap orders by (at, seq), and seq is unique, so the order is total."""

    __slots__ = ("at", "kind", "payload", "seq")

    def __init__(self, at: float, seq: int, kind: int, payload: Any) -> None:
        self.at = at
        self.seq = seq
        self.kind = kind
        self.payload = payload


def _push(heap: list[_Event], event: _Event) -> None:
    """heapq.heappush for events, comparing (at, seq) natively (compiled: no tuple comparisons)."""
    heap.append(event)
    at, seq = event.at, event.seq
    i = len(heap) - 1
    while i > 0:
        parent = (i - 1) >> 1
        above = heap[parent]
        if at < above.at or (at == above.at and seq < above.seq):
            heap[i] = above
            i = parent
        else:
            break
    heap[i] = event


def _pop(heap: list[_Event]) -> _Event:
    """heapq.heappop for events (the earliest (at, seq)); ``heap`` must not be empty."""
    last = heap.pop()
    if not heap:
        return last
    first = heap[0]
    n = len(heap)
    at, seq = last.at, last.seq
    i = 0
    child = 1
    while child < n:
        right = child + 1
        c = heap[child]
        if right < n:
            r = heap[right]
            if r.at < c.at or (r.at == c.at and r.seq < c.seq):
                child, c = right, r
        if c.at < at or (c.at == at and c.seq < seq):
            heap[i] = c
            i = child
            child = 2 * i + 1
        else:
            break
    heap[i] = last
    return first


def _in_time_order(arrivals: list[Arrival]) -> list[Arrival]:
    """``arrivals`` sorted by time (stable), as given when they already are (generators give them so)."""
    for i in range(1, len(arrivals)):
        if arrivals[i].at < arrivals[i - 1].at:
            return sorted(arrivals, key=lambda a: a.at)
    return arrivals


def simulate(config: Config, arrivals: Iterable[Arrival], shifts: Sequence[Shift], **options) -> RunResult:
    """Run one replication and return its result (``options`` as for :class:`Simulation`)."""
    return Simulation(config, arrivals, shifts, **options).run()
