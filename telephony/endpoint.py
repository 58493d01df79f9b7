"""The one pjsua2 Endpoint of a worker process, and the only module that imports pjsua2.

pjsua2 (the ``pjsua2-python`` wheel) is driven the way its limits on this machine require (see
docs/telephony.md): ``threadCnt=0`` and ``mainThreadOnly=True``, with one thread of ours that creates the
library, polls ``libHandleEvents`` and runs every pjsua2 call, so every callback (DTMF included) arrives on
that thread. Callbacks become :class:`SipEvent` dataclasses handed to asyncio with
``loop.call_soon_threadsafe``; asyncio asks for work with :meth:`SipEndpoint.run`, which queues it for the
thread. A Python reference to every live ``Call`` is kept until DISCONNECTED (an unreferenced one is
collected and the caller gets 603) and dropped there (a late drop hangs up the next call reusing the id).

Media: the conference bridge runs at 8 kHz (phone audio; 16 kHz resamples every call). Music on hold is one
looping player shared by every caller on hold; a prompt gets a player of its own per call, so each caller
hears it from the start and its end is reported (4 legs per process stay far below the 32-player limit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

log = logging.getLogger(__name__)

MAX_LEGS = 4  # compiled into the wheel (PJSUA_MAX_CALLS); maxCalls above it is silently clamped
CLOCK_RATE = 8000
CODECS = {"PCMU": 255, "PCMA": 254}  # offered and accepted, in this order; every other codec is disabled
MEDIA_PORTS = 32  # conference slots: 4 legs, 4 prompts, music on hold, 4 recorders and the clock (default 254)
DTMF_POLL_MS = 50  # while a call is up: the longest a digit waits in pjsua2's queue for the poll to return
IDLE_POLL_MS = 1000  # no call: nothing but SIP (which wakes the poll) and run() (which wakes it too)
_LEFT_AT_EXIT: list = []  # Calls still alive when the library stopped: deleting them would assert in pjsua


# -- events (pj thread -> asyncio) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegStats:
    """RTP packets the leg has received and sent (its first audio stream)."""

    rx_packets: int
    tx_packets: int


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A caller was answered on leg ``leg``."""

    leg: int
    caller: str  # the From URI (the caller ID); never logged at info level
    called: str  # the request URI's user part


@dataclass(frozen=True, slots=True)
class MediaReady:
    """The leg's audio is up: prompts, music and bridging can start."""

    leg: int


@dataclass(frozen=True, slots=True)
class Answered:
    """An outgoing leg was answered (CONFIRMED)."""

    leg: int


@dataclass(frozen=True, slots=True)
class Ended:
    """The leg is gone (DISCONNECTED); ``code`` is the last SIP status."""

    leg: int
    code: int
    reason: str
    stats: LegStats | None = None  # RTP counts at the end (None: no media was set up)


@dataclass(frozen=True, slots=True)
class Digit:
    """A DTMF digit (RFC 2833 or SIP INFO) from the leg's far end."""

    leg: int
    digit: str


@dataclass(frozen=True, slots=True)
class PromptFinished:
    """The prompt started by ``play`` on the leg has played to its end."""

    leg: int
    token: int


SipEvent = IncomingCall | MediaReady | Answered | Ended | Digit | PromptFinished


# -- pjsua2 subclasses (run on the pj thread only) ----------------------------------------------------


class _Call(pj.Call):
    def __init__(self, owner: SipEndpoint, leg: int, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.owner = owner
        self.leg = leg
        self.media: pj.AudioMedia | None = None
        self.prompt: _Prompt | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.on_hold = False
        self.refused = False  # answered 486; kept only until DISCONNECTED
        self.last_stats = LegStats(0, 0)  # refreshed by SipEndpoint.stats (media is gone at DISCONNECTED)
        self.outgoing = call_id == pj.PJSUA_INVALID_ID
        self.caller_slot = not self.outgoing  # counted against max_callers (callers, and customers called back)

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.outgoing:
            self.owner._emit(Answered(self.leg))
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            stats = self.last_stats if self.media is not None else None
            self.owner._forget(self)
            self.owner._emit(Ended(self.leg, int(info.lastStatusCode), info.lastReason, stats))

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                first = self.media is None
                self.media = self.getAudioMedia(index)
                if first:
                    self.owner._emit(MediaReady(self.leg))
                return

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        self.owner._emit(Digit(self.leg, prm.digit))


class _Prompt(pj.AudioMediaPlayer):
    def __init__(self, owner: SipEndpoint, leg: int, token: int) -> None:
        super().__init__()
        self.owner, self.leg, self.token = owner, leg, token

    def onEof2(self) -> None:
        self.owner._emit(PromptFinished(self.leg, self.token))


class _Account(pj.Account):
    def __init__(self, owner: SipEndpoint) -> None:
        super().__init__()
        self.owner = owner

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.owner._incoming(prm.callId)


# -- the endpoint -----------------------------------------------------------------------------------


class SipEndpoint:
    """One pjsua2 Endpoint on ``host:port`` (UDP), answering at most ``max_callers`` callers.

    Every method but :meth:`start`, :meth:`stop` and :meth:`run` runs on the pj thread: call them through
    ``await endpoint.run(endpoint.play, leg, path)``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        rtp_port: int,
        max_callers: int,
        on_event: Callable[[SipEvent], None],
        loop: asyncio.AbstractEventLoop,
        music_on_hold: str = "",
        log_level: int = 1,
    ) -> None:
        self.host, self.port, self.rtp_port = host, port, rtp_port
        self.max_callers = max_callers
        self.music_on_hold = music_on_hold
        self.log_level = log_level
        self._on_event = on_event
        self._loop = loop
        self._work: queue.SimpleQueue[tuple[Callable[..., Any], tuple, concurrent.futures.Future]] = queue.SimpleQueue()
        self._calls: dict[int, _Call] = {}  # leg -> live Call (the reference that keeps it alive)
        self._next_leg = 1
        self._next_token = 1
        self._stopping = threading.Event()
        self._started = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, name=f"pjsua2:{port}", daemon=True)
        self._ep: pj.Endpoint | None = None
        self._account: _Account | None = None
        self._moh: pj.AudioMediaPlayer | None = None
        self._garbage: list[Any] = []  # players/recorders to destroy outside their own callbacks
        self._waker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._waker.setblocking(False)

    # -- from asyncio ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the library on its thread and listen; raises what pjsua2 raised."""
        self._thread.start()
        await asyncio.wrap_future(self._started)

    async def stop(self) -> None:
        """Hang up everything and destroy the library."""
        if self._thread.is_alive():
            self._stopping.set()
            self._wake()
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10)
        self._waker.close()

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """Run ``fn(*args)`` on the pj thread; the future gets its result or exception."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._work.put((fn, args, future))
        if self._work.qsize() == 1:  # else an earlier wake-up is still due, and the drain takes both
            self._wake()
        return asyncio.wrap_future(future)

    def _wake(self) -> None:
        """End the pj thread's poll now: a CRLF datagram to our own SIP port (pjsip ignores it as a
        keep-alive), so work handed over is run at once however long the poll would have waited."""
        with contextlib.suppress(OSError):  # full socket buffer: a wake-up is pending anyway
            self._waker.sendto(b"\r\n", (self.host, self.port))

    # -- the pj thread -----------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._create()
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        try:
            while not self._stopping.is_set():
                # SIP wakes the poll at once, pjsip caps the wait at its next timer, and run() wakes it with a
                # datagram: the timeout only bounds how late a DTMF digit is delivered (pjsua2 queues digits
                # from the media thread until the poll returns), so it is short only while a call is up.
                self._ep.libHandleEvents(DTMF_POLL_MS if self._calls else IDLE_POLL_MS)
                self._drain()
                if self._garbage:
                    self._garbage.clear()
        finally:
            self._destroy()

    def _drain(self) -> None:
        while True:
            try:
                fn, args, future = self._work.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def _create(self) -> None:
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = MAX_LEGS
        cfg.uaConfig.userAgent = "omniroute-ivr"
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.sndClockRate = CLOCK_RATE
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0  # no echo canceller (there is no sound device)
        cfg.medConfig.maxMediaPorts = MEDIA_PORTS
        cfg.logConfig.level = self.log_level
        cfg.logConfig.consoleLevel = self.log_level
        ep.libInit(cfg)
        for codec in ep.codecEnum2():  # G.711 only: the default prefers 16 kHz Speex, resampled on every frame
            ep.codecSetPriority(codec.codecId, CODECS.get(codec.codecId.split("/")[0], 0))
        tcfg = pj.TransportConfig()
        tcfg.port = self.port
        tcfg.boundAddress = self.host
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.audDevManager().setNullDev()
        ep.libStart()
        self._ep = ep
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:ivr@{self.host}:{self.port}"
        acfg.mediaConfig.transportConfig.port = self.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 4 * MAX_LEGS
        acfg.mediaConfig.transportConfig.boundAddress = self.host
        self._account = _Account(self)
        self._account.create(acfg)
        if self.music_on_hold:
            self._moh = pj.AudioMediaPlayer()
            self._moh.createPlayer(self.music_on_hold, 0)  # loops

    def _destroy(self) -> None:
        for call in list(self._calls.values()):
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam(True))
        deadline = time.monotonic() + 2.0
        while self._calls and time.monotonic() < deadline:  # let DISCONNECTED drop each Call
            self._ep.libHandleEvents(10)
        _LEFT_AT_EXIT.extend(self._calls.values())  # never collected before the library is gone
        self._calls.clear()
        self._garbage.clear()
        self._moh = None
        self._account = None
        if self._ep is not None:
            self._ep.libDestroy()
            self._ep = None

    def _emit(self, event: SipEvent) -> None:
        self._loop.call_soon_threadsafe(self._on_event, event)

    def _new_leg(self) -> int:
        leg = self._next_leg
        self._next_leg += 1
        return leg

    def _callers(self) -> int:
        return sum(1 for c in self._calls.values() if c.caller_slot and not c.refused)

    def _live(self) -> int:
        return sum(1 for c in self._calls.values() if not c.refused)

    def _incoming(self, call_id: int) -> None:
        call = _Call(self, self._new_leg(), self._account, call_id)
        self._calls[call.leg] = call  # kept until DISCONNECTED, even when refused
        op = pj.CallOpParam(True)
        if self._callers() > self.max_callers or self._live() > MAX_LEGS:
            call.refused = True
            op.statusCode = 486  # Kamailio fails over to another worker
            call.answer(op)
            return
        info = call.getInfo()
        op.statusCode = 200
        call.answer(op)
        self._emit(IncomingCall(call.leg, info.remoteUri, _user(info.localUri)))

    def _forget(self, call: _Call) -> None:
        self._stop_prompt(call)
        self._stop_recording(call)
        self._calls.pop(call.leg, None)

    def _call(self, leg: int) -> _Call:
        call = self._calls.get(leg)
        if call is None:
            raise LookupError(f"no live leg {leg}")
        return call

    # -- operations (call through run()) ----------------------------------------------------------

    def free_legs(self) -> int:
        """Legs this endpoint can still take (callers are counted against ``max_callers``)."""
        return max(0, min(MAX_LEGS - self._live(), self.max_callers - self._callers()))

    def legs(self) -> int:
        return self._live()

    def play(self, leg: int, path: str) -> int:
        """Play ``path`` to the leg from its start (replacing a prompt already playing); returns its token."""
        call = self._call(leg)
        self._stop_prompt(call)
        token = self._next_token
        self._next_token += 1
        player = _Prompt(self, leg, token)
        player.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)
        call.prompt = player
        if call.media is not None:
            player.startTransmit(call.media)
        return token

    def stop_play(self, leg: int) -> None:
        call = self._calls.get(leg)
        if call is not None:
            self._stop_prompt(call)

    def _stop_prompt(self, call: _Call) -> None:
        if call.prompt is not None:
            if call.media is not None:
                with contextlib.suppress(pj.Error):
                    call.prompt.stopTransmit(call.media)
            self._garbage.append(call.prompt)
            call.prompt = None

    def hold_music(self, leg: int, on: bool) -> None:
        """Start or stop music on hold (the shared looping player) on the leg."""
        call = self._calls.get(leg)
        if call is None or self._moh is None or call.media is None or call.on_hold == on:
            return
        if on:
            self._moh.startTransmit(call.media)
        else:
            self._moh.stopTransmit(call.media)
        call.on_hold = on

    def record(self, leg: int, path: str) -> None:
        """Record what the leg's far end sends to ``path`` (WAV, 8 kHz mono) until :meth:`stop_recording`."""
        call = self._call(leg)
        self._stop_recording(call)
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(path)
        call.media.startTransmit(recorder)
        call.recorder = recorder

    def stop_recording(self, leg: int) -> None:
        call = self._calls.get(leg)
        if call is not None:
            self._stop_recording(call)

    def _stop_recording(self, call: _Call) -> None:
        if call.recorder is not None:
            if call.media is not None:
                with contextlib.suppress(pj.Error):
                    call.media.stopTransmit(call.recorder)
            call.recorder = None  # destroyed here: the WAV header is written

    def dial(self, uri: str, *, as_caller: bool = False) -> int:
        """Call ``uri``; returns the new leg (events: Answered, MediaReady, Ended). ``as_caller``: the leg takes
        a caller's place (a customer called back), refused when every place is taken."""
        if self._live() >= MAX_LEGS or (as_caller and self._callers() >= self.max_callers):
            raise RuntimeError("no free leg to dial out")
        call = _Call(self, self._new_leg(), self._account)
        call.caller_slot = as_caller
        try:
            call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            raise RuntimeError(f"cannot dial {uri}: {exc.info()}") from None
        self._calls[call.leg] = call
        return call.leg

    def bridge(self, a: int, b: int) -> None:
        """Connect two legs' audio both ways (and stop prompts and music on both)."""
        ca, cb = self._call(a), self._call(b)
        for call in (ca, cb):
            self._stop_prompt(call)
            self.hold_music(call.leg, False)
        ca.media.startTransmit(cb.media)
        cb.media.startTransmit(ca.media)

    def hangup(self, leg: int, code: int = 0) -> None:
        call = self._calls.get(leg)
        if call is None:
            return
        if call.media is not None:
            with contextlib.suppress(pj.Error):
                self.stats(leg)  # the counts at the end, for the Ended event
        op = pj.CallOpParam(True)
        if code:
            op.statusCode = code
        try:
            call.hangup(op)
        except pj.Error as exc:
            log.debug("hangup of leg %d: %s", leg, exc.info())

    def transfer(self, leg: int, uri: str) -> None:
        """Blind transfer (REFER) of the leg to ``uri``."""
        self._call(leg).xfer(uri, pj.CallOpParam(True))

    def stats(self, leg: int) -> LegStats:
        call = self._call(leg)
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO:
                rtcp = call.getStreamStat(index).rtcp
                call.last_stats = LegStats(int(rtcp.rxStat.pkt), int(rtcp.txStat.pkt))
                return call.last_stats
        return LegStats(0, 0)

    def levels(self, leg: int) -> tuple[int, int]:
        """The leg's last signal levels (percent): what its far end sends us, and what we send it."""
        call = self._call(leg)
        if call.media is None:
            return 0, 0
        return int(call.media.getRxLevel()), int(call.media.getTxLevel())

    def beat(self) -> tuple[int, int]:
        """For the heartbeat, in one hand-over: free legs and legs in use, with every leg's RTP counts refreshed."""
        self.sample_stats()
        return self.free_legs(), self.legs()

    def sample_stats(self) -> None:
        """Refresh every live leg's RTP counts (kept for its :class:`Ended` event)."""
        for leg, call in list(self._calls.items()):
            if call.media is not None:
                with contextlib.suppress(pj.Error, LookupError):
                    self.stats(leg)


def _user(uri: str) -> str:
    """The user part of a SIP URI (``"Name" <sip:user@host>`` -> ``user``)."""
    inner = uri.split("<", 1)[-1].split(">", 1)[0]
    inner = inner.split(":", 1)[-1]
    return inner.split("@", 1)[0] if "@" in inner else ""
