"""Per-connection message rate limits: a moving window per connection, kept in the event loop.

The ``limits`` library's in-memory storage was used first; its expiry thread scans every key every 10 ms
while hits come in, and with 10,000 connections a scan took ~10 ms, so it held the GIL about half the time
and stalled the event loop (docs/performance.md, "Websockets gateway"). A deque of recent message times
per connection, dropped when the connection closes, does the same job with no thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class MovingWindows:
    """At most ``amount`` messages per ``per`` seconds for each key (a connection)."""

    def __init__(self, amount: int, per: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.amount = amount
        self.per = per
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> bool:
        """Take one from ``key``'s budget; False when it is spent (the message is to be refused)."""
        now = self.clock()
        window = self._hits.get(key)
        if window is None:
            window = self._hits[key] = deque()
        since = now - self.per
        while window and window[0] <= since:
            window.popleft()
        if len(window) >= self.amount:
            return False
        window.append(now)
        return True

    def forget(self, key: str) -> None:
        """The connection closed."""
        self._hits.pop(key, None)
