"""A tiny terminal progress bar for long simulation runs. No dependencies.

On a TTY the bar redraws in place (``\\r``) as work advances; on anything else (a log file, a pipe, CI) it
prints nothing until :meth:`Progress.close`, which writes one summary line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

WIDTH = 30  # characters of bar


class Progress:
    """Count ``total`` steps of work labelled ``label``. Call :meth:`advance` per step, :meth:`close` at the end.

    Usable as a context manager (closes on exit). ``clock`` is injectable for tests; it only times the
    summary, never the work.
    """

    def __init__(
        self, total: int, label: str = "", stream: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.closed = False
        self._clock = clock
        self._started = clock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = ""  # the last line drawn, so unchanged lines are not redrawn
        self._draw()

    def advance(self, n: int = 1) -> None:
        """``n`` more steps done (the count stops at ``total``)."""
        self.done = min(self.total, self.done + n) if self.total else self.done + n
        self._draw()

    def close(self) -> None:
        """Finish: end the bar's line on a TTY, or write the summary line elsewhere. Idempotent."""
        if self.closed:
            return
        self.closed = True
        elapsed = self._clock() - self._started
        if self._tty:
            self.stream.write(f"\r{self._line()} {elapsed:.1f}s\n")
        else:
            label = f"{self.label}: " if self.label else ""
            self.stream.write(f"{label}{self.done}/{self.total} done in {elapsed:.1f}s\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = round(WIDTH * share)
        label = f"{self.label} " if self.label else ""
        return f"{label}[{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total} {share:4.0%}"

    def _draw(self) -> None:
        if not self._tty or self.closed:
            return
        line = self._line()
        if line != self._last:
            self._last = line
            self.stream.write(f"\r{line}")
            self.stream.flush()
