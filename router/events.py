"""Lifecycle events: what the Redis scripts append to the event stream, as typed values.

Every state change appends one entry to ``or:{tenant}:events`` with the fields ``type``, ``at`` (seconds
since the epoch), ``contact`` and ``agent`` (JSON snapshots of both after the change, with a version
number) and a few extras (``reason``, ``waited``, ``from_queue``, ``disposition``, ``note``,
``offer_id``, ``from_state``). Routers mirror state from it; reports, timelines and the simulator's
replay read it. The JSON form (:meth:`Event.to_json`) is ``{"type": "contact.offered", "v": 1, ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from router.lifecycle import AgentState, ContactState
from router.state import AgentView, ContactView
from skills.model import decode

EVENT_VERSION = 1
_ENVELOPE = frozenset({"type", "at", "contact", "agent", "cid", "cv", "aid", "av"})


class EventType(StrEnum):
    CONTACT_ARRIVED = "contact.arrived"
    CONTACT_OFFERED = "contact.offered"
    CONTACT_ACCEPTED = "contact.accepted"
    CONTACT_REJECTED = "contact.rejected"
    CONTACT_OFFER_EXPIRED = "contact.offer_expired"
    CONTACT_OFFER_REVOKED = "contact.offer_revoked"
    CONTACT_COMPLETED = "contact.completed"
    CONTACT_DONE = "contact.done"
    CONTACT_ABANDONED = "contact.abandoned"
    CONTACT_TRANSFERRED = "contact.transferred"
    CONTACT_REQUEUED = "contact.requeued"
    CONTACT_OVERFLOWED = "contact.overflowed"
    CONTACT_CALLBACK_REQUESTED = "contact.callback_requested"  # a queued caller left a number; keeps its place
    AGENT_STATE_CHANGED = "agent.state_changed"


def contact_from_fields(d: dict[str, Any]) -> ContactView:
    """A ContactView from a contact hash (all values strings, as Redis keeps them)."""
    return ContactView(
        id=d["id"],
        queue=d["queue"],
        channel=d["channel"],
        priority=int(d.get("priority") or 0),
        enqueued_at=float(d["enqueued_at"]),
        seq=int(d["seq"]),
        queued_at=float(d.get("queued_at") or d["enqueued_at"]),
        state=ContactState(d["state"]),
        customer=d.get("customer", ""),
        skills=decode(d.get("skills", "")),
        preferred_agent=d.get("preferred_agent", ""),
        preferred_until=float(d.get("preferred_until") or 0),
        agent=d.get("agent", ""),
        offer_id=d.get("offer_id", ""),
        offer_expires=float(d.get("offer_expires") or 0),
        wrapup_until=float(d.get("wrapup_until") or 0),
        ver=int(d.get("ver") or 0),
    )


def agent_from_fields(d: dict[str, Any]) -> AgentView:
    """An AgentView from an agent hash."""
    return AgentView(
        id=d["id"],
        state=AgentState(d.get("state") or "offline"),
        reason=d.get("reason", ""),
        idle_since=float(d.get("idle_since") or 0),
        backoff_until=float(d.get("backoff_until") or 0),
        missed=int(d.get("missed") or 0),
        load={k[5:]: int(v) for k, v in d.items() if k.startswith("load:") and int(v)},
        ver=int(d.get("ver") or 0),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One lifecycle event, as read from the stream."""

    id: str  # the stream entry id
    type: EventType
    at: float
    contact: dict[str, str] | None = None  # the contact hash after the change
    agent: dict[str, str] | None = None  # the agent hash after the change
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> Event:
        contact = fields.get("contact") or ""
        agent = fields.get("agent") or ""
        extra = {k: v for k, v in fields.items() if k not in _ENVELOPE}
        return cls(
            id=entry_id,
            type=EventType(fields["type"]),
            at=float(fields["at"]),
            contact=_object(contact),
            agent=_object(agent),
            extra=extra,
        )

    def contact_view(self) -> ContactView | None:
        return contact_from_fields(self.contact) if self.contact else None

    def agent_view(self) -> AgentView | None:
        return agent_from_fields(self.agent) if self.agent else None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (times as UTC ISO-8601)."""
        out: dict[str, Any] = {
            "type": str(self.type),
            "v": EVENT_VERSION,
            "id": self.id,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
        }
        if self.contact:
            out["contact"] = dict(self.contact)
        if self.agent:
            out["agent"] = dict(self.agent)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        known = {"type", "v", "id", "at", "contact", "agent"}
        return cls(
            id=data.get("id", ""),
            type=EventType(data["type"]),
            at=datetime.fromisoformat(data["at"]).timestamp(),
            contact=data.get("contact"),
            agent=data.get("agent"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _object(text: str) -> dict[str, str] | None:
    if not text:
        return None
    value = orjson.loads(text)
    # cjson encodes an empty table as {}: treat it as absent.
    return value if isinstance(value, dict) and value else None
