"""Who gets what: the routing policy. Pure: it reads a RoutingState and ``now`` and returns decisions.

Theory of operation
-------------------
The live engine (router/engine.py, on Redis and the wall clock) and the simulator (simulations/, on a
simulated clock) both ask the policy for offers whenever something changed, carry out the offers it
returns, call :meth:`RoutingPolicy.due` for the timers that fell due (offer expiry, end of wrap-up, max
wait), and sleep until :meth:`RoutingPolicy.next_deadline`. Neither contains a routing ``if``.

There are three ways to ask, all running the same pass: :meth:`RoutingPolicy.decide`, a full pass over
every lane (the live router, each turn); :meth:`RoutingPolicy.offers_for_contact`, only the lane a
contact just joined; and :meth:`RoutingPolicy.offers_for_agent`, only the lanes of the queues an agent
that just got room serves. The last two give what a full pass would, because a pass ends *stuck* (no
waiting contact can go to any free agent), so one change can only unstick what it touched; they hold as
long as nothing else changed and no deadline of ``next_deadline`` has passed since the last pass (the
simulator, whose state is exact, uses them on arrivals and freed agents, and full passes otherwise).

A decision pass matches waiting contacts to agents with room, once per routing-profile priority level
(1 first): at level L an agent is considered only for the queues its profile lists at priority L, so an
agent takes work from its first queues before its second ones. Within a level, contacts are taken in
order of effective priority (priority plus aging), then arrival. For each contact, the agents that may
take it are the free agents serving its queue at that level who

- are not backing off after a reject or a missed offer,
- have waited out their profile delay for that queue (the contact has waited at least that long),
- meet the queue's skill requirements at the contact's current escalation step, plus the contact's own,
- have room on the contact's channel (capacity; an exclusive channel such as voice needs an agent
  with no other work, and blocks all other work while held);

and the queue's strategy picks one of them. A contact with a live last-agent preference goes only to
that agent while the agent is logged in. Contacts are kept in *lanes* (one queue, priority and set of
contact-specific skills) in which an older contact is always at least as routable as a younger one, so
the first contact of a lane that nobody can take ends that lane's turn: a pass costs one strategy
choice per offer made plus one per lane, not a scan of every contact-agent pair.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Final, cast

from router.config.model import MaxWaitAction, Queue, Strategy
from router.lifecycle import AgentState
from router.state import (
    AgentView,
    ContactView,
    FreeAgents,
    Lane,
    LaneEntry,
    LaneKey,
    RoutingState,
    Seat,
    heap_pop,
    heap_push,
    stands,
)
from skills.model import Requirements, meets, merge, proficiency

# heapq's functions bound as finals: compiled (mypyc), a final is a C static, a module global a dict lookup per call.
heapify: Final = heapq.heapify
heappop: Final = heapq.heappop
heappush: Final = heapq.heappush


@dataclass(slots=True, kw_only=True, init=False)
class Offer:
    """Offer ``contact_id`` to ``agent_id`` until ``expires_at`` (read-only by convention)."""

    contact_id: str
    agent_id: str
    queue: str
    channel: str
    expires_at: float
    lane: LaneKey
    passed: tuple[str, ...]  # contacts ahead of it in its lane, passed over for their preferred agent
    # The views the pass decided on (None when made elsewhere): whoever carries the offer out on the same
    # state may use them instead of looking the ids up. Not part of the offer's value.
    contact: ContactView | None = field(default=None, compare=False, repr=False)
    agent: AgentView | None = field(default=None, compare=False, repr=False)

    def __init__(
        self,
        *,
        contact_id: str,
        agent_id: str,
        queue: str,
        channel: str,
        expires_at: float,
        lane: LaneKey,
        passed: tuple[str, ...] = (),
        contact: ContactView | None = None,
        agent: AgentView | None = None,
    ) -> None:
        # Written out (dataclass init=False): compiled by mypyc, a dataclass's generated __init__ stays
        # interpreted, about 1.5 us a call, and this runs once per offer.
        self.contact_id = contact_id
        self.agent_id = agent_id
        self.queue = queue
        self.channel = channel
        self.expires_at = expires_at
        self.lane = lane
        self.passed = passed
        self.contact = contact
        self.agent = agent


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireOffer:
    """The offer ``offer_id`` of ``contact_id`` was not answered in time."""

    contact_id: str
    agent_id: str
    offer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndWrapup:
    """``contact_id``'s wrap-up time is over."""

    contact_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Overflow:
    """``contact_id`` waited its queue's max wait: move it to ``to_queue``, or end it if None."""

    contact_id: str
    from_queue: str
    to_queue: str | None


TimerAction = ExpireOffer | EndWrapup | Overflow


class _Passes:
    """Numbers the decision passes of every policy in the process, from 1: a pass marks views with its
    number (ContactView.offered_in, AgentView.promised_in), so no two passes may share one."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


PASSES: Final = _Passes()


class _Cursor:
    """Walks one lane in order during a pass without losing entries (they are restored after), with
    what the lane's contacts share at this level: their queue, its free agents, the offer timeout."""

    __slots__ = ("bucket", "heap", "key", "lane", "passed", "popped", "queue", "timed", "timeout")

    def __init__(self, lane: Lane, queue: Queue, bucket: FreeAgents, timed: bool) -> None:
        self.lane = lane
        self.key = lane.key
        self.heap = lane.heap
        self.queue = queue
        self.bucket = bucket
        self.timeout = lane.timeout
        self.timed = timed  # whether any profile delay (or escalation) applies to the lane's queue
        self.popped: list[LaneEntry] = []
        self.passed: list[str] = []  # waiting contacts skipped on purpose (preferred agent)

    def head(self, token: int) -> ContactView | None:
        """The first contact of the lane not offered in this pass (``token``), or None."""
        heap = self.heap
        lane = self.lane
        while heap:
            top = heap[0]
            if not stands(top, lane):
                heap_pop(heap)  # stale for good
            elif top.contact.offered_in == token:
                if len(heap) == 1:
                    return None  # nothing behind it: no need to pop it and push it back
                self.popped.append(heap_pop(heap))
            else:
                return top.contact
        return None

    def skip(self) -> None:
        entry = heap_pop(self.heap)
        self.popped.append(entry)
        self.passed.append(entry.id)

    def restore(self) -> None:
        popped = self.popped
        if popped:  # (compiled, clear() is a generic method call: skipped when there is nothing to clear)
            for entry in popped:
                heap_push(self.heap, entry)
            popped.clear()
        if self.passed:
            self.passed.clear()


class _Eligible:
    """Whether a free agent may take contact ``c`` now: not backing off, past its profile delay for the
    queue, meeting the requirements in force, with room on the channel counting what this pass promised
    it. (An object, not a closure: compiled, its check is a direct call. The policy keeps one and resets
    it for each contact.)"""

    __slots__ = ("channel", "delays", "now", "queue", "requirements", "state", "token", "waited")

    state: RoutingState
    queue: str
    delays: bool
    channel: str
    now: float
    waited: float
    requirements: Requirements
    token: int

    def reset(
        self,
        state: RoutingState,
        c: ContactView,
        delays: bool,
        now: float,
        waited: float,
        requirements: Requirements,
        token: int,
    ) -> None:
        self.state = state
        self.queue = c.queue
        self.delays = delays  # whether any profile delay (or escalation) applies
        self.channel = c.channel
        self.now = now
        self.waited = waited
        self.requirements = requirements
        self.token = token

    def check(self, a: AgentView) -> bool:
        spec = self.state.spec_of(a)
        if a.backoff_until > self.now or (self.delays and spec.queues[self.queue][1] > self.waited):
            return False
        if not meets(spec.skills, self.requirements):
            return False
        return self.state.has_room(a, spec, self.channel, _promised_to(a, self.token))


def _longest_idle(bucket: FreeAgents, eligible: _Eligible, token: int) -> AgentView | None:
    """The eligible agent of ``bucket`` with the least load (counting what this pass (``token``) promised it),
    then the longest idle.

    Walks the bucket's heap in order and stops at the first eligible agent promised nothing; agents
    promised offers earlier in the same pass are weighed against it at the end. Seats taken out on the
    way are put back.
    """
    heap = bucket.heap
    if len(heap) <= 1:
        # One free agent (often so when agents are busy) or none: no order to walk.
        return heap[0].agent if heap and eligible.check(heap[0].agent) else None
    popped: list[Seat] | None = None  # made when needed: usually the top is the answer
    deferred: list[AgentView] | None = None
    best = None
    while heap:
        a = heap[0].agent  # looked at in place: the usual answer, the top, is not taken out and put back
        if eligible.check(a):
            if not _promised_count(a, token):
                best = a
                break
            if deferred is None:
                deferred = []
            deferred.append(a)
        if popped is None:
            popped = []
        popped.append(bucket.pop())
    if popped is not None:
        for seat in popped:
            bucket.push(seat)
    if not deferred:
        return best
    if best is not None:
        deferred.append(best)
    # The least load counting what this pass promised, then the longest idle, then the id (a loop, not
    # min() with a key: compiled, a key function is a generic call per agent).
    choice = deferred[0]
    choice_load = choice.total_load + _promised_count(choice, token)
    for a in deferred:
        load = a.total_load + _promised_count(a, token)
        if load < choice_load or (
            load == choice_load
            and (a.idle_since < choice.idle_since or (a.idle_since == choice.idle_since and a.id < choice.id))
        ):
            choice, choice_load = a, load
    return choice


def _promised_to(a: AgentView, token: int) -> dict[str, int] | None:
    """The offers the pass ``token`` promised agent ``a`` so far, per channel (None: none)."""
    return a.promised if a.promised_in == token else None


def _promised_count(a: AgentView, token: int) -> int:
    """The offers the pass ``token`` promised agent ``a`` so far."""
    per = _promised_to(a, token)
    if per is None:
        return 0
    total = 0
    for n in per.values():
        total += n
    return total


class RoutingPolicy:
    """The routing policy. One instance per router or simulation run (it owns the random stream)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)  # the random strategy's stream
        self._last_offered: dict[str, str] = {}
        self._eligible = _Eligible()  # reset for each contact (see _choose)

    # -- offers -----------------------------------------------------------------------------------

    def decide(self, state: RoutingState, now: float, *, max_offers: int = 64) -> list[Offer]:
        """The offers to make now: a full pass over every lane. Does not change ``state`` (the views' scratch
        fields aside): the caller commits and applies them.

        A pass stops after ``max_offers`` (the caller commits them and calls again at once): this bounds
        the work of one pass, in which every agent already promised an offer is looked at again.
        """
        if state.waiting == 0 or not state.any_free():
            return []
        return self._pass(state, now, None, max_offers)

    def offers_for_contact(
        self, state: RoutingState, c: ContactView, now: float, *, max_offers: int = 64
    ) -> list[Offer]:
        """The offers that ``c`` joining its lane (arriving, or back in line) made possible: a pass over
        that lane only.

        Gives what :meth:`decide` would give, provided that nothing else changed since a full pass (or
        one of these) offered nothing, and that no deadline of :meth:`next_deadline` has passed since:
        no other lane can have become routable. The caller falls back to :meth:`decide` otherwise.
        """
        if not state.any_free():
            return []
        return self._pass(state, now, None, max_offers, state.lane_of(c))

    def offers_for_agent(self, state: RoutingState, agent_id: str, now: float, *, max_offers: int = 64) -> list[Offer]:
        """The offers that ``agent_id`` gaining room (a contact ended, it came back) made possible: a pass
        over the lanes of the queues it serves, each at the profile level it serves it at.

        Same condition as :meth:`offers_for_contact`: no other agent can have become able to take anything.
        """
        if state.waiting == 0 or not state.is_free(agent_id):
            return []
        lanes: list[list[Lane]] = [[] for _ in state.levels]
        queue_lanes = state.queue_lanes
        for q, index in state.agent_levels[agent_id]:
            of_queue = queue_lanes.get(q)
            if of_queue:
                lanes[index].extend(of_queue)
        return self._pass(state, now, lanes, max_offers)

    def _pass(
        self,
        state: RoutingState,
        now: float,
        lanes: list[list[Lane]] | None,
        max_offers: int,
        only: Lane | None = None,
    ) -> list[Offer]:
        """One decision pass, level by level, over every lane (``lanes`` and ``only`` None), the lanes given
        for each level (in the order of ``state.levels``), or one lane (``only``) at every level."""
        offers: list[Offer] = []
        # The pass's scratch. The contacts it offered and the offers it promised each agent are marked on
        # their views with this pass's number (ContactView.offered_in, AgentView.promised_in): nothing to
        # look up, nothing to empty. Queue -> agent last offered one of its contacts is kept from pass to
        # pass (emptied here).
        token = PASSES.next()
        last_offered = self._last_offered
        if last_offered:
            last_offered.clear()
        for index in range(len(state.levels)):
            one = only
            if one is None and lanes is not None and len(lanes[index]) == 1:
                one = lanes[index][0]
            if one is not None:
                # One lane (the lane-local case): its contacts in line order, no ordering across lanes.
                cursor = self._cursor(state, one, index)
                if cursor is None:
                    continue
                head = cursor.head(token)
                self._drain(state, cursor, head, now, offers, token, last_offered, max_offers)
                cursor.restore()
                if len(offers) >= max_offers:
                    break
                continue
            cursors: list[_Cursor] = []
            heads: list[ContactView | None] = []
            for lane in list(state.lanes.values()) if lanes is None else lanes[index]:
                found = self._cursor(state, lane, index)
                if found is None:
                    continue
                cursors.append(found)  # restored after the level even if it yields nothing
                heads.append(found.head(token))
            if len(cursors) == 1:
                self._drain(state, cursors[0], heads[0], now, offers, token, last_offered, max_offers)
            elif cursors:
                order = [
                    (-self.effective_priority(state, c, now), c.enqueued_at, c.seq, i)
                    for i, c in enumerate(heads)
                    if c is not None
                ]
                heapify(order)
                while order:
                    at = heappop(order)[3]
                    cursor = cursors[at]
                    c = cursor.head(token)
                    if c is None:
                        continue
                    if not self._take(state, c, cursor, now, offers, token, last_offered):
                        continue  # nobody at this level can take this lane's head: the lane's turn ends
                    if len(offers) >= max_offers:
                        break
                    nxt = cursor.head(token)
                    if nxt is not None:
                        entry = (-self.effective_priority(state, nxt, now), nxt.enqueued_at, nxt.seq, at)
                        heappush(order, entry)
            for cursor in cursors:
                cursor.restore()
            if len(offers) >= max_offers:
                break
        return offers

    @staticmethod
    def _cursor(state: RoutingState, lane: Lane, index: int) -> _Cursor | None:
        """The cursor over ``lane`` at level ``index`` (made on first use, then kept on the lane), or None
        if the lane has nobody waiting or nobody free at that level."""
        heap = lane.heap
        if not heap:
            return None  # an empty lane has nothing to restore
        bucket = lane.buckets[index]
        if bucket is None or not bucket.heap:
            return None
        kept = lane.cursors[index]
        if kept is not None:
            return cast(_Cursor, kept)
        queue = lane.queue
        if queue is None:
            queue = state.queues[lane.key[0]]  # (not in the config: a KeyError, as ever)
        cursor = _Cursor(lane, queue, bucket, lane.key[0] in state.timed_queues)
        lane.cursors[index] = cursor  # reused by later passes: empty between passes
        return cursor

    def _drain(
        self,
        state: RoutingState,
        cursor: _Cursor,
        c: ContactView | None,
        now: float,
        offers: list[Offer],
        token: int,
        last_offered: dict[str, str],
        max_offers: int,
    ) -> None:
        """Offer one lane's contacts in line order from its head ``c``, until nobody at this level can take
        the head (the lane's turn ends) or the pass has ``max_offers``."""
        bucket = cursor.bucket
        channel = cursor.key[1]
        while c is not None:
            if not self._take(state, c, cursor, now, offers, token, last_offered):
                return
            if len(offers) >= max_offers:
                return
            if len(bucket.heap) == 1:
                # One free agent at this level (often so when agents are busy): once it has no room left on
                # the lane's channel, no contact of the lane can go, so the lane's turn ends here.
                only = bucket.heap[0].agent
                if not state.has_room(only, state.spec_of(only), channel, _promised_to(only, token)):
                    return
            c = cursor.head(token)

    def _take(
        self,
        state: RoutingState,
        c: ContactView,
        cursor: _Cursor,
        now: float,
        offers: list[Offer],
        token: int,
        last_offered: dict[str, str],
    ) -> bool:
        """Offer the lane head ``c`` to the agent the strategy picks, or skip it if it waits for its
        preferred agent. Returns False if neither: the lane's turn at this level ends."""
        agent, restricted = self._choose(state, c, cursor, now, token, last_offered)
        if agent is None:
            if restricted:
                cursor.skip()  # waits for its preferred agent; the contacts behind it may go
            return restricted
        offers.append(
            Offer(
                contact_id=c.id,
                agent_id=agent.id,
                queue=c.queue,
                channel=c.channel,
                expires_at=now + cursor.timeout,
                lane=cursor.key,
                passed=tuple(cursor.passed) if cursor.passed else (),
                contact=c,
                agent=agent,
            )
        )
        c.offered_in = token
        per = _promised_to(agent, token)
        if per is None:
            agent.promised_in = token
            agent.promised = {c.channel: 1}
        else:
            per[c.channel] = per.get(c.channel, 0) + 1
        if cursor.queue.strategy == Strategy.ROUND_ROBIN:  # the only reader of last_offered
            last_offered[c.queue] = agent.id
        return True

    @staticmethod
    def effective_priority(state: RoutingState, c: ContactView, now: float) -> float:
        """The contact's priority plus what aging has added."""
        return c.priority + state.queues[c.queue].aging.boost(now - c.enqueued_at)

    def _choose(
        self,
        state: RoutingState,
        c: ContactView,
        cursor: _Cursor,
        now: float,
        token: int,
        last_offered: dict[str, str],
    ) -> tuple[AgentView | None, bool]:
        """The agent to offer ``c`` (the head of ``cursor``'s lane) to at this level, and whether ``c`` may
        go only to one agent."""
        bucket = cursor.bucket
        queue = cursor.queue
        waited = now - c.enqueued_at
        requirements = queue.requirements_at(waited) if queue.escalation else queue.requirements
        if c.skills:
            requirements = merge(requirements, c.skills)
        eligible = self._eligible
        eligible.reset(state, c, cursor.timed, now, waited, requirements, token)
        if c.preferred_agent and c.preferred_until > now:
            preferred = state.agents.get(c.preferred_agent)
            if preferred is not None and preferred.state != AgentState.OFFLINE:
                if bucket and preferred.id in bucket and eligible.check(preferred):
                    return preferred, True
                return None, True
        if not bucket:
            return None, False
        if queue.strategy == Strategy.LONGEST_IDLE:
            # Least work first (it matters on multi-contact channels), then longest idle.
            return _longest_idle(bucket, eligible, token), False
        candidates = [a for a in bucket.values() if eligible.check(a)]
        if not candidates:
            return None, False
        return self._pick(state, queue, candidates, requirements, token, last_offered), False

    def _pick(
        self,
        state: RoutingState,
        queue: Queue,
        candidates: list[AgentView],
        requirements: Requirements,
        token: int,
        last_offered: dict[str, str],
    ) -> AgentView:
        """Apply the queue's strategy (other than longest-idle, which the index walks) to eligible agents."""
        strategy = queue.strategy

        def load(a: AgentView) -> int:
            return a.total_load + _promised_count(a, token)

        if strategy == Strategy.MOST_SKILLED:
            specs = state.specs
            return min(
                candidates,
                key=lambda a: (-proficiency(specs[a.id].skills, requirements), load(a), a.idle_since, a.id),
            )
        if strategy == Strategy.LEAST_OCCUPIED:
            specs = state.specs
            return min(
                candidates,
                key=lambda a: (load(a) / max(1, specs[a.id].total_capacity), a.idle_since, a.id),
            )
        if strategy == Strategy.ROUND_ROBIN:
            last = last_offered.get(queue.name) or state.last_offered.get(queue.name, "")
            return min(candidates, key=lambda a: (a.id <= last, a.id))
        candidates.sort(key=lambda a: a.id)
        return self.rng.choice(candidates)

    # -- timers -----------------------------------------------------------------------------------

    def due(self, state: RoutingState, now: float) -> list[TimerAction]:
        """The timers that have fallen due: expired offers, ended wrap-ups, contacts past max wait.

        Entries stay in the state's heaps until the contact moves on, so a commit that fails is
        retried on the next call.
        """
        actions: list[TimerAction] = []
        for heap, live in state.timer_heaps():
            kept = []
            while heap and heap[0][0] <= now:
                entry = heappop(heap)
                c = live(entry)
                if c is not None:
                    actions.append(self._timer_action(state, heap, c))
                    kept.append(entry)
            for entry in kept:
                heappush(heap, entry)
        return actions

    @staticmethod
    def _timer_action(state: RoutingState, heap: list, c: ContactView) -> TimerAction:
        if heap is state.offer_expiries:
            return ExpireOffer(contact_id=c.id, agent_id=c.agent, offer_id=c.offer_id)
        if heap is state.wrapup_ends:
            return EndWrapup(contact_id=c.id, agent_id=c.agent)
        max_wait = state.queues[c.queue].max_wait
        assert max_wait is not None  # armed only for queues with a max wait
        target = max_wait.queue if max_wait.action == MaxWaitAction.OVERFLOW else None
        return Overflow(contact_id=c.id, from_queue=c.queue, to_queue=target)

    def next_deadline(self, state: RoutingState, now: float) -> float | None:
        """The earliest time after ``now`` at which a timer falls due or a new offer may become possible."""
        best = state.next_timer()
        if state.waiting and state.any_free():
            timed = state.timed_queues
            for lane in list(state.lanes.values()) if timed else []:
                if lane.key[0] not in timed:
                    continue  # its contacts never escalate nor pass a profile delay
                c = state.lane_head(lane)
                if c is not None:
                    best = min(best, self._next_change(state, c, now))
            until = state.next_backoff_end(now)
            if until is not None and until < best:
                best = until
            until = state.next_preference_end(now)
            if until is not None and until < best:
                best = until
        return None if best == math.inf else max(best, now)

    @staticmethod
    def _next_change(state: RoutingState, c: ContactView, now: float) -> float:
        """When this waiting contact next escalates or passes a profile delay."""
        queue = state.queues[c.queue]
        waited = now - c.enqueued_at
        best = math.inf
        for step in queue.escalation:
            if step.after > waited:
                best = min(best, _when_waited(c.enqueued_at, step.after))
                break
        for delay in state.queue_delays.get(c.queue, ()):
            if delay > waited:
                best = min(best, _when_waited(c.enqueued_at, delay))
                break
        return best  # aging only reorders contacts: it never makes a new offer possible


def _when_waited(since: float, seconds: float) -> float:
    """The first time ``t`` at which ``t - since >= seconds`` holds in floating point.

    ``since + seconds`` can be one ulp short (``(since + seconds) - since < seconds``): a deadline there
    would find nothing changed and be due again at once, for ever.
    """
    t = since + seconds
    while t - since < seconds:
        t = math.nextafter(t, math.inf)
    return t
