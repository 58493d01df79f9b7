"""The cyclic garbage collector paused while the simulator builds or moves many objects that form no cycles.

Building a million arrivals, or running a replication, allocates objects by the million and frees few:
the collector's generational passes keep walking the growing lists for nothing (several per cent of a
run, a tenth of building the arrivals). Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block (and restore it after, if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
