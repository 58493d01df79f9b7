"""What an IVR flow asks the telephony layer to do, and nothing else.

The interpreter (:mod:`ivr.flow`) is pure: fed a call's events (started, a DTMF digit, a prompt that
finished playing, a timer that came due, a recording that ended), it returns a list of these actions. The
telephony worker carries them out on the call and feeds the results back. A unit test steps a flow with
fake digits and a fake clock and reads the actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Play:
    """Play a prompt (a WAV file); report :meth:`prompt_finished` when it ends.

    ``interruptible``: a DTMF digit stops it (menus and collects); the digit still counts.
    """

    prompt: str  # the prompt's name in routing.yaml
    path: str  # the WAV file
    interruptible: bool = False


@dataclass(frozen=True, slots=True)
class StopPlay:
    """Stop whatever is playing (a digit came in during an interruptible prompt)."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Arm the call's timer: call the flow's ``timer`` at ``until`` unless an event comes first."""

    until: float


@dataclass(frozen=True, slots=True)
class Enqueue:
    """The caller leaves the flow for a queue, with everything gathered on the way."""

    queue: str
    channel: str = "voice"
    priority: int | None = None  # None: the queue's
    skills: Mapping[str, int] = field(default_factory=dict)  # requirements on top of the queue's (min level)
    language: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)  # collected digits, menu choices, ...


@dataclass(frozen=True, slots=True)
class Callback:
    """The caller asked to be called back: keep their place in ``queue`` and hang up."""

    queue: str
    number: str  # where to call back (the caller ID unless collected)
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind-transfer the call to a SIP URI (one on the allow-list; checked at load)."""

    uri: str


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller to ``path`` (8 kHz mono WAV) for at most ``max_seconds``; a digit or hangup ends it."""

    path: str
    max_seconds: float
    queue: str  # the voicemail contact goes to this queue
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str  # "completed", "closed", "no_input", "invalid_input", ...


Action = Play | StopPlay | Wait | Enqueue | Callback | Transfer | Record | Hangup
