"""Continuity: what a returning customer's open case means for their new contact. Pure.

The gateway (or the IVR) asks before it enqueues: with an open case and a ``reuse_queue`` rule for the
new contact's channel, the contact goes straight to the case's queue (a caller skips the IVR menu), and
the case's last agent is preferred on any channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from customers.config import CustomersConfig
from customers.timeline import Case


@dataclass(frozen=True, slots=True, kw_only=True)
class Continuity:
    case: Case | None  # the open case the contact continues (None: a new case)
    queue: str = ""  # the queue to use instead of the channel's usual entry ('' : no change)
    skills: str = ""  # encoded requirements to reuse ('' : none)
    last_agent: str = ""  # the agent who last handled the case ('' : none)


def continuity(case: Case | None, channel: str, now: float, config: CustomersConfig) -> Continuity:
    """What continues for a contact on ``channel`` arriving at ``now``."""
    if case is None or not case.is_open(now, config.continuity_window):
        return Continuity(case=None)
    rule = config.rule(channel)
    return Continuity(
        case=case,
        queue=case.queue if rule.reuse_queue else "",
        skills=case.skills if rule.reuse_skills else "",
        last_agent=case.last_agent,
    )
