"""The contact and agent lifecycles, as tables.

Every state change of a contact or an agent is listed here, and nowhere else. A move that isn't in
the table raises :class:`~router.errors.IllegalTransition`. The Redis scripts are told which states a
move may start from by :func:`contact_sources` (the store passes them in ARGV), so the Lua and the
in-memory simulator check against the same table.

Theory of operation::

    queued ──offer──► offered ──accept──► connected ──complete──► wrapup ──end_wrapup──► done
      ▲  │              │  │                 │
      │  │   reject/expire/revoke            └──transfer──► queued (another queue)
      │  │              │  └──abandon──► abandoned
      └──┼──────────────┘
         ├──abandon──► abandoned
         ├──overflow──► queued (the overflow queue, same place in line)
         └──overflow_end──► overflowed

A rejected, expired or revoked offer returns the contact to ``queued`` with its original enqueue
time and sequence number, so it keeps its place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from router.errors import IllegalTransition


class ContactState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAPUP = "wrapup"
    DONE = "done"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"


class ContactEvent(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    EXPIRE = "expire"
    REVOKE = "revoke"  # the router or the agent's disconnect takes an offer back
    COMPLETE = "complete"
    END_WRAPUP = "end_wrapup"
    ABANDON = "abandon"
    TRANSFER = "transfer"
    REQUEUE = "requeue"  # a connected contact goes back in line in its place (agent lost for good)
    OVERFLOW = "overflow"
    OVERFLOW_END = "overflow_end"


class AgentState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    AWAY = "away"


class AgentEvent(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


_C = ContactState
_E = ContactEvent

# Finals: compiled (mypyc), a final is a C static, a module global a dict lookup per use.
CONTACT_TRANSITIONS: Final[dict[ContactState, dict[ContactEvent, ContactState]]] = {
    _C.QUEUED: {
        _E.OFFER: _C.OFFERED,
        _E.ABANDON: _C.ABANDONED,
        _E.OVERFLOW: _C.QUEUED,
        _E.OVERFLOW_END: _C.OVERFLOWED,
        _E.TRANSFER: _C.QUEUED,
    },
    _C.OFFERED: {
        _E.ACCEPT: _C.CONNECTED,
        _E.REJECT: _C.QUEUED,
        _E.EXPIRE: _C.QUEUED,
        _E.REVOKE: _C.QUEUED,
        _E.ABANDON: _C.ABANDONED,
    },
    _C.CONNECTED: {
        _E.COMPLETE: _C.WRAPUP,
        _E.TRANSFER: _C.QUEUED,
        _E.REQUEUE: _C.QUEUED,
    },
    _C.WRAPUP: {
        _E.END_WRAPUP: _C.DONE,
    },
    _C.DONE: {},
    _C.ABANDONED: {},
    _C.OVERFLOWED: {},
}

TERMINAL_CONTACT_STATES = frozenset(s for s, moves in CONTACT_TRANSITIONS.items() if not moves)

#: States in which a contact holds a unit of its agent's capacity.
HOLDS_CAPACITY = frozenset({_C.OFFERED, _C.CONNECTED, _C.WRAPUP})

AGENT_TRANSITIONS: Final[dict[AgentState, dict[AgentEvent, AgentState]]] = {
    AgentState.OFFLINE: {AgentEvent.AVAILABLE: AgentState.AVAILABLE, AgentEvent.AWAY: AgentState.AWAY},
    AgentState.AVAILABLE: {
        AgentEvent.AVAILABLE: AgentState.AVAILABLE,
        AgentEvent.AWAY: AgentState.AWAY,
        AgentEvent.OFFLINE: AgentState.OFFLINE,
    },
    AgentState.AWAY: {
        AgentEvent.AVAILABLE: AgentState.AVAILABLE,
        AgentEvent.AWAY: AgentState.AWAY,  # a new reason
        AgentEvent.OFFLINE: AgentState.OFFLINE,
    },
}


def next_contact_state(state: ContactState, event: ContactEvent) -> ContactState:
    """The state a contact in ``state`` moves to on ``event``.

    Raises:
        IllegalTransition: the table has no such move.
    """
    try:
        return CONTACT_TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition("contact", state, event) from None


def next_agent_state(state: AgentState, event: AgentEvent) -> AgentState:
    """The state an agent in ``state`` moves to on ``event``.

    Raises:
        IllegalTransition: the table has no such move.
    """
    try:
        return AGENT_TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition("agent", state, event) from None


def contact_sources(event: ContactEvent) -> tuple[ContactState, ...]:
    """The states from which a contact may take ``event`` (what a script must check)."""
    return tuple(s for s, moves in CONTACT_TRANSITIONS.items() if event in moves)
