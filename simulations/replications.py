"""Run independent replications in parallel: local processes by default, a Dask cluster when given.

Each replication is a function of its seed alone, so the results are the same whatever runs them and
in whatever order; they come back in the order of the seeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_replications(
    task: Callable[[int], T], seeds: Sequence[int], *, workers: int | None = None, dask: Any = None
) -> list[T]:
    """``task(seed)`` for every seed (``task`` must be picklable: a module-level function or a partial).

    Args:
        workers: local processes (default: one per core); 1 runs in this process.
        dask: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; runs there.
    """
    if dask is not None:
        from distributed import Client

        client = dask if isinstance(dask, Client) else Client(dask)
        futures = client.map(task, list(seeds), pure=False)
        return client.gather(futures)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(seeds) == 1:
        return [task(seed) for seed in seeds]
    with ProcessPoolExecutor(max_workers=min(workers, len(seeds))) as pool:
        return list(pool.map(task, seeds))
