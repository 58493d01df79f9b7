"""An IVR worker process: one SIP port, at most 4 legs, the flow, the queue, and the bridge to the agent.

The worker answers callers (486 when it holds ``callers_per_worker`` callers, so Kamailio tries another
worker), runs each caller's IVR flow (:mod:`ivr.actions` are what it carries out), and on
:class:`~ivr.actions.Enqueue` puts the contact in the router with music on hold. It follows the router's
event stream for the contacts it holds: on ``contact.accepted`` it dials the agent's ``sip_uri`` and bridges
the two legs; a phone that does not answer within the queue's offer timeout sends the contact back to its
place (:meth:`RouterClient.no_answer`). A caller who hangs up while queued abandons the contact; either side
hanging up a bridged call completes it. Its free legs and the contacts of its callers are kept in Redis
(``tel_beat``/``tel_hold`` scripts) for Kamailio's operators and for the pool, which ends the contacts of a
worker that died.

Run by :mod:`telephony.pool` as ``python -m telephony.worker --config routing.yaml --redis URL --index N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import RedisError

from customers.config import settings as customer_settings
from customers.continuity import continuity
from customers.store import CustomerError, CustomerStore
from customers.timeline import Entry, EntryKind
from ivr.actions import Callback, Enqueue, Hangup, Play, Record, StopPlay, Transfer, Wait
from ivr.announce import Announcer, QueueStatus
from ivr.config import REJOIN_PROMPT
from router.client import RouterClient
from router.config.loader import load
from router.config.model import Config
from router.errors import StaleDecision
from router.events import Event, EventType
from router.state import agent_queues
from router.stats import HandleTimes, agent_states, serving_agents
from router.store import RedisStore, connect
from skills.model import SkillRequirement
from telephony import endpoint as sip
from telephony.config import RTP_PORTS_PER_WORKER, TelephonyConfig
from telephony.events import follow
from telephony.state import (
    CDR_TTL,
    DEFAULT_FLOW,
    HOLD_TTL,
    SCRIPTS,
    call_key,
    claim_key,
    rejoin_key,
    worker_contacts_key,
    worker_id,
    worker_key,
)

log = logging.getLogger(__name__)


class FlowSession(Protocol):
    """What the worker needs of an IVR flow (:class:`ivr.flow.FlowSession`): events in, actions out."""

    def start(self, now: float) -> list: ...
    def digit(self, digit: str, now: float) -> list: ...
    def prompt_finished(self, now: float) -> list: ...
    def timer(self, now: float) -> list: ...
    def recording_finished(self, path: str, now: float) -> list: ...
    def hangup(self, now: float) -> list: ...


FlowFactory = Callable[[Config, str, str], FlowSession]  # (config, caller ID, number dialled) -> session


def load_flow_factory(spec: str) -> FlowFactory:
    """``module:function`` -> the function that starts a caller's flow."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"telephony worker: cannot load the IVR flow factory {spec!r}: {exc}") from exc


@dataclass
class Dial:
    """An outgoing call to a customer (a callback) until it is answered."""

    answered: asyncio.Event = field(default_factory=asyncio.Event)
    media: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Caller:
    """One caller's call as the worker sees it."""

    leg: int
    caller_id: str
    called: str
    flow: FlowSession | None  # None: a callback we dialled (no IVR)
    contact_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "ivr"  # ivr | queued | dialing | bridged | ended
    queue: str = ""
    agent_id: str = ""
    agent_leg: int = 0
    timer: asyncio.TimerHandle | None = None
    prompt_token: int = 0
    recording: Record | None = None
    record_timer: asyncio.TimerHandle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    agent_media: asyncio.Event = field(default_factory=asyncio.Event)
    agent_gone: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # the caller's leg has ended
    path: list[str] = field(default_factory=list)  # digits pressed in the IVR
    stats: dict[str, str] = field(default_factory=dict)

    transferred: bool = False  # the agent sent the call out to a SIP URI: the agent leg is that URI's
    customer: str | None = None  # the customer profile (customers/), once identified
    announcer: Announcer | None = None  # position and wait announcements while queued
    prompt_done: asyncio.Event | None = None  # set when the announcement prompt playing now ends
    language: str = ""  # the IVR language chosen (prompts after the queue: announcements, survey)
    survey: asyncio.Future | None = None  # the digit answering the post-call survey

    async def gone_or(self, answer: asyncio.Future) -> str:
        """``answer``'s result, or '' when the caller hangs up first."""
        gone = asyncio.ensure_future(self.gone.wait())
        await asyncio.wait([gone, answer], return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        return answer.result() if answer.done() else ""


SURVEY_WAIT = 10.0  # seconds a caller has to answer the post-call survey
WAV_CLOSE_WAIT = 5.0  # seconds a stopped recording may take to close its WAV


class Worker:
    """The asyncio side of one worker: SIP events in, flow actions and router commands out."""

    def __init__(
        self,
        config: Config,
        store: RedisStore,
        index: int,
        flow_factory: FlowFactory,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.tel: TelephonyConfig = config.telephony
        self.store = store
        self.router = RouterClient(store, clock=clock)
        self.clock = clock
        self.index = index
        self.port = self.tel.worker_port + index
        self.id = worker_id(self.tel.host, self.port)
        self.flow_factory = flow_factory
        self.callers: dict[int, Caller] = {}  # caller leg -> caller
        self.by_agent_leg: dict[int, Caller] = {}
        self.by_contact: dict[str, Caller] = {}
        self.dials: dict[int, Dial] = {}  # callback legs ringing the customer
        self.endpoint: sip.SipEndpoint | None = None
        self._tasks: set[asyncio.Task] = set()
        store.add_scripts("telephony", SCRIPTS)
        self.profiles = CustomerStore(store.client, config.tenant, clock, customer_settings(config))
        self.handle_times = HandleTimes()  # each queue's recent handle times, for the announced wait
        self._serving_cache: tuple[float, dict[str, int]] = (0.0, {})  # (read at, queue -> agents logged in)

    # -- running ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        moh = self._music_on_hold()
        self.endpoint = sip.SipEndpoint(
            self.tel.host,
            self.port,
            rtp_port=self.tel.rtp_port + RTP_PORTS_PER_WORKER * self.index,
            max_callers=self.tel.callers_per_worker,
            on_event=self._on_sip,
            loop=loop,
            music_on_hold=moh,
            log_level=int(os.environ.get("OMNIROUTE_PJSIP_LOG", "1")),  # 5: every SIP message
        )
        await self.endpoint.start()
        follow = asyncio.create_task(self._follow_router(), name="follow")
        beat = asyncio.create_task(self._beat(stop), name="beat")
        log.info("telephony worker %s listening on %s:%d", self.id, self.tel.host, self.port)
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            started = time.monotonic()
            follow.cancel()
            beat.cancel()
            for caller in list(self.callers.values()):
                await self._end_contact(caller, "worker_stopped")
            await self.endpoint.stop()
            await self.store.client.delete(worker_key(self.store.keys.prefix, self.id))
            log.info("telephony worker %s stopped in %.2fs", self.id, time.monotonic() - started)

    def _music_on_hold(self) -> str:
        """telephony.music_on_hold (relative to routing.yaml), else the IVR's (``ivr.music_on_hold`` or the one
        ``omniroute prompts build`` makes), else none: silence while queued."""
        moh = self.tel.music_on_hold
        if moh:
            path = Path(moh) if Path(moh).is_absolute() else Path(self.config.source).resolve().parent / moh
            if not path.is_file():
                raise SystemExit(f"telephony worker: music_on_hold file {path} not found")
            return str(path)
        moh_path = getattr(self.config.ivr, "moh_path", None)
        if moh_path is not None and Path(moh_path()).is_file():
            return moh_path()
        log.warning("telephony worker %s: no music on hold file; callers wait in silence", self.id)
        return ""

    async def _beat(self, stop: asyncio.Event) -> None:
        ttl = max(2, round(self.tel.heartbeat * 3))
        while not stop.is_set():
            free, legs = await self.endpoint.run(self.endpoint.beat)
            key = worker_key(self.store.keys.prefix, self.id)
            await self.store.eval("tel_beat", [key], [self.id, free, legs, self.port, os.getpid(), self.clock(), ttl])
            await asyncio.sleep(self.tel.heartbeat)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("telephony worker task failed", exc_info=task.exception())

    # -- SIP events ---------------------------------------------------------------------------------

    def _on_sip(self, event: sip.SipEvent) -> None:
        if isinstance(event, sip.IncomingCall):
            flow = self.flow_factory(self.config, _number(event.caller), event.called)
            self.callers[event.leg] = Caller(event.leg, _number(event.caller), event.called, flow)
            return
        dial = self.dials.get(event.leg)
        if dial is not None:
            if isinstance(event, sip.Answered):
                dial.answered.set()
            elif isinstance(event, sip.MediaReady):
                dial.media.set()
            elif isinstance(event, sip.Ended):
                dial.gone.set()
            return
        caller = self.callers.get(event.leg)
        if caller is None:
            caller = self.by_agent_leg.get(event.leg)
            if caller is not None:
                self._agent_event(caller, event)
            return
        if isinstance(event, sip.MediaReady):
            if caller.flow is not None:
                self._spawn(self._begin(caller))
        elif isinstance(event, sip.Digit):
            if caller.recording is not None:  # a digit ends a recording
                self._spawn(self._recorded(caller))
            elif caller.state == "ivr":
                caller.path.append(event.digit)
                self._spawn(self._feed(caller, lambda now: caller.flow.digit(event.digit, now)))
            elif caller.state == "queued" and caller.announcer is not None:
                self._spawn(self._queued_digit(caller, event.digit))
            elif caller.state == "survey" and caller.survey is not None and not caller.survey.done():
                caller.survey.set_result(event.digit)
        elif isinstance(event, sip.PromptFinished):
            if event.token == caller.prompt_token and caller.state == "ivr":
                self._spawn(self._feed(caller, lambda now: caller.flow.prompt_finished(now)))
            elif event.token == caller.prompt_token and caller.prompt_done is not None:
                caller.prompt_done.set()
        elif isinstance(event, sip.Ended):
            self.callers.pop(event.leg, None)
            self._keep_stats(caller, "caller", event.stats)
            self._spawn(self._caller_left(caller, event))

    def _agent_event(self, caller: Caller, event: sip.SipEvent) -> None:
        if isinstance(event, sip.Answered):
            caller.answered.set()
        elif isinstance(event, sip.MediaReady):
            caller.agent_media.set()
        elif isinstance(event, sip.Ended):
            self.by_agent_leg.pop(event.leg, None)
            self._keep_stats(caller, "transfer" if caller.transferred else "agent", event.stats)
            caller.agent_gone.set()
            if caller.state == "bridged":
                self._spawn(self._agent_left(caller))
            elif caller.state == "transferred":  # the far end of the transfer hung up
                self._spawn(self._end_contact(caller, "transfer_hangup", tell_router=False, hang_up=True))

    @staticmethod
    def _keep_stats(caller: Caller, side: str, stats: sip.LegStats | None) -> None:
        if stats is not None:
            caller.stats[f"{side}_rx_packets"] = str(stats.rx_packets)
            caller.stats[f"{side}_tx_packets"] = str(stats.tx_packets)

    # -- the flow -----------------------------------------------------------------------------------

    async def _feed(self, caller: Caller, step: Callable[[float], list]) -> None:
        async with caller.lock:
            if caller.state == "ended":
                return
            actions = step(self.clock())
            for action in actions:
                await self._act(caller, action)

    async def _act(self, caller: Caller, action: Any) -> None:
        ep = self.endpoint
        if isinstance(action, Play):
            caller.prompt_token = await ep.run(ep.play, caller.leg, action.path)
        elif isinstance(action, StopPlay):
            await ep.run(ep.stop_play, caller.leg)
        elif isinstance(action, Wait):
            self._arm(caller, action.until)
        elif isinstance(action, Enqueue):
            await self._enqueue(caller, action)
        elif isinstance(action, Callback):
            await self._callback_from_menu(caller, action)
        elif isinstance(action, Transfer):
            caller.state = "ended"
            await ep.run(ep.transfer, caller.leg, action.uri)
        elif isinstance(action, Record):
            caller.recording = action
            await ep.run(ep.record, caller.leg, action.path)
            loop = asyncio.get_running_loop()
            caller.record_timer = loop.call_later(action.max_seconds, lambda: self._spawn(self._recorded(caller)))
        elif isinstance(action, Hangup):
            log.info("call %s: the IVR hangs up (%s)", caller.contact_id, action.reason)
            await ep.run(ep.hangup, caller.leg)
        else:
            raise TypeError(f"unknown IVR action {action!r}")

    def _arm(self, caller: Caller, until: float) -> None:
        if caller.timer is not None:
            caller.timer.cancel()
        delay = max(0.0, until - self.clock())
        loop = asyncio.get_running_loop()
        caller.timer = loop.call_later(delay, lambda: self._spawn(self._feed(caller, caller.flow.timer)))

    async def _recorded(self, caller: Caller) -> None:
        """The recording ended (time up, a digit, a hangup): the WAV is closed, the voicemail contact goes to
        the action's queue (channel voice, attribute ``voicemail`` = the WAV's path), and the flow is told."""
        record = caller.recording
        if record is None:
            return
        caller.recording = None
        if caller.record_timer is not None:
            caller.record_timer.cancel()
        await self.endpoint.run(self.endpoint.stop_recording, caller.leg)
        if not await _wav_closed(record.path):
            log.warning("call %s: the voicemail WAV was not closed within %.0f s", caller.contact_id, WAV_CLOSE_WAIT)
        attrs = {**self._attrs(caller, record.attrs), "voicemail": record.path}
        try:
            await self.router.enqueue(record.queue, "voice", customer=await self._customer(caller), attrs=attrs)
        except StaleDecision as exc:
            log.error("call %s: voicemail contact refused by %s (%s)", caller.contact_id, record.queue, exc)
        await self._feed(caller, lambda now: caller.flow.recording_finished(record.path, now))

    def _attrs(self, caller: Caller, extra: Any) -> dict[str, Any]:
        return {
            **dict(extra),
            "caller_id": caller.caller_id,
            "called": caller.called,
            "worker": self.id,
            "ivr_path": "".join(caller.path),
        }

    async def _enqueue(self, caller: Caller, action: Enqueue) -> None:
        skills = tuple(SkillRequirement(skill=s, min_level=lvl) for s, lvl in action.skills.items())
        if action.language:
            skills += (SkillRequirement(skill=action.language, min_level=1),)
        attrs = self._attrs(caller, action.attrs)
        if caller.timer is not None:
            caller.timer.cancel()
        await self._hold(caller, True)
        try:
            await self.router.enqueue(
                action.queue,
                action.channel,
                customer=await self._customer(caller),
                contact_id=caller.contact_id,
                priority=action.priority,
                skills=skills,
                attrs=attrs,
            )
        except StaleDecision as exc:
            await self._hold(caller, False)
            log.error("call %s: enqueue to %s refused (%s)", caller.contact_id, action.queue, exc)
            await self.endpoint.run(self.endpoint.hangup, caller.leg)
            return
        caller.state, caller.queue, caller.language = "queued", action.queue, action.language
        self.by_contact[caller.contact_id] = caller
        await self._ivr_timeline(caller, action)
        await self.endpoint.run(self.endpoint.hold_music, caller.leg, True)
        log.info("call %s queued in %s", caller.contact_id, action.queue)
        ivr = self.config.ivr
        if getattr(ivr, "announce", None) is not None:
            language = action.language or getattr(ivr, "language", "") or "en"
            caller.announcer = Announcer(ivr, action.queue, language, caller.caller_id, dict(action.attrs))
            self._spawn(self._announce(caller))

    async def _callback_from_menu(self, caller: Caller, action: Callback) -> None:
        """The flow's ``callback`` node: a new voice contact in the action's queue carrying the number to ring
        (attribute ``callback``); the caller hears no more and is let go. When an agent accepts it, a worker
        dials the number (:meth:`_dial_callback`)."""
        attrs = {**self._attrs(caller, action.attrs), "callback": action.number}
        try:
            await self.router.enqueue(action.queue, "voice", customer=await self._customer(caller), attrs=attrs)
            log.info("call %s: callback requested from the menu, waiting in %s", caller.contact_id, action.queue)
        except StaleDecision as exc:
            log.error("call %s: callback contact refused by %s (%s)", caller.contact_id, action.queue, exc)
        caller.state = "ended"
        await self.endpoint.run(self.endpoint.hangup, caller.leg)

    # -- customers, continuity, announcements -------------------------------------------------------

    async def _customer(self, caller: Caller) -> str:
        """The caller's customer profile, by caller ID (never the raw number as an id)."""
        if caller.customer is None:
            given = {"sip": caller.caller_id} if caller.caller_id else {}
            caller.customer = await self.profiles.identify(given, contact_id=caller.contact_id, strict=False)
        return caller.customer

    async def _begin(self, caller: Caller) -> None:
        """Start the call: a caller who hung up while queued less than ``ivr.rejoin_window`` ago gets that
        place back; a caller whose open case says so skips the menu and goes to the case's queue
        (``customers.continuity.voice.reuse_queue``); everyone else hears the IVR."""
        if await self._rejoin(caller):
            return
        follow_on = None
        if self.profiles.config.rule("voice").reuse_queue:
            customer = await self._customer(caller)
            follow_on = continuity(await self.profiles.case(customer), "voice", self.clock(), self.profiles.config)
        if follow_on is not None and follow_on.queue in self.config.queues:
            log.info("call %s continues case %s: straight to %s", caller.contact_id, follow_on.case.id, follow_on.queue)
            async with caller.lock:
                await self._enqueue(caller, Enqueue(queue=follow_on.queue, attrs={"continued_case": follow_on.case.id}))
            return
        await self._feed(caller, lambda now: caller.flow.start(now))

    def _rejoin_window(self) -> float:
        return float(getattr(self.config.ivr, "rejoin_window", 0.0) or 0.0)

    async def _rejoin(self, caller: Caller) -> bool:
        """A caller whose customer abandoned a queued call within the rejoin window takes its place again
        (``tel_rejoin``: a new contact with the old one's queue, sequence number and enqueue time), skips the
        menu and hears ``welcome_back`` (when declared), then music. False: nothing to rejoin."""
        window = self._rejoin_window()
        if window <= 0:
            return False
        customer = await self._customer(caller)
        if not customer:
            return False
        k = self.store.keys
        note = rejoin_key(k.prefix, customer)
        old_id = await self.store.client.get(note)
        if not old_id:
            return False
        old = await self.store.contact(old_id)
        if old.get("state") != "abandoned" or not old.get("lane") or old.get("queue") not in self.config.queues:
            return False
        keys = [note, k.contact(old_id), k.contact(caller.contact_id), k.queue(old["queue"]), old["lane"]]
        keys += [k.contacts, k.events]
        given = json.dumps({"worker": self.id, "caller_id": caller.caller_id, "called": caller.called})
        async with caller.lock:
            if caller.state != "ivr":
                return True  # gone meanwhile
            caller.state, caller.queue = "queued", old["queue"]
            self.by_contact[caller.contact_id] = caller  # before the script: an offer may follow at once
            await self._hold(caller, True)
            args = [old_id, caller.contact_id, repr(self.clock()), repr(window), self.store.maxlen, given]
            reply = await self.store.eval("tel_rejoin", keys, args)
            if reply[0] != "ok":
                caller.state, caller.queue = "ivr", ""
                self.by_contact.pop(caller.contact_id, None)
                await self._hold(caller, False)
                log.info("call %s: no place to rejoin (%s)", caller.contact_id, reply[1])
                return False
            attrs = json.loads(json.loads(reply[1]).get("attrs") or "{}")
            ivr = self.config.ivr
            caller.language = attrs.get("language") or getattr(ivr, "language", "") or "en"
            await self.endpoint.run(self.endpoint.hold_music, caller.leg, True)
        log.info("call %s rejoins %s in the place of contact %s", caller.contact_id, caller.queue, old_id)
        if REJOIN_PROMPT in getattr(ivr, "prompts", {}):
            path = ivr.prompt_path(REJOIN_PROMPT, caller.language)
            await self._speak(caller, [Play(REJOIN_PROMPT, path)])
        if getattr(ivr, "announce", None) is not None:
            caller.announcer = Announcer(ivr, caller.queue, caller.language, caller.caller_id, attrs)
            self._spawn(self._announce(caller))
        return True

    async def _note_abandon(self, caller: Caller) -> None:
        """The caller hung up while queued: their customer may take this place again within the window."""
        window = self._rejoin_window()
        if window <= 0 or not caller.customer or caller.flow is None:
            return
        keys = [rejoin_key(self.store.keys.prefix, caller.customer), self.store.keys.contact(caller.contact_id)]
        await self.store.eval("tel_left", keys, [caller.contact_id, repr(window)])

    async def _ivr_timeline(self, caller: Caller, action: Enqueue) -> None:
        """The caller's menu choices and collected fields, into the customer's timeline (channel voice)."""
        ivr = self.config.ivr
        flow = getattr(ivr, "flows", {}).get(action.attrs.get("ivr_flow", ""))
        if flow is None or not caller.customer:
            return
        now = self.clock()
        for node in flow.nodes.values():
            key = node.attribute or node.name
            if key not in action.attrs:
                continue
            if node.type == "menu":
                kind, data = EntryKind.IVR_CHOICE, {"menu": node.name, "choice": str(action.attrs[key])}
            elif node.type == "collect":
                kind, data = EntryKind.FIELD, {"name": key, "value": str(action.attrs[key])}
            else:
                continue
            entry = Entry(kind=kind, at=now, channel="voice", contact=caller.contact_id, data=data)
            with contextlib.suppress(CustomerError):
                await self.profiles.append(caller.customer, entry)

    def _queues_of(self, agent_id: str) -> Iterable[str]:
        return agent_queues(self.config, self.config.agents[agent_id])

    async def _serving(self, queue: str) -> int:
        """Agents logged in (not offline) who serve ``queue``; read at most every 5 s."""
        read_at, serving = self._serving_cache
        if self.clock() - read_at > 5.0:
            serving = serving_agents(await agent_states(self.store), self._queues_of)
            self._serving_cache = (self.clock(), serving)
        return serving.get(queue, 0)

    async def _announce(self, caller: Caller) -> None:
        """While the caller waits: each second, ask the announcer; play what it says over paused music."""
        key = self.store.keys.queue
        while caller.state == "queued" and caller.announcer is not None:
            await asyncio.sleep(1.0)
            if caller.state != "queued" or caller.announcer is None:
                return
            rank = await self.store.client.zrank(key(caller.queue), caller.contact_id)
            if rank is None:
                continue
            status = QueueStatus(
                position=rank + 1,
                handle_times=self.handle_times.recent(caller.queue),
                agents=await self._serving(caller.queue),
            )
            plays = [a for a in caller.announcer.tick(self.clock(), status) if isinstance(a, Play)]
            if plays:
                await self._speak(caller, plays)

    async def _speak(self, caller: Caller, plays: list[Play]) -> None:
        ep = self.endpoint
        async with caller.lock:
            if caller.state != "queued":
                return
            await ep.run(ep.hold_music, caller.leg, False)
            for play in plays:
                caller.prompt_done = asyncio.Event()
                caller.prompt_token = await ep.run(ep.play, caller.leg, play.path)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(caller.prompt_done.wait(), 30.0)
                if caller.state != "queued":
                    return
            caller.prompt_done = None
            await ep.run(ep.hold_music, caller.leg, True)

    async def _queued_digit(self, caller: Caller, digit: str) -> None:
        """A digit while queued: the callback key keeps the caller's place and hangs up."""
        assert caller.announcer is not None
        for action in caller.announcer.digit(digit, self.clock()):
            if isinstance(action, StopPlay):
                if caller.prompt_done is not None:
                    caller.prompt_done.set()
                await self.endpoint.run(self.endpoint.stop_play, caller.leg)
            elif isinstance(action, Callback):
                await self._callback_in_place(caller, action)

    async def _callback_in_place(self, caller: Caller, action: Callback) -> None:
        """The contact stays in line where it is, with the number to ring (``tel_callback``); the worker lets
        the caller go without abandoning it. When an agent accepts it, a worker rings the caller back."""
        keys = [self.store.keys.contact(caller.contact_id), self.store.keys.events]
        reply = await self.store.eval("tel_callback", keys, [action.number, repr(self.clock()), self.store.maxlen])
        if reply[0] != "ok":
            log.info("call %s: callback refused (%s); the caller stays on the line", caller.contact_id, reply[1])
            return
        log.info("call %s: callback requested; the contact keeps its place in %s", caller.contact_id, caller.queue)
        caller.state = "ended"
        caller.announcer = None
        self.by_contact.pop(caller.contact_id, None)
        await self._hold(caller, False)
        await self.endpoint.run(self.endpoint.hangup, caller.leg)

    async def _hold(self, caller: Caller, on: bool) -> None:
        key = worker_contacts_key(self.store.keys.prefix, self.id)
        await self.store.eval("tel_hold", [key], ["add" if on else "drop", caller.contact_id, HOLD_TTL])

    # -- the router ---------------------------------------------------------------------------------

    async def _follow_router(self) -> None:
        while True:
            try:
                async for event in follow(self.store, self.id):  # what the pool forwards to us (telephony/events.py)
                    cid = (event.contact or {}).get("id", "")
                    self.handle_times.observe(event)
                    caller = self.by_contact.get(cid)
                    if caller is not None:
                        self._spawn(self._router_event(caller, event))
                    elif event.type == EventType.CONTACT_ACCEPTED and self.tel.callback_uri:
                        self._spawn(self._dial_callback(event.contact or {}))
            except (RedisError, ConnectionError, OSError) as exc:  # Redis restarting: follow again
                log.warning("telephony worker %s: event stream lost (%s); following again", self.id, exc)
                await asyncio.sleep(0.5)

    async def _router_event(self, caller: Caller, event: Event) -> None:
        contact = event.contact or {}
        with_agent = caller.state in ("dialing", "bridged")
        if event.type == EventType.CONTACT_ACCEPTED and caller.state == "queued":
            await self._connect_agent(caller, contact.get("agent", ""))
        elif event.type in (EventType.CONTACT_OVERFLOWED, EventType.CONTACT_ABANDONED) and caller.state == "queued":
            # the contact ended without an agent (max wait): let the caller go
            await self._end_contact(caller, str(event.type), tell_router=False, hang_up=True)
        elif event.type in (EventType.CONTACT_TRANSFERRED, EventType.CONTACT_REQUEUED) and with_agent:
            await self._back_in_line(caller, contact.get("queue", caller.queue))
        elif event.type == EventType.CONTACT_COMPLETED and with_agent and event.extra.get("transfer_to"):
            await self._transfer_out(caller, event.extra["transfer_to"])
        elif event.type == EventType.CONTACT_COMPLETED and with_agent:
            await self._end_contact(caller, "agent_completed", tell_router=False, hang_up=True)

    async def _dial_callback(self, contact: dict[str, str]) -> None:
        """An agent accepted a callback contact (attribute ``callback``: the number): if this worker has a
        caller's place free and claims it first, it rings the customer (``callback_uri``), then the agent, and bridges
        them like any call. A customer who does not answer completes the contact (``callback_no_answer``)."""
        try:
            number = json.loads(contact.get("attrs") or "{}").get("callback", "")
        except ValueError:
            return
        cid, agent_id = contact.get("id", ""), contact.get("agent", "")
        if not number or not cid:
            return
        if await self.endpoint.run(self.endpoint.free_legs) < 1:
            await asyncio.sleep(2.0)  # full here: a worker with a free place claims it first; else this one
        claimed = await self.store.eval("tel_claim", [claim_key(self.store.keys.prefix, cid)], [self.id, 3600])
        if int(claimed) != 1:
            return
        deadline = asyncio.get_running_loop().time() + self.tel.callback_ring
        while await self.endpoint.run(self.endpoint.free_legs) < 1:  # wait for a place, never leave it stuck
            if asyncio.get_running_loop().time() > deadline:
                await self._complete_unreached(cid, agent_id, "callback_failed")
                return
            await asyncio.sleep(0.5)
        log.info("call %s: calling the customer back for agent %s", cid, agent_id)
        dial = Dial()
        try:
            uri = self.tel.callback_uri.format(number=number)
            leg = await self.endpoint.run(lambda: self.endpoint.dial(uri, as_caller=True))
        except RuntimeError as exc:
            log.warning("call %s: the callback could not be dialled: %s", cid, exc)
            await self._complete_unreached(cid, agent_id, "callback_failed")
            return
        self.dials[leg] = dial
        answered = await _first(dial.answered, dial.gone, self.tel.callback_ring) and not dial.gone.is_set()
        answered = answered and await _first(dial.media, dial.gone, 5.0)
        self.dials.pop(leg, None)
        if not answered or dial.gone.is_set():
            await self.endpoint.run(self.endpoint.hangup, leg)
            await self._complete_unreached(cid, agent_id, "callback_no_answer")
            return
        caller = Caller(leg, number, "", None, contact_id=cid, state="queued", queue=contact.get("queue", ""))
        self.callers[leg] = caller
        self.by_contact[cid] = caller
        await self._hold(caller, True)
        await self._connect_agent(caller, agent_id)

    async def _complete_unreached(self, cid: str, agent_id: str, disposition: str) -> None:
        try:
            await self.router.complete(cid, agent_id, disposition=disposition)
        except StaleDecision as exc:
            log.warning("call %s: completing the unreached callback was refused: %s", cid, exc)

    async def _back_in_line(self, caller: Caller, queue: str) -> None:
        """The contact waits again without its agent (transferred to a queue, or the agent went offline):
        the agent's phone is hung up and the caller hears music on hold until the next agent accepts."""
        log.info("call %s: back in line in %s", caller.contact_id, queue)
        caller.state, caller.queue, caller.agent_id = "queued", queue, ""
        leg, caller.agent_leg = caller.agent_leg, 0
        caller.agent_gone.set()  # wakes a dial in progress
        if leg:
            self.by_agent_leg.pop(leg, None)
            await self.endpoint.run(self.endpoint.hangup, leg)
        await self.endpoint.run(self.endpoint.hold_music, caller.leg, True)

    async def _transfer_out(self, caller: Caller, uri: str) -> None:
        """The agent sent the call to a SIP URI (the contact is completed, disposition ``transferred``): the
        agent's phone is hung up, the caller hears music while the worker dials the URI on the leg the agent
        had, then the two are bridged until either hangs up. Dialled and bridged here rather than REFERred, so
        it works with any caller or trunk (sipp and many trunks refuse REFER) and the call record keeps both
        legs. Not answered within ``telephony.transfer_ring``: the caller is let go."""
        log.info("call %s: agent %s transferred it out", caller.contact_id, caller.agent_id)
        bridged = caller.state == "bridged"
        caller.state, caller.transferred = "transferring", True
        leg, caller.agent_leg = caller.agent_leg, 0
        caller.agent_gone.set()  # wakes a dial of the agent still in progress
        if leg:
            self.by_agent_leg.pop(leg, None)
            if bridged:  # the agent leg's RTP counts (its Ended event will find no caller to give them to)
                with contextlib.suppress(LookupError):
                    self._keep_stats(caller, "agent", await self.endpoint.run(self.endpoint.stats, leg))
            await self.endpoint.run(self.endpoint.hangup, leg)
        await self.endpoint.run(self.endpoint.hold_music, caller.leg, True)
        caller.answered.clear()
        caller.agent_media.clear()
        caller.agent_gone.clear()
        answered = False
        try:
            caller.agent_leg = await self.endpoint.run(self.endpoint.dial, uri)
            self.by_agent_leg[caller.agent_leg] = caller
            ring = self.tel.transfer_ring
            answered = await _first(caller.answered, caller.agent_gone, ring) and not caller.agent_gone.is_set()
            answered = answered and await _first(caller.agent_media, caller.agent_gone, 5.0)
        except RuntimeError as exc:
            log.warning("call %s: the transfer could not be dialled: %s", caller.contact_id, exc)
        if caller.state != "transferring":  # the caller hung up meanwhile (perhaps before the dial returned)
            await self.endpoint.run(self.endpoint.hangup, caller.agent_leg)
            return
        if answered:
            try:
                await self.endpoint.run(self.endpoint.bridge, caller.leg, caller.agent_leg)
                caller.state = "transferred"
                log.info("call %s: transfer answered and bridged", caller.contact_id)
                self._spawn(self._listen(caller, "transfer"))
                return
            except LookupError:  # one side hung up just now
                pass
        await self._end_contact(caller, "transfer_failed", tell_router=False, hang_up=True)

    async def _connect_agent(self, caller: Caller, agent_id: str) -> None:
        agent = self.config.agents.get(agent_id)
        queue = self.config.queues.get(caller.queue)
        timeout = queue.offer_timeout if queue else self.config.routing.offer_timeout
        channel = self.config.channels.get("voice")
        if channel is not None and channel.offer_timeout:
            timeout = channel.offer_timeout
        caller.state, caller.agent_id = "dialing", agent_id
        caller.answered.clear()
        caller.agent_media.clear()
        caller.agent_gone.clear()
        answered = False
        if agent is not None and agent.sip_uri:
            try:
                caller.agent_leg = await self.endpoint.run(self.endpoint.dial, agent.sip_uri)
                self.by_agent_leg[caller.agent_leg] = caller
                answered = await _first(caller.answered, caller.agent_gone, timeout) and not caller.agent_gone.is_set()
                if answered:
                    answered = await _first(caller.agent_media, caller.agent_gone, 5.0)
            except RuntimeError as exc:  # pjsua2 refused to dial: no free leg, bad URI
                log.warning("call %s: dialling agent %s failed: %s", caller.contact_id, agent_id, exc)
        if caller.state != "dialing":  # the caller hung up meanwhile (_caller_left completed the contact)
            return
        if not answered:
            if caller.agent_leg:
                await self.endpoint.run(self.endpoint.hangup, caller.agent_leg)
                self.by_agent_leg.pop(caller.agent_leg, None)
                caller.agent_leg = 0
            log.info("call %s: agent %s did not answer; back in line", caller.contact_id, agent_id)
            caller.state = "queued"
            await self.endpoint.run(self.endpoint.hold_music, caller.leg, True)
            try:
                await self.router.no_answer(caller.contact_id, agent_id)
            except StaleDecision as exc:
                log.warning("call %s: no_answer refused (%s)", caller.contact_id, exc)
            return
        try:
            await self.endpoint.run(self.endpoint.bridge, caller.leg, caller.agent_leg)
        except LookupError:  # one side hung up just now; its Ended event ends the call
            return
        caller.state = "bridged"
        log.info("call %s bridged to agent %s", caller.contact_id, agent_id)
        self._spawn(self._listen(caller))

    async def _listen(self, caller: Caller, side: str = "agent", every: float = 0.1) -> None:
        """While bridged (to the agent, or to where the call was transferred: ``side``), keep the loudest audio
        each side heard from the other (the call record shows whether audio crossed the bridge both ways, not
        only that packets flowed)."""
        heard = {f"{side}_heard_level": 0, "caller_heard_level": 0}
        state = caller.state
        while caller.state == state:
            try:
                _, to_agent = await self.endpoint.run(self.endpoint.levels, caller.agent_leg)
                _, to_caller = await self.endpoint.run(self.endpoint.levels, caller.leg)
            except LookupError:
                break
            heard[f"{side}_heard_level"] = max(heard[f"{side}_heard_level"], to_agent)
            heard["caller_heard_level"] = max(heard["caller_heard_level"], to_caller)
            caller.stats.update({k: str(v) for k, v in heard.items()})
            await asyncio.sleep(every)

    async def _caller_left(self, caller: Caller, event: sip.Ended) -> None:
        caller.gone.set()
        if caller.state == "ended":  # we hung up (the agent left, the router ended it): already being ended
            return
        if caller.timer is not None:
            caller.timer.cancel()
        if caller.recording is not None:
            await self._recorded(caller)
        state = caller.state
        async with caller.lock:
            if state == "ivr":
                actions = caller.flow.hangup(self.clock())
                for action in actions:
                    if isinstance(action, Callback):  # the only thing left to do for a caller who is gone
                        await self._act(caller, action)
        caller.state = "ended"
        await self._end_contact(caller, "caller_hangup", state)

    async def _agent_left(self, caller: Caller) -> None:
        if self._survey_prompt(caller):
            await self._survey(caller)
            return
        await self._end_contact(caller, "agent_hangup", "bridged", hang_up=True)

    def _survey_prompt(self, caller: Caller) -> str:
        """The survey prompt's WAV when the post-call survey is on (``customers.surveys.voice`` and an
        ``ivr.prompts.survey``), else ''."""
        ivr = self.config.ivr
        if not self.profiles.config.voice_survey or "survey" not in getattr(ivr, "prompts", {}):
            return ""
        return ivr.prompt_path("survey", caller.language or ivr.language)

    async def _survey(self, caller: Caller) -> None:
        """The agent hung up: the contact is completed at once (the agent is free), then the caller hears
        the survey prompt and answers 1-5 with a key; the answer goes to the customer's timeline and the
        metrics. No answer within ``SURVEY_WAIT`` seconds: nothing is recorded."""
        caller.state, caller.survey = "survey", asyncio.get_running_loop().create_future()  # before the event
        try:
            await self.router.complete(caller.contact_id, caller.agent_id, disposition="agent_hangup")
        except StaleDecision as exc:
            log.warning("call %s: completing before the survey was refused: %s", caller.contact_id, exc)
        await self.endpoint.run(self.endpoint.play, caller.leg, self._survey_prompt(caller))
        with contextlib.suppress(TimeoutError):
            digit = await asyncio.wait_for(caller.gone_or(caller.survey), SURVEY_WAIT)
            if digit in {"1", "2", "3", "4", "5"}:
                await self.profiles.record_survey(
                    caller.contact_id, int(digit), channel="voice", agent=caller.agent_id, now=self.clock()
                )
                caller.stats["survey"] = digit
                log.info("call %s: survey answered", caller.contact_id)
        await self._end_contact(caller, "agent_hangup", "bridged", tell_router=False, hang_up=not caller.gone.is_set())

    async def _end_contact(
        self,
        caller: Caller,
        reason: str,
        state: str | None = None,
        *,
        tell_router: bool = True,
        hang_up: bool = False,
    ) -> None:
        """End the contact of a call that is over: abandoned while waiting, completed once connected
        (``tell_router=False``: the router ended it already). ``hang_up``: the caller is still on the line."""
        state = state or caller.state
        caller.state = "ended"
        if caller.agent_leg:
            await self.endpoint.run(self.endpoint.hangup, caller.agent_leg)
            if caller.transferred:  # its Ended event carries the transfer leg's RTP counts
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(caller.agent_gone.wait(), 2.0)
        if hang_up:
            await self.endpoint.run(self.endpoint.hangup, caller.leg)
            with contextlib.suppress(TimeoutError):  # its Ended event carries the caller leg's RTP counts
                await asyncio.wait_for(caller.gone.wait(), 2.0)
        self.callers.pop(caller.leg, None)
        if caller.contact_id not in self.by_contact:
            return
        self.by_contact.pop(caller.contact_id, None)
        try:
            if tell_router and state == "queued":
                await self.router.abandon(caller.contact_id, reason)
                if reason == "caller_hangup":
                    await self._note_abandon(caller)
            elif tell_router and state in ("dialing", "bridged"):
                await self.router.complete(caller.contact_id, caller.agent_id, disposition=reason)
        except StaleDecision as exc:
            log.warning("call %s: ending it (%s) was refused: %s", caller.contact_id, reason, exc)
        await self._hold(caller, False)
        fields = {**caller.stats, "queue": caller.queue, "agent": caller.agent_id, "end": reason, "worker": self.id}
        flat = [x for kv in fields.items() for x in kv]
        await self.store.eval("tel_cdr", [call_key(self.store.keys.prefix, caller.contact_id)], [CDR_TTL, *flat])
        log.info("call %s ended: %s", caller.contact_id, reason)


async def _first(wanted: asyncio.Event, other: asyncio.Event, timeout: float) -> bool:
    """Wait until ``wanted`` or ``other`` is set or ``timeout`` passes; True when ``wanted`` is set."""
    tasks = [asyncio.create_task(wanted.wait()), asyncio.create_task(other.wait())]
    await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    return wanted.is_set()


def _number(uri: str) -> str:
    """The caller ID (user part) of a From URI."""
    return sip._user(uri) or uri


async def _wav_closed(path: str, wait: float = WAV_CLOSE_WAIT) -> bool:
    """Wait until the recorder has closed the WAV at ``path``: its RIFF length is written. PJSIP writes 0 at
    creation and the real length when it destroys the port, which can come after ``stop_recording`` has
    returned (seen in the test suite: a voicemail contact arrived with the length still 0, an unreadable
    WAV). A voicemail contact must not reach an agent before its recording can be played. False if the
    WAV was not closed within ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
            size = os.path.getsize(path)
        except OSError:
            head, size = b"", 0
        if len(head) == 8 and head[:4] == b"RIFF" and int.from_bytes(head[4:], "little") == size - 8:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)


# -- process entry point ----------------------------------------------------------------------------


async def main_async(config_path: str, redis_url: str, index: int, flow: str) -> None:
    config = load(config_path)
    factory = load_flow_factory(flow)
    client = await connect(redis_url, tenant=config.tenant)
    store = RedisStore(client, config)
    worker = Worker(config, store, index, factory)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.run(stop)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m telephony.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--index", type=int, required=True, help="worker number: SIP port = worker_port + index")
    parser.add_argument("--flow", default=DEFAULT_FLOW, help="module:function starting a caller's IVR flow")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker{args.index} %(levelname)s %(message)s")
    asyncio.run(main_async(args.config, args.redis, args.index, args.flow))


if __name__ == "__main__":
    main()
