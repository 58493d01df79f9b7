"""Customer store operations per second and their latency, on real Redis. Run by hand (not a test):

    .venv/bin/python benchmarks/customers_ops.py                 # private Redis on a free port
    REDIS_URL=redis://127.0.0.1:6390/0 .venv/bin/python benchmarks/customers_ops.py

Measures, with N concurrent callers (default 16) on one process: ``identify`` of new customers (phone +
email), ``identify`` of known ones, ``append`` of chat messages, ``for_offer`` (profile, case, last 20
entries), and ``erase`` (which scans the event stream, here empty). Prints ops/s and p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from customers.store import CustomerStore
from customers.timeline import message
from router.store import connect
from tests.support import RedisServer, delete_tenant_keys


async def measure(name: str, count: int, callers: int, op) -> None:
    latencies: list[float] = []
    todo = iter(range(count))

    async def caller() -> None:
        for i in todo:
            t = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    print(f"{name:<18} {count / wall:8.0f} ops/s   p50 {1000 * q[49]:6.2f} ms   p99 {1000 * q[98]:6.2f} ms")


async def main(url: str, count: int, callers: int) -> None:
    tenant = "bench" + uuid.uuid4().hex[:8]
    client = await connect(url, max_connections=callers + 4)
    store = CustomerStore(client, tenant, time.time)
    ids: list[str] = [""] * count
    try:
        print(f"{count} operations each, {callers} concurrent callers, tenant {tenant}")

        async def new(i: int) -> None:
            ids[i] = await store.identify({"phone": f"+1202555{i % 10000:04d}", "email": f"c{i}@example.com"},
                                          contact_id=f"k{i}")

        await measure("identify (new)", count, callers, new)
        await measure("identify (known)", count, callers, lambda i: store.identify({"email": f"c{i}@example.com"}))
        await measure("append message", count, callers,
                      lambda i: store.append(ids[i], message(time.time(), "customer", "hello", channel="chat",
                                                             contact=f"k{i}")))
        await measure("for_offer", count, callers, lambda i: store.for_offer(ids[i]))
        await measure("erase", min(count, 500), callers, lambda i: store.erase(ids[i]))
    finally:
        await client.aclose()
        delete_tenant_keys([url], tenant)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=16)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(main(url, args.count, args.callers))
    else:
        with tempfile.TemporaryDirectory() as d:
            server = RedisServer.start(Path(d), "--save", "", "--appendonly", "no")
            try:
                asyncio.run(main(server.url, args.count, args.callers))
            finally:
                server.stop()
