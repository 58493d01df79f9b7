"""Timeline entries and cases: what happened with a customer, as typed values with a stable JSON form.

Pure: no I/O. Entries are stored as JSON in the customer's timeline list; :meth:`Entry.to_json` is
``{"kind": "message", "v": 1, "at": "2026-...Z", "channel": ..., "agent": ..., "contact": ..., "data": {...}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ENTRY_VERSION = 1


class EntryKind(StrEnum):
    CONTACT_STARTED = "contact.started"  # data: queue, skills, case, continued
    CONTACT_ENDED = "contact.ended"  # data: outcome (completed, abandoned)
    MESSAGE = "message"  # data: who (customer, agent, system), text
    IVR_CHOICE = "ivr.choice"  # data: menu, choice
    FIELD = "field"  # data: name, value (a collected field)
    TRANSFER = "transfer"  # data: from_queue, and to_queue or (a call sent out of the center) to_uri
    DISPOSITION = "disposition"  # data: code
    NOTE = "note"  # data: text (wrap-up note)
    SURVEY = "survey"  # data: score (1-5), question
    LINK = "link"  # data: identifier
    MERGE = "merge"  # data: merge, into, other
    UNMERGE = "unmerge"  # data: merge, into, other


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One timeline entry."""

    kind: EntryKind
    at: float  # seconds since the epoch
    channel: str = ""
    agent: str = ""
    contact: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    customer: str = ""  # the profile whose timeline holds it (set when read back)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "v": ENTRY_VERSION,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "ts": self.at,
            "channel": self.channel,
            "agent": self.agent,
            "contact": self.contact,
            "data": dict(self.data),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, d: dict[str, Any], customer: str = "") -> Entry:
        at = d["ts"] if "ts" in d else datetime.fromisoformat(d["at"]).timestamp()
        return cls(
            kind=EntryKind(d["kind"]),
            at=float(at),
            channel=d.get("channel", ""),
            agent=d.get("agent", ""),
            contact=d.get("contact", ""),
            data=dict(d.get("data") or {}),
            customer=customer,
        )

    @classmethod
    def loads(cls, text: str, customer: str = "") -> Entry:
        return cls.from_json(json.loads(text), customer)


def message(at: float, who: str, text: str, *, channel: str, contact: str, agent: str = "") -> Entry:
    """A chat message; ``who`` is customer, agent or system."""
    return Entry(kind=EntryKind.MESSAGE, at=at, channel=channel, agent=agent, contact=contact,
                 data={"who": who, "text": text})


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A customer's current (or last) case: what continuity reuses when they come back."""

    id: str
    opened_at: float
    updated_at: float
    channel: str
    queue: str
    skills: str  # encoded requirements (skills.model.encode)
    last_agent: str
    contact: str  # the case's latest contact
    contacts: int  # how many contacts the case has had

    def is_open(self, now: float, window: float) -> bool:
        """Whether a contact arriving at ``now`` continues this case."""
        return now - self.updated_at <= window

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Case | None:
        if not h or not h.get("id"):
            return None
        return cls(
            id=h["id"],
            opened_at=float(h.get("opened_at") or 0),
            updated_at=float(h.get("updated_at") or 0),
            channel=h.get("channel", ""),
            queue=h.get("queue", ""),
            skills=h.get("skills", ""),
            last_agent=h.get("last_agent", ""),
            contact=h.get("contact", ""),
            contacts=int(h.get("contacts") or 0),
        )

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}
