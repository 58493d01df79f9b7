"""The in-memory twin of the Redis scripts: the same lifecycle moves, on a RoutingState, for the simulator.

Each method does what its script in ``router/lua`` does (the comments name it), checked against the
lifecycle table in :mod:`router.lifecycle`, and records outcomes in the run's :class:`RunResult`. The
simulator's state is the truth, so views are changed in place (no snapshot per move) and the state is
told what moved (:meth:`RoutingState.move_contact`, :meth:`RoutingState.agent_changed`); every change of
an agent's load or idle time bumps its version, so stale index entries are known.
"""

from __future__ import annotations

from typing import Final, cast

from router.config.model import MaxWaitAction, Queue
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
        self.last_agent: dict[str, str] = {}  # customer -> agent who served them last
        self._seq = 0
        self._offers = 0
        self._queue: Queue | None = None  # the queue of the last arrival (arrive)
        # The state's agent views, replaced by ones that also keep the agent's busy and staffed time.
        for agent_id in list(state.agents):
            state.put_agent(SimAgent(agent_id))

    # -- contacts (enqueue.lua, offer.lua, accept.lua, complete.lua, end_wrapup.lua, abandon.lua) ------

    def arrive(self, a: Arrival, now: float) -> SimContact:
        queue = self._queue
        if queue is None or a.queue != queue.name:  # (arrivals mostly come to the queue the last one came to)
            queue = self._queue = self.state.queues[a.queue]
        self._seq += 1
        preferred, until = "", 0.0
        if a.customer and queue.last_agent > 0 and a.customer in self.last_agent:
            preferred, until = self.last_agent[a.customer], now + queue.last_agent
        record = ContactRecord(id=a.id, queue=a.queue, channel=a.channel, arrived=now, first_queue=a.queue)
        priority = queue.priority if a.priority is None else a.priority
        c = SimContact(a, record, priority, self._seq, now, preferred, until)
        self.state.add_contact(c)
        self.all_records.append(record)
        return c

    def contact(self, contact_id: str) -> SimContact:
        """The contact ``contact_id`` (not finished)."""
        return cast(SimContact, self.state.contacts[contact_id])

    def offer(self, o: Offer, now: float) -> str:
        c = self.contact(o.contact_id)
        a = self.state.agents[o.agent_id]
        c.held_by = a
        self._offers += 1
        offer_id = f"o{self._offers}"
        c.agent = o.agent_id
        c.offer_id = offer_id
        c.offer_expires = o.expires_at
        self._move(c, ContactEvent.OFFER)
        self._load(a, c.channel, +1, now)
        self.result.offered_contacts.append(o.contact_id)
        self.result.offered_agents.append(o.agent_id)
        return offer_id

    def offer_answered(self, o: Offer, now: float) -> SimContact | None:
        """Offer and accept in the same instant (offer.lua then accept.lua, an agent with no answer delay).
        Returns None, doing nothing, if the offer would have expired at once (then offer, let it expire);
        else the contact, for :meth:`complete`."""
        if o.expires_at <= now:
            return None
        # The views the policy decided on are this state's own (changed in place, never replaced).
        c = cast(SimContact, o.contact) if o.contact is not None else self.contact(o.contact_id)
        if c.state != ContactState.QUEUED:  # table check (from queued: made once, above)
            next_contact_state(next_contact_state(c.state, ContactEvent.OFFER), ContactEvent.ACCEPT)
        # No offer id: it only matches an answer to its offer, and this offer has no answer to come.
        c.agent = o.agent_id
        c.offer_expires = o.expires_at
        self.state.connect_at_once(c)
        a = o.agent if o.agent is not None else self.state.agents[o.agent_id]
        self._load(a, c.channel, +1, now)
        a.missed = 0
        self.result.offered_contacts.append(o.contact_id)
        self.result.offered_agents.append(o.agent_id)
        c.held_by = a
        record = c.record
        record.set_answered(now)
        record.agent = o.agent_id
        record.queue = c.queue
        return c

    def accept(self, contact_id: str, offer_id: str, now: float) -> SimContact | None:
        """The offer was accepted: the contact, for :meth:`complete` (None if it was abandoned or expired
        meanwhile)."""
        found = self.state.contacts.get(contact_id)
        if found is None or found.state != ContactState.OFFERED or found.offer_id != offer_id:
            return None  # abandoned or expired meanwhile
        c = cast(SimContact, found)
        if c.offer_expires <= now:
            return None
        self._move(c, ContactEvent.ACCEPT)
        self.state.agents[c.agent].missed = 0  # not indexed: no re-index needed
        record = c.record
        record.set_answered(now)
        record.agent = c.agent
        record.queue = c.queue
        return c

    def complete(self, c: SimContact, now: float) -> str:
        """Returns the agent if it has room again (no wrap-up), else ''."""
        lane = c.lane  # the lane it waited in last (RoutingState.lane_of): its queue, found once
        queue = lane.queue if lane is not None else None
        if queue is None or queue.name != c.queue:
            queue = self.state.queues[c.queue]
        c.record.set_ended(now)
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
            a = c.held_by
            if a is None or a.id != c.agent:
                a = self.state.agents[c.agent]
            self._load(a, c.channel, -1, now, idle=True)
            return c.agent
        self._move(c, ContactEvent.COMPLETE)
        return ""

    def end_wrapup(self, contact_id: str, now: float) -> None:
        c = self.contact(contact_id)
        self._move(c, ContactEvent.END_WRAPUP)
        self._load(self.state.agents[c.agent], c.channel, -1, now, idle=True)

    def abandon(self, contact_id: str, now: float) -> str:
        """Returns the agent whose offer it was (it has room again), else ''."""
        found = self.state.contacts.get(contact_id)
        if found is None or found.state not in (ContactState.QUEUED, ContactState.OFFERED):
            return ""  # answered (or gone) before the customer's patience ran out
        c = cast(SimContact, found)
        freed = c.agent if c.state == ContactState.OFFERED else ""
        if freed:
            self._load(self.state.agents[c.agent], c.channel, -1, now)
        c.agent = ""
        self._move(c, ContactEvent.ABANDON)
        record = c.record
        record.set_abandoned(now)
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
        c = self.contact(action.contact_id)
        max_wait = self.state.queues[c.queue].max_wait
        if max_wait is not None and max_wait.action == MaxWaitAction.OVERFLOW and action.to_queue:
            c.queue, c.queued_at = action.to_queue, now
            self._move(c, ContactEvent.OVERFLOW)
            c.record.queue = action.to_queue
        else:
            self._move(c, ContactEvent.OVERFLOW_END)
            c.record.set_overflowed(now)

    # -- agents (agent_state.lua) ------------------------------------------------------------------------

    def set_agent_state(self, agent_id: str, state: AgentState, reason: str, now: float) -> None:
        a = cast(SimAgent, self.state.agents[agent_id])
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
        for agent_id, view in self.state.agents.items():
            t = cast(SimAgent, view)
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

    def _move(self, c: ContactView, event: ContactEvent, start: ContactState | None = None) -> None:
        """Move ``c`` by ``event`` from its state (or from ``start``, passed through in the same instant)."""
        self.state.move_contact(c, next_contact_state(start or c.state, event))

    def _load(
        self,
        view: AgentView,
        channel: str,
        delta: int,
        now: float,
        *,
        idle: bool = False,
        backoff_changed: bool = False,
    ) -> None:
        a = cast(SimAgent, view)
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

    def _account(self, a: SimAgent, now: float) -> None:
        """Open or close the agent's busy period (holding work) and staffed period (available or holding
        work: an agent finishing a call after its shift is still at work), counted within the horizon."""
        busy = bool(a.load)
        if busy:
            if a.busy_since < 0.0:
                a.busy_since = now
        elif a.busy_since >= 0.0:
            a.busy += self._within_horizon(a.busy_since, now)
            a.busy_since = -1.0
        if busy or a.state == AgentState.AVAILABLE:
            if a.staffed_since < 0.0:
                a.staffed_since = now
        elif a.staffed_since >= 0.0:
            a.staffed += self._within_horizon(a.staffed_since, now)
            a.staffed_since = -1.0

    def _within_horizon(self, start: float, end: float) -> float:
        horizon = self.result.horizon
        return max(0.0, min(end, horizon) - min(start, horizon))


class SimContact(ContactView):
    """A contact of the run: its routing view (the state's own, changed in place) with what the simulator
    knows of it besides: its record, its handle time, and the agent last offered it (so that the events
    of its life need not look these up by id)."""

    __slots__ = ("handle", "held_by", "record")

    def __init__(
        self, a: Arrival, record: ContactRecord, priority: int, seq: int, now: float, preferred: str, until: float
    ) -> None:
        super().__init__(
            id=a.id,
            queue=a.queue,
            channel=a.channel,
            priority=priority,
            enqueued_at=now,
            seq=seq,
            queued_at=now,
            customer=a.customer,
            skills=a.skills,
            preferred_agent=preferred,
            preferred_until=until,
            ver=1,
        )
        self.record = record
        self.handle = a.handle
        self.held_by: AgentView | None = None


class SimAgent(AgentView):
    """An agent of the run: its routing view with its busy and staffed time so far, and since when the
    open periods run (-1: none open); close() puts them in the result."""

    __slots__ = ("busy", "busy_since", "staffed", "staffed_since")

    def __init__(self, agent_id: str) -> None:
        super().__init__(id=agent_id)
        self.busy = 0.0
        self.busy_since = -1.0
        self.staffed = 0.0
        self.staffed_since = -1.0
