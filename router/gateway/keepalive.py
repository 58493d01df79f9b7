"""Keepalive pings for every connection of a gateway from one task, a slice at a time.

websockets' own keepalive runs a task per connection that sleeps ``ping_interval``, pings, and waits for
the pong under a timeout: at 10,000 connections, 10,000 tasks and two timers per heartbeat each, 6-7% of
the process and 0.14 CPU s/s with no traffic at all (docs/performance.md). Here the connections are
spread over the slots of a wheel, one slot every ``STEP`` seconds, so each connection comes up once per
``interval``. When it does, a ping still unanswered since its last turn (a whole ``interval`` ago) closes
it as the library would (close code 1011, "keepalive ping timeout"; the socket is aborted after
``close_timeout`` if the peer does not finish the closing handshake); otherwise it is pinged again. The
same promise as the library's with ``ping_interval = ping_timeout = gateway.heartbeat``: a ping every
heartbeat, and a connection whose pong does not come within another heartbeat is closed.

:class:`KeptAlive` leans on websockets' asyncio ``Connection`` as of version 17 (``acknowledge_pings``,
``send_data``, ``send_in_progress``, ``paused``): pyproject.toml asks for 17.x (a new major is checked first), and
tests/gateway/test_agents.py shows an idle connection that answers pings is kept and a silent one closed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.protocol import State

log = logging.getLogger(__name__)

STEP = 0.05  # seconds between slots: at 10,000 connections and a 10 s heartbeat, 50 pings a slot


class KeptAlive(ServerConnection):
    """A server connection that :class:`Keepalive` pings (``serve(..., ping_interval=None,
    create_connection=KeptAlive)``): it answers to its pong without a future or a task per ping, and
    writes small messages at once (:meth:`send_at_once`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keepalive_ping: bytes | None = None  # the payload of the keepalive ping awaiting its pong
        self.keepalive_sent = 0.0  # loop time it was sent

    def send_keepalive_ping(self, payload: bytes) -> None:
        """Ping now, without waiting (a ping is a few bytes: no flow control)."""
        if self.protocol.state is not State.OPEN:
            return
        self.keepalive_ping, self.keepalive_sent = payload, self.loop.time()
        self.protocol.send_ping(payload)
        self.send_data()

    def send_at_once(self, text: str) -> bool:
        """Write a text message now, as :meth:`send` would, when nothing stands in the way: the connection
        open, no fragmented message being sent, the write buffer not full. False: call :meth:`send`.

        :meth:`send` goes through an async context manager and a flow-control wait for every message,
        a few microseconds of Python each, for the offers and replies of every contact.
        """
        if (
            self.protocol.state is not State.OPEN
            or getattr(self, "send_in_progress", True) is not None  # (an unknown version: the slow way)
            or getattr(self, "paused", True)
        ):
            return False
        self.protocol.send_text(text.encode())
        try:
            self.send_data()
        except Exception as exc:  # as send() does: the connection is done for
            self.set_connection_exc(exc)
            self.transport.abort()
        return True

    def fail_keepalive(self) -> None:
        """Close the connection as websockets does when a keepalive pong is late."""
        if self.protocol.state is not State.OPEN:
            return
        self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        self.send_data()
        self.loop.call_later(self.close_timeout or 0.0, self._abort_unless_closed)

    def _abort_unless_closed(self) -> None:
        if not self.connection_lost_waiter.done():
            self.transport.abort()

    def acknowledge_pings(self, data: bytes) -> None:  # websockets calls this for every pong
        if data == self.keepalive_ping:
            self.latency = self.loop.time() - self.keepalive_sent
            self.keepalive_ping = None
        else:
            super().acknowledge_pings(data)


class Keepalive:
    """Pings the connections :meth:`add`-ed to it every ``interval`` seconds from :meth:`run` (one task).

    A closed connection leaves the wheel when its slot next comes up.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.slots: list[list[KeptAlive]] = [[] for _ in range(max(1, round(interval / STEP)))]
        self.step = interval / len(self.slots)  # seconds between slots
        self._next_slot = 0  # the slot a new connection joins (round robin, so the slots stay even)
        self._payloads = itertools.count(1)

    def add(self, ws: ServerConnection) -> None:
        if isinstance(ws, KeptAlive):
            self.slots[self._next_slot].append(ws)
            self._next_slot = (self._next_slot + 1) % len(self.slots)

    def visit(self, slot: int) -> None:
        """One slot's turn: close the connections whose last ping is unanswered, ping the others."""
        kept = []
        for ws in self.slots[slot]:
            if ws.protocol.state is not State.OPEN:
                continue  # closing or closed: it leaves the wheel
            if ws.keepalive_ping is not None:
                log.debug("keepalive ping timeout on a connection from %s", ws.remote_address)
                ws.fail_keepalive()
                continue
            ws.send_keepalive_ping(struct.pack("!I", next(self._payloads) & 0xFFFFFFFF))
            kept.append(ws)
        self.slots[slot] = kept

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        count = len(self.slots)
        turn = int(loop.time() / self.step)  # slots are visited in turn, one every step, catching up if late
        while True:
            await asyncio.sleep(max(0.0, (turn + 1) * self.step - loop.time()))
            now_turn = int(loop.time() / self.step)
            while turn < now_turn:
                turn += 1
                try:
                    self.visit(turn % count)
                except Exception:
                    log.exception("keepalive")
