"""Queue announcements while a caller waits: position, estimated wait, and the callback offer. Pure.

The telephony worker calls :meth:`Announcer.tick` once a second with the caller's :class:`QueueStatus`.
An announcement is due on the first tick, then whenever ``frequency`` seconds have passed or the position
changed since the last one, but never sooner than ``min_frequency`` after it. The estimated wait is
``position x mean recent handle time / agents serving the queue``, rounded to the nearest minute (at least
one).

Numbers are spoken from pre-rendered pieces, not synthesised at call time: ``omniroute prompts build``
renders ``number_1`` ... ``number_99`` in every language next to the text prompts, and a sentence is a list
of prompts ("position_is", "number_3", "in_line"). No text-to-speech runs while calls are up, and a
recorded voice can replace any piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.actions import Action, Callback, Play, StopPlay
from ivr.config import Announce, IvrConfig


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """Where the caller stands: read from the router each second."""

    position: int  # 1 = next to be offered
    handle_times: Sequence[float] = ()  # seconds, the queue's recently completed contacts
    agents: int = 0  # agents logged in who serve the queue


def estimated_minutes(status: QueueStatus) -> int | None:
    """The expected wait in whole minutes (at least 1), or None without handle times or agents to go on."""
    if not status.handle_times or status.agents <= 0:
        return None
    mean = sum(status.handle_times) / len(status.handle_times)
    seconds = status.position * mean / status.agents
    return max(1, int(seconds / 60 + 0.5))


class Announcer:
    """One queued caller's announcements."""

    def __init__(self, ivr: IvrConfig, queue: str, language: str, caller_id: str, attrs: dict | None = None) -> None:
        if ivr.announce is None:
            raise ValueError("ivr.announce is not configured")
        self.ivr = ivr
        self.settings: Announce = ivr.announce
        self.queue = queue
        self.language = language
        self.caller_id = caller_id
        self.attrs = dict(attrs or {})
        self.last_at: float | None = None  # when the last announcement started
        self.last_position: int | None = None

    def tick(self, now: float, status: QueueStatus) -> list[Action]:
        """Called every second while the caller waits: the prompts to play now, if an announcement is due."""
        s = self.settings
        if self.last_at is not None:
            since = now - self.last_at
            changed = status.position != self.last_position
            if since < s.min_frequency or not (changed or (s.frequency and since >= s.frequency)):
                return []
        self.last_at, self.last_position = now, status.position
        return [self._play(n) for n in self.sentence(status)]

    def sentence(self, status: QueueStatus) -> list[str]:
        """The prompt names of one announcement."""
        s = self.settings
        names: list[str] = []
        if s.position and status.position == 1:
            names.append("you_are_next")
        elif s.position and 1 < status.position <= s.max_position:
            names += ["position_is", f"number_{status.position}", "in_line"]
        minutes = estimated_minutes(status) if s.wait and status.position > 1 else None
        if minutes is not None and minutes <= 99:
            names += ["wait_is", f"number_{minutes}", "minute" if minutes == 1 else "minutes"]
        if s.callback_key:
            names.append("callback_offer")
        return names

    def digit(self, digit: str, now: float) -> list[Action]:
        """A digit while queued: the callback key leaves a callback that keeps the caller's place."""
        if not self.settings.callback_key or digit != self.settings.callback_key:
            return []
        queue = self.settings.callback_queue or self.queue
        attrs = {**self.attrs, "callback_from": self.queue}
        return [StopPlay(), Callback(queue, self.caller_id, attrs)]  # the worker hangs up after a Callback

    def _play(self, name: str) -> Play:
        return Play(name, self.ivr.prompt_path(name, self.language), interruptible=True)
