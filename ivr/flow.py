"""The IVR interpreter: one :class:`FlowSession` per call, fed the call's events, returning :mod:`ivr.actions`.

Pure: no I/O and no clock of its own; time comes only from the ``now`` arguments (seconds since the epoch), so
a test steps a flow with fake digits and a fake clock. The telephony worker creates a session with
:func:`session_for_call`, carries out the actions and feeds back what happened.

Input nodes (``menu``, ``collect``) play their prompt interruptibly; a digit during the prompt stops it
(:class:`StopPlay`) and counts. When the prompt ends the session asks for a timer (:class:`Wait`); a timer
that fires after the session moved on is ignored. What the caller chose and entered travels on the
:class:`Enqueue` (or callback/voicemail) as attributes: each menu's choice under its ``attribute``, each
collect's digits under its ``attribute``, ``ivr_flow`` and ``ivr_nodes`` (the nodes visited, in order).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.actions import Action, Callback, Enqueue, Hangup, Play, Record, StopPlay, Transfer, Wait
from ivr.config import FlowNode, IvrConfig, NodeType
from router.config.model import Config
from router.errors import IvrError

log = logging.getLogger(__name__)
MAX_STEPS = 256  # pass-through nodes in a row; load-time validation makes this unreachable


def is_open(node: FlowNode, now: float) -> bool:
    """Whether an ``hours`` node is open at ``now``: a weekday span in its time zone, and not a holiday."""
    local = dt.datetime.fromtimestamp(now, ZoneInfo(node.timezone))
    if local.date() in node.holidays:
        return False
    minute = local.hour * 60 + local.minute
    return any(lo <= minute < hi for lo, hi in node.week.get(local.weekday(), ()))


class FlowSession:
    """One caller's walk through a flow."""

    def __init__(self, ivr: IvrConfig, flow: str, caller_id: str, called: str = "", call_id: str = "") -> None:
        if flow not in ivr.flows:
            raise IvrError(f"no IVR flow '{flow}' (flows: {', '.join(ivr.flows) or 'none'})")
        self.ivr = ivr
        self.flow = ivr.flows[flow]
        self.caller_id = caller_id
        self.called = called
        self.call_id = call_id or uuid.uuid4().hex
        self.language = ivr.language
        self.chosen_language = ""  # set by a ``set`` node; goes on the Enqueue
        self.priority: int | None = None
        self.skills: dict[str, int] = {}
        self.attrs: dict[str, str] = {"ivr_flow": flow}
        self.visited: list[str] = []
        self.node: FlowNode | None = None
        self.phase = "idle"  # idle | playing | prompt | input | invalid | recording | done
        self.tries = 0  # failed attempts at the current input node
        self.digits = ""  # collect: what was entered so far
        self.deadline: float | None = None

    # -- events --------------------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """The call is answered and media flows."""
        if self.phase != "idle":
            return []
        return self._enter(self.flow.start, now)

    def digit(self, digit: str, now: float) -> list[Action]:
        """A DTMF digit from the caller."""
        node = self.node
        if node is None or self.phase not in ("prompt", "input", "invalid") or node.type not in (
            NodeType.MENU,
            NodeType.COLLECT,
        ):
            return []
        out: list[Action] = [StopPlay()] if self.phase in ("prompt", "invalid") else []
        self.phase = "input"
        self.deadline = None
        if node.type is NodeType.MENU:
            return out + self._menu_digit(node, digit, now)
        return out + self._collect_digit(node, digit, now)

    def prompt_finished(self, now: float) -> list[Action]:
        """The prompt the session asked for has ended."""
        node = self.node
        if node is None:
            return []
        if self.phase == "playing":
            return self._after_prompt(node, now)
        if self.phase in ("prompt", "invalid"):
            if self.phase == "invalid":  # the invalid-input prompt ended: the menu again
                return self._ask(node)
            self.phase = "input"
            self.deadline = now + node.timeout
            return [Wait(self.deadline)]
        return []

    def timer(self, now: float) -> list[Action]:
        """The timer asked for by the last :class:`Wait` came due (a stale one is ignored)."""
        node = self.node
        if node is None or self.phase != "input" or self.deadline is None or now < self.deadline:
            return []
        self.deadline = None
        if node.type is NodeType.COLLECT and len(self.digits) >= node.min_digits:
            return self._collected(node, now)
        return self._failed(node, "no_input", now)

    def recording_finished(self, path: str, now: float) -> list[Action]:
        """The voicemail recording ended (the worker has left the voicemail contact)."""
        node = self.node
        if node is None or self.phase != "recording":
            return []
        if node.next:
            return self._enter(node.next, now)
        self.phase = "done"
        return [Hangup("voicemail")]

    def hangup(self, now: float) -> list[Action]:
        """The caller hung up; the session is over."""
        self.phase = "done"
        self.deadline = None
        return []

    @property
    def done(self) -> bool:
        return self.phase == "done"

    # -- stepping ------------------------------------------------------------------------------------

    def _play(self, name: str, *, interruptible: bool) -> Play:
        return Play(name, self.ivr.prompt_path(name, self.language), interruptible)

    def _enter(self, name: str, now: float) -> list[Action]:
        for _ in range(MAX_STEPS):
            node = self.flow.nodes[name]
            self.node, self.tries, self.digits, self.deadline = node, 0, "", None
            self.visited.append(name)
            if node.type is NodeType.HOURS:
                name = node.open if is_open(node, now) else node.closed
                continue
            if node.type is NodeType.SET:
                self._apply(node)
                name = node.next
                continue
            if node.type in (NodeType.MENU, NodeType.COLLECT):
                return self._ask(node)
            if node.prompt:  # play, queue, callback, transfer, voicemail, hangup: the prompt first
                self.phase = "playing"
                return [self._play(node.prompt, interruptible=False)]
            return self._after_prompt(node, now)
        raise IvrError(f"flow '{self.flow.name}': more than {MAX_STEPS} nodes without input")

    def _ask(self, node: FlowNode) -> list[Action]:
        self.phase = "prompt"
        self.digits = ""
        return [self._play(node.prompt, interruptible=True)]

    def _after_prompt(self, node: FlowNode, now: float) -> list[Action]:
        kind = node.type
        if kind is NodeType.PLAY:
            return self._enter(node.next, now)
        self.phase = "done"
        if kind is NodeType.QUEUE:
            skills = dict(self.skills)
            for skill, level in node.skills.items():
                skills[skill] = max(level, skills.get(skill, 0))
            priority = node.priority if node.priority is not None else self.priority
            return [Enqueue(node.queue, "voice", priority, skills, self.chosen_language, self._gathered())]
        if kind is NodeType.CALLBACK:
            number = self.attrs.get(node.number_attribute, "") if node.number_attribute else ""
            return [Callback(node.queue, number or self.caller_id, self._gathered())]
        if kind is NodeType.TRANSFER:
            return [Transfer(node.uri)]
        if kind is NodeType.VOICEMAIL:
            self.phase = "recording"
            path = str(Path(self.ivr.voicemail_dir) / f"{self.call_id}.wav")
            return [Record(path, node.max_seconds, node.queue, self._gathered())]
        return [Hangup(node.reason)]

    def _apply(self, node: FlowNode) -> None:
        if node.priority is not None:
            self.priority = node.priority
        self.skills.update(node.skills)
        if node.language:
            self.language = self.chosen_language = node.language
        self.attrs.update(node.attrs)

    def _gathered(self) -> dict[str, str]:
        return {**self.attrs, "ivr_nodes": ">".join(self.visited), "language": self.language}

    def _menu_digit(self, node: FlowNode, digit: str, now: float) -> list[Action]:
        target = node.options.get(digit)
        if target is None:
            return self._failed(node, "invalid_input", now)
        self.attrs[node.attribute or node.name] = target
        return self._enter(target, now)

    def _collect_digit(self, node: FlowNode, digit: str, now: float) -> list[Action]:
        if node.terminator and digit == node.terminator:
            if len(self.digits) >= node.min_digits:
                return self._collected(node, now)
            return self._failed(node, "invalid_input", now)
        if not digit.isdigit():
            return self._failed(node, "invalid_input", now)
        self.digits += digit
        if len(self.digits) >= node.max_digits:
            return self._collected(node, now)
        self.deadline = now + node.timeout
        return [Wait(self.deadline)]

    def _collected(self, node: FlowNode, now: float) -> list[Action]:
        self.attrs[node.attribute] = self.digits
        log.debug("call %s: collected %s (%d digits)", self.call_id, node.attribute, len(self.digits))
        return self._enter(node.next, now)

    def _failed(self, node: FlowNode, reason: str, now: float) -> list[Action]:
        """A timeout or invalid input: replay (after the invalid prompt), or the fallback after the retries."""
        self.tries += 1
        self.digits = ""
        if self.tries > node.retries:
            log.info("call %s: %s at %s, %s", self.call_id, reason, node.name, node.fallback or "hanging up")
            if node.fallback:
                return self._enter(node.fallback, now)
            self.phase = "done"
            return [Hangup(reason)]
        if reason == "invalid_input" and node.invalid:
            self.phase = "invalid"
            return [self._play(node.invalid, interruptible=True)]
        return self._ask(node)


def session_for_call(config: Config, caller_id: str, called: str) -> FlowSession:
    """The session a new call starts: the flow of the number dialled (``ivr.entry``), else the default flow."""
    ivr = config.ivr
    if not isinstance(ivr, IvrConfig) or not ivr.flows:
        raise IvrError(f"{config.source}: ivr: no flows configured, so a call has nothing to run")
    return FlowSession(ivr, ivr.flow_for(called).name, caller_id, called)
