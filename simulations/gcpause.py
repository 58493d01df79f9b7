"""The cyclic garbage collector paused while the simulator builds or moves many objects that form no cycles.

Building a million arrivals, or running a replication, allocates objects by the million and frees few:
the collector's generational passes keep walking the growing lists for nothing (several per cent of a
run, a tenth of building the arrivals). Reference counting still frees everything as usual.

When the block ends, the objects it left (the arrivals, a run's records) are moved to the collector's
oldest generation at once (``gc.freeze()`` then ``gc.unfreeze()``, which splice lists and walk nothing).
Left young, the next two collections would each walk all of them, again for nothing: about 0.3 s after a
run of a million contacts. In the oldest generation they are walked only by a full collection, which
CPython runs when that generation has grown by a quarter since the last one.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block; after it, move what it left to the oldest generation and
    restore the collector (if it was on)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
