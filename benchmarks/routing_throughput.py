"""Routing throughput and enqueue-to-offer latency, through real router processes and real Redis.

Run by hand (not a test):

    .venv/bin/python benchmarks/routing_throughput.py            # private Redis on a free port
    REDIS_URL=redis://127.0.0.1:6390/0 .venv/bin/python benchmarks/routing_throughput.py

For 1 and then 2 ``omniroute serve`` processes it measures:

1. throughput: contacts pushed as fast as possible (pipelined batches) while agents accept at once and
   complete after 0 s (pipelined too); contacts per second through the whole lifecycle
   (arrive, offer, accept, complete/done), wall clock from first enqueue to last done;
2. latency: contacts pushed at a fixed rate (default 1,000/s); p50/p99 of enqueue-to-offer, taken
   from the event stream (the offered event's time minus the contact's enqueue time, both wall clock
   on this machine).

The load generators are two more processes (one enqueues, one plays the agents), so on a 2-core
machine the router, Redis and the generators share the cores: the figures are for the whole system.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from router.config import load  # noqa: E402
from router.events import EventType  # noqa: E402
from router.lifecycle import AgentState  # noqa: E402
from router.store import RedisStore, connect  # noqa: E402


def config_yaml(tenant: str, agents: int) -> str:
    lines = [
        f"tenant: {tenant}",
        "routing: {offer_timeout: 30, aging: {every: 0}}",
        "channels: {voice: {capacity: 1, exclusive: true}}",
        "skills: [sales]",
        "queues: {sales: {channels: [voice], skills: {sales: 1}}}",
        "agents:",
    ]
    lines += [f"  - {{id: b{i:05d}, name: b{i}, skills: {{sales: 5}}, channels: [voice]}}" for i in range(agents)]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple[str, subprocess.Popen, str]:
    if not shutil.which("redis-server"):
        sys.exit("redis-server not found: run `make test` once (it installs it) or apt-get install redis-server")
    port = free_port()
    data = tempfile.mkdtemp(prefix="omniroute-bench-redis-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return f"redis://127.0.0.1:{port}/0", proc, data


# -- the two load generators, each in its own process ------------------------------------------------


def run_pusher(url: str, config_path: str, n: int, rate: float | None, batch: int, cpu) -> None:
    async def main() -> None:
        config = load(config_path)
        store = RedisStore(await connect(url, tenant=config.tenant), config)
        await store.load_scripts()
        start = time.time()
        sent = 0
        while sent < n:
            size = min(batch, n - sent)
            now = time.time()
            await store.enqueue_many([(f"k{sent + i:07d}", "sales", "voice") for i in range(size)], now)
            sent += size
            if rate:
                delay = start + sent / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)

    asyncio.run(main())
    cpu.put(("pusher", time.process_time()))


def run_agents(url: str, config_path: str, n: int, after: str, cpu) -> None:
    """Accept every offer at once and complete it at once, in pipelined batches, until n are done."""

    async def main() -> None:
        config = load(config_path)
        store = RedisStore(await connect(url, tenant=config.tenant), config)
        await store.load_scripts()
        done = 0
        last = after
        while done < n:
            entries = await store.read_entries(last, block_ms=1000, count=2000)
            offers = []
            for entry_id, fields in entries:
                last = entry_id
                kind = fields["type"]
                if kind == EventType.CONTACT_OFFERED:
                    c = json.loads(fields["contact"])
                    offers.append((c["id"], c["agent"], c["offer_id"], c["queue"]))
                elif kind == EventType.CONTACT_DONE:
                    done += 1
            if offers:
                now = time.time()
                await store.accept_many(offers, now)
                await store.complete_many([(cid, aid, q, "") for cid, aid, _, q in offers], now)

    asyncio.run(main())
    cpu.put(("agents", time.process_time()))


async def prepare(url: str, config_path: str) -> tuple[RedisStore, str]:
    config = load(config_path)
    store = RedisStore(await connect(url, tenant=config.tenant), config)
    await store.delete_tenant()
    await store.load_scripts()
    now = time.time()
    for agent_id in config.agents:
        await store.set_agent_state(agent_id, AgentState.AVAILABLE, now)
    return store, await store.last_event_id()


async def latencies(store: RedisStore, after: str) -> list[float]:
    out = []
    for ev in await store.events_between(f"({after}" if after != "0-0" else "-"):
        if ev.type == EventType.CONTACT_OFFERED:
            out.append(ev.at - float(ev.contact["enqueued_at"]))
    return out


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def one_run(url: str, config_path: str, routers: int, n: int, rate: float | None, batch: int) -> dict:
    _store, after = asyncio.run(prepare(url, config_path))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--config", config_path, "--redis", url, "--no-gateway"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(routers)
    ]
    time.sleep(1.0)  # routers load their mirrors
    ctx = mp.get_context("spawn")
    cpu = ctx.Queue()
    agents = ctx.Process(target=run_agents, args=(url, config_path, n, after, cpu))
    pusher = ctx.Process(target=run_pusher, args=(url, config_path, n, rate, batch, cpu))
    redis_cpu = asyncio.run(_redis_cpu(url))
    router_cpu = [_proc_cpu(p.pid) for p in procs]
    agents.start()
    t0 = time.time()
    pusher.start()
    pusher.join()
    agents.join()
    elapsed = time.time() - t0
    used = dict(cpu.get() for _ in range(2))
    used["redis"] = asyncio.run(_redis_cpu(url)) - redis_cpu
    used["router"] = sum(_proc_cpu(p.pid) - before for p, before in zip(procs, router_cpu, strict=True))
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=10)
    lat = asyncio.run(_latencies(url, config_path, after))
    return {
        "routers": routers,
        "contacts": n,
        "seconds": elapsed,
        "per_second": n / elapsed,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "cpu": used,
    }


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _redis_cpu(url: str) -> float:
    client = await connect(url)
    info = await client.info("cpu")
    await client.aclose()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _cpu_line(t: dict) -> str:
    return "CPU s/s: " + ", ".join(f"{k} {v / t['seconds']:.2f}" for k, v in sorted(t["cpu"].items()))


async def _latencies(url: str, config_path: str, after: str) -> list[float]:
    store = RedisStore(await connect(url, tenant="bench"), load(config_path))
    return await latencies(store, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=50_000, help="contacts in the throughput run")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000.0, help="contacts/s in the latency run")
    parser.add_argument("--latency-contacts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=64, help="enqueues per pipelined batch")
    parser.add_argument("--routers", default="1,2")
    args = parser.parse_args()

    own = None
    url = os.environ.get("REDIS_URL")
    if not url:
        url, own, _data = start_redis()
    workdir = Path(tempfile.mkdtemp(prefix="omniroute-bench-"))
    config_path = workdir / "routing.yaml"
    config_path.write_text(config_yaml("bench", args.agents))
    print(f"redis {url}, {args.agents} agents, {os.cpu_count()} cores")
    try:
        for routers in [int(r) for r in args.routers.split(",")]:
            t = one_run(url, str(config_path), routers, args.contacts, None, args.batch)
            print(
                f"throughput  routers={routers}  {t['contacts']} contacts in {t['seconds']:.2f} s = "
                f"{t['per_second']:,.0f} contacts/s through the whole lifecycle "
                f"(enqueue-to-offer p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms under overload)"
            )
            print(f"            {_cpu_line(t)}")
            lat = one_run(url, str(config_path), routers, args.latency_contacts, args.rate, 1)
            print(
                f"latency     routers={routers}  at {args.rate:,.0f} contacts/s: enqueue-to-offer "
                f"p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms ({lat['per_second']:,.0f} contacts/s done)"
            )
            print(f"            {_cpu_line(lat)}")
    finally:
        asyncio.run(_cleanup(url, str(config_path)))
        if own is not None:
            own.terminate()


async def _cleanup(url: str, config_path: str) -> None:
    store = RedisStore(await connect(url, tenant="bench"), load(config_path))
    await store.delete_tenant()


if __name__ == "__main__":
    main()
