"""One reader of the event stream for the consumers of one process (the router and the gateway).

Each consumer used to XREAD every event itself and parse both JSON snapshots of each: two round trips
and two parses of every event per process. An :class:`EventTap` reads the stream once (one task, one
blocking XREAD) into a bounded buffer; consumers ask for the entries after their own position, as
from :meth:`RedisStore.read_entries` and :meth:`RedisStore.read_events`, and an entry is parsed into
an :class:`Event` at most once, by whoever asks first.

A position the buffer does not know (older than it keeps, or ahead of the reader, e.g. the router's
position right after it reloaded its mirror) is answered by a direct read of the stream, so a
consumer sees the same entries in the same order as before; only the number of readers changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from router.events import Event
from router.store import RedisStore

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]


class EventTap:
    """A shared reader of one tenant's event stream. See the module docstring."""

    def __init__(self, store: RedisStore, *, keep: int = 5_000, block_ms: int = 1000, count: int = 1000) -> None:
        self.store = store
        self.keep = keep  # the most entries kept for a consumer that lags behind (or stopped reading)
        self.block_ms = block_ms
        self.count = count
        self._entries: list[Entry] = []
        self._events: list[Event | None] = []  # parsed on first demand, beside _entries
        self._index: dict[str, int] = {}  # entry id -> its absolute sequence number
        self._base = 0  # the absolute sequence number of _entries[0]
        self._positions: dict[str, int] = {}  # consumer -> the sequence number it reads from
        self._tail: str | None = None  # the id the reader reads after (the last entry read)
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        # Called with (the id read after, the entries) after each read, before the next: the router
        # routes on new entries in this task, with no wake-up of its own (router/engine.py).
        self.hook: Callable[[str, list[Entry]], Awaitable[None]] | None = None
        self._closed = False
        self.reads = 0  # XREADs by the reader
        self.outages = 0  # reads that failed for want of Redis (a router reloads its mirror after one)
        self.fed = 0  # batches of entries read by the router in its offers' round trip (feed)
        self.direct = 0  # reads answered straight from the stream

    # -- the reader -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader (once; consumers start it on their first read)."""
        if self._task is None:
            self._task = asyncio.create_task(self._read(), name="event-tap")

    async def close(self) -> None:
        """Stop the reader. A cancelled XREAD may surface as a connection error (redis-py, on a cluster
        too): the reader then ends instead of reading on, and close waits at most 2 s for it."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2.0)

    async def _read(self) -> None:
        while not self._closed:
            try:
                if self._tail is None:
                    self._tail = await self.store.last_event_id()
                entries = await self.store.read_entries(self._tail, block_ms=self.block_ms, count=self.count)
            except asyncio.CancelledError:
                raise
            except (ConnectionError, OSError, RedisError) as exc:
                if self._closed:
                    return
                self.outages += 1
                log.warning("event stream unavailable (%s); reading on", type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            except Exception:  # never leave the consumers waiting on a dead reader
                if self._closed:
                    return
                log.exception("reading the event stream")
                await asyncio.sleep(0.5)
                continue
            self.reads += 1
            if not entries:
                continue
            after = self._tail
            self._add(entries)
            if self.hook is not None:
                await self.hook(after, entries)

    def _add(self, entries: list[Entry]) -> None:
        """Buffer entries that follow on from the last one read, and wake the consumers."""
        seq = self._base + len(self._entries)
        for entry in entries:
            self._index[entry[0]] = seq
            seq += 1
        self._entries.extend(entries)
        self._events.extend([None] * len(entries))
        self._tail = entries[-1][0]
        if len(self._entries) > 2 * self.keep:
            self._trim(len(self._entries) - self.keep)
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    @property
    def tail(self) -> str | None:
        """The id of the last entry read (None before the reader's first read)."""
        return self._tail

    def feed(self, after: str, entries: list[Entry]) -> bool:
        """Entries someone else read right after ``after`` (the router reads the stream in the round trip of its
        offers, from its hook): buffered as if read here, and the next read goes on after them. Refused (False)
        unless ``after`` is still the last entry read: the reader then reads them itself."""
        if not entries or after != self._tail or self._task is None or self._task.done():
            return False
        self._add(entries)
        self.fed += 1
        return True

    def _trim(self, drop: int) -> None:
        for entry_id, _ in self._entries[:drop]:
            self._index.pop(entry_id, None)
        del self._entries[:drop]
        del self._events[:drop]
        self._base += drop

    def _passed(self, consumer: str, start: int) -> None:
        """Note that ``consumer`` reads from ``start`` on; drop what every consumer has read.

        Entries (and their parsed events) are let go as soon as they are read, so that they die young:
        kept longer, they outlived the young generations and made full collections (GC) long and often.
        """
        self._positions[consumer] = start
        drop = min(self._positions.values()) - 1 - self._base  # keeping the entry each reads after
        if drop > 0:
            self._trim(min(drop, len(self._entries)))

    # -- the consumers --------------------------------------------------------------------------------

    def read_through(self, consumer: str, after: str) -> None:
        """Note that ``consumer`` has what comes up to ``after`` (read by its :attr:`hook`, not asked for)."""
        start = self._start_of(after)
        if start is not None:
            self._passed(consumer, start)

    def _start_of(self, after: str) -> int | None:
        """The absolute sequence number of the first entry after ``after``, or None when not known here."""
        seq = self._index.get(after)
        if seq is not None:
            return seq + 1
        if after == self._tail:
            return self._base + len(self._entries)
        return None

    async def _slice(self, after: str, block_ms: int | None, count: int, consumer: str) -> tuple[int, int] | None:
        """The buffer's positions [lo, hi) of the entries after ``after``, or None to read directly."""
        if self._task is None:
            self.start()
        if self._task is None or self._task.done():
            return None
        start = self._start_of(after)
        if start is None:
            return None
        self._passed(consumer, start)
        lo = start - self._base
        if lo >= len(self._entries) and block_ms is not None:
            arrived = self._arrived
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(block_ms / 1000):
                    await arrived.wait()
            lo = start - self._base  # the buffer may have been trimmed meanwhile
            if lo < 0:
                return None
        return lo, min(len(self._entries), lo + count)

    async def read_entries(
        self, after: str, *, block_ms: int | None, count: int = 1000, consumer: str = "router"
    ) -> list[Entry]:
        """Raw entries after ``after``, as :meth:`RedisStore.read_entries`, for ``consumer``."""
        span = await self._slice(after, block_ms, count, consumer)
        if span is None:
            self.direct += 1
            return await self.store.read_entries(after, block_ms=block_ms, count=count)
        return self._entries[span[0] : span[1]]

    async def read_events(
        self, after: str, *, block_ms: int | None, count: int = 1000, consumer: str = "gateway"
    ) -> list[Event]:
        """Events after ``after``, as :meth:`RedisStore.read_events`; each entry is parsed once."""
        span = await self._slice(after, block_ms, count, consumer)
        if span is None:
            self.direct += 1
            return await self.store.read_events(after, block_ms=block_ms, count=count)
        out = []
        for i in range(*span):
            event = self._events[i]
            if event is None:
                entry_id, fields = self._entries[i]
                event = self._events[i] = Event.from_entry(entry_id, fields)
            out.append(event)
        return out

    def event_of(self, entry_id: str, fields: dict[str, str]) -> Event:
        """The parsed form of an entry (parsed here once if the buffer holds it)."""
        seq = self._index.get(entry_id)
        if seq is None:
            return Event.from_entry(entry_id, fields)
        i = seq - self._base
        event = self._events[i]
        if event is None:
            event = self._events[i] = Event.from_entry(entry_id, fields)
        return event
