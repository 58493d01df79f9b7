"""The in-memory twin of the Redis scripts: the same lifecycle moves, on a RoutingState, for the simulator.

Each method does what its script in ``router/lua`` does (the comments name it), checked against the
lifecycle table in :mod:`router.lifecycle`, and records outcomes in the run's :class:`RunResult`. The
simulator's state is the truth, so views are changed in place (no snapshot per move) and the state is
told what moved (:meth:`RoutingState.move_contact`, :meth:`RoutingState.agent_changed`); every change of
an agent's load or idle time bumps its version, so stale index entries are known.
"""

from __future__ import annotations

from typing import Final

from router.config.model import MaxWaitAction
from router.lifecycle import AgentState, ContactEvent, ContactState, next_contact_state
from router.policy import ExpireOffer, Offer, Overflow
from router.state import AgentView, ContactView, RoutingState
from simulations.model import Arrival, ContactRecord, RunResult

# The two moves the simulator makes most, checked against the table once here (it is a final, so the answer
# cannot change): a contact answered in the instant it is offered (queued -> offered -> connected), and one
# completed with no wrap-up (connected -> wrapup -> done). Any other starting state is checked as it comes.
ANSWERED_AT_ONCE: Final = next_contact_state(
    next_contact_state(ContactState.QUEUED, ContactEvent.OFFER), ContactEvent.ACCEPT
)
ENDED_AT_ONCE: Final = next_contact_state(
    next_contact_state(ContactState.CONNECTED, ContactEvent.COMPLETE), ContactEvent.END_WRAPUP
)


class SimLifecycle:
    """Contact and agent moves for one simulation run."""

    def __init__(self, state: RoutingState, result: RunResult) -> None:
        self.state = state
        self.result = result
        self.all_records: list[ContactRecord] = []  # in arrival order: the run's result
        # Of the contacts not yet finished only (answered and ended, abandoned, or ended by max wait), so
        # that it stays as small as the contacts in flight, however long the run.
        self.flight: dict[str, InFlight] = {}
        self.last_agent: dict[str, str] = {}  # customer -> agent who served them last
        self._seq = 0
        self._offers = 0
        # Each agent's busy and staffed time; close() puts them in the result.
        self._times: dict[str, _AgentTime] = {agent_id: _AgentTime() for agent_id in state.agents}

    # -- contacts (enqueue.lua, offer.lua, accept.lua, complete.lua, end_wrapup.lua, abandon.lua) ------

    def arrive(self, a: Arrival, now: float) -> ContactView:
        queue = self.state.queues[a.queue]
        self._seq += 1
        preferred, until = "", 0.0
        if a.customer and queue.last_agent > 0 and a.customer in self.last_agent:
            preferred, until = self.last_agent[a.customer], now + queue.last_agent
        c = ContactView(
            id=a.id,
            queue=a.queue,
            channel=a.channel,
            priority=queue.priority if a.priority is None else a.priority,
            enqueued_at=now,
            seq=self._seq,
            queued_at=now,
            customer=a.customer,
            skills=a.skills,
            preferred_agent=preferred,
            preferred_until=until,
            ver=1,
        )
        self.state.put_contact(c)
        record = ContactRecord(id=a.id, queue=a.queue, channel=a.channel, arrived=now, first_queue=a.queue)
        self.flight[a.id] = InFlight(c, record, a.handle)
        self.all_records.append(record)
        return c

    def handle_of(self, contact_id: str) -> float:
        return self.flight[contact_id].handle

    def offer(self, o: Offer, now: float) -> str:
        c = self.state.contacts[o.contact_id]
        a = self.state.agents[o.agent_id]
        self.flight[o.contact_id].agent = a
        self._offers += 1
        offer_id = f"o{self._offers}"
        c.agent = o.agent_id
        c.offer_id = offer_id
        c.offer_expires = o.expires_at
        self._move(c, ContactEvent.OFFER)
        self._load(a, c.channel, +1, now)
        self.result.assignments.append((o.contact_id, o.agent_id))
        return offer_id

    def offer_answered(self, o: Offer, now: float) -> InFlight | None:
        """Offer and accept in the same instant (offer.lua then accept.lua, an agent with no answer delay).
        Returns None, doing nothing, if the offer would have expired at once (then offer, let it expire);
        else the contact in flight, for :meth:`complete`."""
        if o.expires_at <= now:
            return None
        # The views the policy decided on are this state's own (changed in place, never replaced).
        c = o.contact if o.contact is not None else self.state.contacts[o.contact_id]
        if c.state != ContactState.QUEUED:  # table check (from queued: made once, above)
            next_contact_state(next_contact_state(c.state, ContactEvent.OFFER), ContactEvent.ACCEPT)
        self._offers += 1
        c.agent = o.agent_id
        c.offer_id = f"o{self._offers}"
        c.offer_expires = o.expires_at
        self.state.connect_at_once(c)
        a = o.agent if o.agent is not None else self.state.agents[o.agent_id]
        self._load(a, c.channel, +1, now)
        a.missed = 0
        self.result.assignments.append((o.contact_id, o.agent_id))
        flight = self.flight[o.contact_id]
        flight.agent = a
        record = flight.record
        record.answered = now
        record.agent = o.agent_id
        record.queue = c.queue
        return flight

    def accept(self, contact_id: str, offer_id: str, now: float) -> InFlight | None:
        """The offer was accepted: the contact in flight, for :meth:`complete` (None if it was abandoned or
        expired meanwhile)."""
        c = self.state.contacts.get(contact_id)
        if c is None or c.state != ContactState.OFFERED or c.offer_id != offer_id or c.offer_expires <= now:
            return None  # abandoned or expired meanwhile
        self._move(c, ContactEvent.ACCEPT)
        self.state.agents[c.agent].missed = 0  # not indexed: no re-index needed
        flight = self.flight[contact_id]
        record = flight.record
        record.answered = now
        record.agent = c.agent
        record.queue = c.queue
        return flight

    def complete(self, flight: InFlight, now: float) -> str:
        """Returns the agent if it has room again (no wrap-up), else ''."""
        c = flight.contact
        queue = self.state.queues[c.queue]
        self._finished(c.id).ended = now
        if c.customer:
            self.last_agent[c.customer] = c.agent
        c.wrapup_until = now + queue.wrapup
        if queue.wrapup <= 0:
            # No wrap-up: complete.lua then end_wrapup.lua in the same instant, one move (no wrap-up end armed).
            if c.state == ContactState.CONNECTED:  # table check (made once, above)
                self.state.move_contact(c, ENDED_AT_ONCE)
            else:
                next_contact_state(c.state, ContactEvent.COMPLETE)  # raises
                self._move(c, ContactEvent.END_WRAPUP, ContactState.WRAPUP)
            a = flight.agent
            if a is None or a.id != c.agent:
                a = self.state.agents[c.agent]
            self._load(a, c.channel, -1, now, idle=True)
            return c.agent
        self._move(c, ContactEvent.COMPLETE)
        return ""

    def end_wrapup(self, contact_id: str, now: float) -> None:
        c = self.state.contacts[contact_id]
        self._move(c, ContactEvent.END_WRAPUP)
        self._load(self.state.agents[c.agent], c.channel, -1, now, idle=True)

    def abandon(self, contact_id: str, now: float) -> str:
        """Returns the agent whose offer it was (it has room again), else ''."""
        c = self.state.contacts.get(contact_id)
        if c is None or c.state not in (ContactState.QUEUED, ContactState.OFFERED):
            return ""  # answered (or gone) before the customer's patience ran out
        freed = c.agent if c.state == ContactState.OFFERED else ""
        if freed:
            self._load(self.state.agents[c.agent], c.channel, -1, now)
        c.agent = ""
        self._move(c, ContactEvent.ABANDON)
        record = self._finished(contact_id)
        record.abandoned = now
        record.queue = c.queue
        return freed

    # -- timers (requeue_offer.lua with "expire", overflow.lua) ----------------------------------------

    def expire(self, action: ExpireOffer, now: float) -> bool:
        """An offer expired: the contact goes back in its place. Returns whether the agent went away."""
        c = self.state.contacts[action.contact_id]
        routing = self.state.config.routing
        a = self.state.agents[c.agent]
        channel = c.channel
        c.agent, c.offer_id, c.offer_expires = "", "", 0.0
        self._move(c, ContactEvent.EXPIRE)
        a.missed += 1
        away = a.missed >= routing.max_missed_offers and a.state == AgentState.AVAILABLE
        backoff = max(a.backoff_until, now + routing.no_answer_delay)
        changed = backoff != a.backoff_until
        a.backoff_until = backoff
        if away:
            a.state, a.reason = AgentState.AWAY, "missed_offers"
        self._load(a, channel, -1, now, backoff_changed=changed)
        return away

    def overflow(self, action: Overflow, now: float) -> None:
        c = self.state.contacts[action.contact_id]
        max_wait = self.state.queues[c.queue].max_wait
        if max_wait is not None and max_wait.action == MaxWaitAction.OVERFLOW and action.to_queue:
            c.queue, c.queued_at = action.to_queue, now
            self._move(c, ContactEvent.OVERFLOW)
            self.flight[c.id].record.queue = action.to_queue
        else:
            self._move(c, ContactEvent.OVERFLOW_END)
            self._finished(c.id).overflowed = now

    # -- agents (agent_state.lua) ------------------------------------------------------------------------

    def set_agent_state(self, agent_id: str, state: AgentState, reason: str, now: float) -> None:
        a = self.state.agents[agent_id]
        if a.state == state and a.reason == reason:
            return
        if state == AgentState.AVAILABLE and a.state != AgentState.AVAILABLE:
            a.idle_since, a.missed = now, 0
        a.state, a.reason = state, reason
        a.ver += 1
        self.state.agent_changed(a)
        self._account(a, now)

    def close(self, now: float) -> None:
        """End of the run: close open staffed and busy periods, and hand over the records."""
        result = self.result
        for agent_id, t in self._times.items():
            if t.staffed_since >= 0.0:
                t.staffed += self._within_horizon(t.staffed_since, now)
                t.staffed_since = -1.0
            if t.busy_since >= 0.0:
                t.busy += self._within_horizon(t.busy_since, now)
                t.busy_since = -1.0
            result.agent_staffed[agent_id] = t.staffed
            result.agent_busy[agent_id] = t.busy
        result.records = self.all_records

    # -- helpers -------------------------------------------------------------------------------------

    def _finished(self, contact_id: str) -> ContactRecord:
        """The record of a contact that has just finished, no longer kept by id."""
        flight = self.flight
        record = flight[contact_id].record
        del flight[contact_id]  # not pop(): compiled, a dict's pop is a generic method call
        return record

    def _move(self, c: ContactView, event: ContactEvent, start: ContactState | None = None) -> None:
        """Move ``c`` by ``event`` from its state (or from ``start``, passed through in the same instant)."""
        self.state.move_contact(c, next_contact_state(start or c.state, event))

    def _load(
        self, a: AgentView, channel: str, delta: int, now: float, *, idle: bool = False, backoff_changed: bool = False
    ) -> None:
        load = a.load
        n = load.get(channel, 0) + delta
        if n:
            load[channel] = n
        else:
            del load[channel]
        a.ver += 1
        if idle and not load:
            a.idle_since = now
        self.state.agent_changed(a, backoff_changed=backoff_changed)
        self._account(a, now)

    def _account(self, a: AgentView, now: float) -> None:
        """Open or close the agent's busy period (holding work) and staffed period (available or holding
        work: an agent finishing a call after its shift is still at work), counted within the horizon."""
        t = self._times[a.id]
        busy = bool(a.load)
        if busy:
            if t.busy_since < 0.0:
                t.busy_since = now
        elif t.busy_since >= 0.0:
            t.busy += self._within_horizon(t.busy_since, now)
            t.busy_since = -1.0
        if busy or a.state == AgentState.AVAILABLE:
            if t.staffed_since < 0.0:
                t.staffed_since = now
        elif t.staffed_since >= 0.0:
            t.staffed += self._within_horizon(t.staffed_since, now)
            t.staffed_since = -1.0

    def _within_horizon(self, start: float, end: float) -> float:
        horizon = self.result.horizon
        return max(0.0, min(end, horizon) - min(start, horizon))


class InFlight:
    """A contact between arrival and its end: its view, its record, its handle time, and the agent last
    offered it (so that the events of its life need not look these up by id)."""

    __slots__ = ("agent", "contact", "handle", "record")

    def __init__(self, contact: ContactView, record: ContactRecord, handle: float) -> None:
        self.contact = contact
        self.record = record
        self.handle = handle
        self.agent: AgentView | None = None


class _AgentTime:
    """One agent's busy and staffed time so far, and since when the open periods run (-1: none open)."""

    __slots__ = ("busy", "busy_since", "staffed", "staffed_since")

    def __init__(self) -> None:
        self.busy = 0.0
        self.busy_since = -1.0
        self.staffed = 0.0
        self.staffed_since = -1.0
