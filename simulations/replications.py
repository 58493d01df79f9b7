"""Run independent replications in parallel: local processes by default, a Dask cluster when given.

Each replication is a function of its seed alone, so the results are the same whatever runs them and
in whatever order; they come back in the order of the seeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from typing import Any, TypeVar

T = TypeVar("T")


def run_replications(
    task: Callable[[int], T],
    seeds: Sequence[int],
    *,
    workers: int | None = None,
    dask: Any = None,
    on_done: Callable[[], None] | None = None,
) -> list[T]:
    """``task(seed)`` for every seed (``task`` must be picklable: a module-level function or a partial).

    Args:
        workers: local processes (default: one per core); 1 runs in this process.
        dask: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; runs there.
        on_done: called as each replication finishes (for a progress bar).
    """
    done = on_done or (lambda: None)
    if dask is not None:
        from distributed import Client, as_completed

        client = dask if isinstance(dask, Client) else Client(dask)
        futures = client.map(task, list(seeds), pure=False)
        for _ in as_completed(futures):
            done()
        return client.gather(futures)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(seeds) == 1:
        results = []
        for seed in seeds:
            results.append(task(seed))
            done()
        return results
    with ProcessPoolExecutor(max_workers=min(workers, len(seeds))) as pool:
        futures = [pool.submit(task, seed) for seed in seeds]
        for future in futures_completed(futures):
            future.result()
            done()
        return [future.result() for future in futures]
