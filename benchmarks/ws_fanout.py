"""Websockets fan-out: many agents on one gateway process, offers at a steady rate, latency at the agent.

Run by hand (not a test):

    .venv/bin/python benchmarks/ws_fanout.py                       # 10,000 agents, 500 contacts/s, 30 s
    .venv/bin/python benchmarks/ws_fanout.py --agents 2000 --rate 200 --duration 20
    .venv/bin/python benchmarks/ws_fanout.py --redis redis://127.0.0.1:6390/0

What runs (each a separate process, so client CPU does not count against the gateway):

- a private ``redis-server`` (unless ``--redis``);
- ONE ``omniroute serve --config <generated yaml> --redis URL --port P``: the router and the gateway in
  one process, as deployed; the generated routing.yaml has ``--agents`` agents on one chat queue
  (capacity 1) who log in with tokens signed with the gateway's secret (``gateway.token_secret_env``);
- ``--clients`` client processes sharing the agents: each agent opens ``/v1/agent`` (compression off, no
  client pings), logs in, goes available, and then accepts every offer at once and completes it on the
  accept's reply, so it is free again within a few milliseconds; the client processes run without the cyclic
  garbage collector once logged in (a collection stalled a process with 5,000 connections for 30-60 ms, which
  counted against every offer it was reading), and report their own pauses;
- this process enqueues contacts at ``--rate`` per second straight into Redis (RouterClient.enqueue) with
  the wall time in the contact's attributes (``t0``).

Latency is enqueue-to-offer as the agent client sees it: the client's wall clock when the ``offer`` frame
is read minus ``t0``; it includes Redis, the router's decision, the event stream, the gateway's delivery
and the client's own loop. The first ``--warmup`` seconds of traffic are not counted. Memory per
connection is the gateway process's RSS after every agent logged in and went available minus its RSS
before the first connection, divided by the agents (so it includes the session state, not only the socket).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing as mp
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_ENV = "OMNIROUTE_TOKEN_SECRET"
# --gc-log: omniroute serve run with a callback that logs every garbage collection of 5 ms or more.
GC_LOGGER = """
import gc, sys, time
from router.cli import main
started = {}
def log(phase, info):
    if phase == "start":
        started["t"] = time.perf_counter()
    elif started:
        took = time.perf_counter() - started.pop("t")
        if took >= 0.005:
            print(f"gc generation {info['generation']} took {took * 1000:.0f} ms at {time.time():.3f}", flush=True)
gc.callbacks.append(log)
sys.exit(main(sys.argv[1:]))
"""
PROFILE_FORMATS = {".svg": "flamegraph", ".json": "speedscope"}  # anything else: collapsed stacks (text)


def raise_nofile() -> int:
    """Raise this process's soft open-file limit to the hard one; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def config_yaml(tenant: str, agents: int, port: int, heartbeat: float, stats_every: float) -> str:
    lines = [
        f"tenant: {tenant}",
        "routing: {offer_timeout: 30, reject_delay: 0, no_answer_delay: 0}",
        "channels: {chat: {capacity: 1}}",
        "skills: [sales]",
        "queues: {sales: {channels: [chat], skills: {sales: 1}}}",
        f"gateway: {{host: 127.0.0.1, port: {port}, heartbeat: {heartbeat}, stats_every: {stats_every}, "
        f"token_secret_env: {SECRET_ENV}}}",
        "agents:",
    ]
    lines += [f"  - {{id: {agent_id(i)}, name: G{i}, skills: {{sales: 5}}, channels: [chat]}}" for i in range(agents)]
    return "\n".join(lines) + "\n"


def agent_id(i: int) -> str:
    return f"g{i:05d}"


# -- /proc readings ----------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores; /proc/stat, idle and iowait excluded)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run_delay_seconds(pid: int) -> float:
    """Seconds a process's threads spent runnable but waiting for a core (/proc/PID/schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the agent clients, in their own processes --------------------------------------------------------


def client_pauses() -> list[float]:
    """Start noting this client process's own pauses of 10 ms or more (ms): its loop late on a 5 ms timer,
    for whatever kept it from reading its offers (its own work, or no core to run on)."""
    pauses: list[float] = []
    loop = asyncio.get_running_loop()

    def tick(expected: float) -> None:
        late = loop.time() - expected
        if late >= 0.01:
            pauses.append(late * 1000)
        loop.call_at(loop.time() + 0.005, tick, loop.time() + 0.005)

    loop.call_at(loop.time() + 0.005, tick, loop.time() + 0.005)
    return pauses


def run_clients(url: str, ids: list[str], secret: str, ready, stop, out) -> None:
    """One client process: connect and log in ``ids``, then play them until ``stop`` is set."""
    raise_nofile()
    asyncio.run(_clients(url, ids, secret, ready, stop, out))


async def _clients(url: str, ids: list[str], secret: str, ready, stop, out) -> None:
    from websockets.asyncio.client import connect

    from router.gateway.auth import sign

    samples: list[tuple[float, float, str]] = []  # (t0, latency, contact id)
    tally = {"offers": 0, "errors": 0, "closed": 0}
    logged_in = 0
    gate = asyncio.Semaphore(50)  # logins in flight
    connected = asyncio.Event()

    async def request(ws, body: dict) -> dict:
        await ws.send(json.dumps(body))
        while True:
            m = json.loads(await ws.recv())
            if m.get("id") == body["id"] and m["type"] in ("ack", "error"):
                if m["type"] == "error":
                    raise RuntimeError(f"{body['type']} refused: {m}")
                return m

    async def agent(aid: str) -> None:
        nonlocal logged_in
        async with gate:
            ws = await connect(
                url + "/v1/agent", compression=None, ping_interval=None, open_timeout=120, close_timeout=2
            )
            await request(ws, {"type": "login", "id": 1, "agent": aid, "token": sign(aid, secret, 3600)})
            await request(ws, {"type": "state", "id": 2, "state": "available"})
        logged_in += 1
        if logged_in == len(ids):
            connected.set()
        n = 2
        try:
            async for frame in ws:
                m = json.loads(frame)
                kind = m["type"]
                if kind == "offer":
                    now = time.time()
                    t0 = m["contact"]["attrs"].get("t0")
                    if t0 is not None:
                        samples.append((t0, now - t0, m["contact"]["id"]))
                    tally["offers"] += 1
                    n += 1
                    await ws.send(json.dumps({"type": "accept", "id": n, "offer": m["offer"]}))
                elif kind == "ack" and m.get("of") == "accept":
                    n += 1
                    await ws.send(
                        json.dumps({"type": "complete", "id": n, "contact": m["contact"]["id"], "disposition": "ok"})
                    )
                elif kind == "error":
                    tally["errors"] += 1
        except Exception:
            pass
        tally["closed"] += 1

    tasks = [asyncio.create_task(agent(a)) for a in ids]
    while not connected.is_set():
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            ready.put(("failed", repr(failed[0].exception())))
            return
        await asyncio.sleep(0.2)
    ready.put(("ready", len(ids)))
    # No cyclic garbage collection in the client processes while they play the agents: a collection (30-60 ms
    # with 5,000 connections a process, even after gc.freeze()) stalled the process, and every offer it was
    # reading meanwhile counted that much later: a harness pause, not the gateway's (seen in a trace of each
    # offer's hops). Reference counting still frees everything but cycles, for the length of a run.
    gc.disable()
    pauses = client_pauses()
    cpu0 = time.process_time()
    while not stop.is_set():
        await asyncio.sleep(0.1)
    out.put({"samples": samples, "tally": tally, "cpu": time.process_time() - cpu0, "pauses": pauses})
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- the contacts --------------------------------------------------------------------------------------


async def enqueue_at_rate(
    redis_url: str, config_path: str, rate: float, seconds: float
) -> tuple[int, float, float]:
    """Enqueue ``rate`` contacts a second for ``seconds``; returns how many, the wall time of the first and the
    CPU seconds spent from the first (loading the configuration before it not counted)."""
    from router.client import RouterClient
    from router.config import load
    from router.store import RedisStore, connect

    config = load(config_path)
    gc.freeze()  # the configuration's 10,000 agents out of the collector's walks (as in the clients)
    client = await connect(redis_url, tenant=config.tenant)
    router = RouterClient(RedisStore(client, config))
    n = int(rate * seconds)
    start, wall, cpu0 = time.monotonic(), time.time(), time.process_time()
    late = 0.0
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        await router.enqueue("sales", "chat", attrs={"t0": time.time()})
    cpu = time.process_time() - cpu0
    await client.aclose()
    if late > 0.05:
        print(f"  (the enqueuer fell behind its schedule by up to {late * 1000:.0f} ms)")
    return n, wall, cpu


# -- the run ---------------------------------------------------------------------------------------


def offer_times(redis_url: str, tenant: str) -> dict[str, float]:
    """Contact id -> when Redis appended its first ``contact.offered`` event (the stream entry id's ms)."""
    import redis

    r = redis.Redis.from_url(redis_url, decode_responses=True)
    key, start, out = f"or:{{{tenant}}}:events", "-", {}
    while True:
        entries = r.xrange(key, start, "+", count=5000)
        for entry_id, fields in entries:
            if fields.get("type") == "contact.offered":
                out.setdefault(fields.get("cid", ""), int(entry_id.split("-")[0]) / 1000)
        if len(entries) < 5000:
            break
        start = "(" + entries[-1][0]
    r.close()
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"omniroute serve exited ({proc.returncode}); its log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"omniroute serve did not answer {url} within {timeout:.0f}s; its log:\n{log.read_text()[-3000:]}")


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000, help="agent connections (default 10,000)")
    parser.add_argument("--rate", type=float, default=500.0, help="contacts per second (default 500)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured traffic (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of traffic before, not counted (5)")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="gateway.heartbeat, seconds (default 10)")
    parser.add_argument("--stats-every", type=float, default=1.0, help="gateway.stats_every, seconds (default 1)")
    parser.add_argument("--redis", help="use this Redis instead of starting a private one")
    parser.add_argument(
        "--profile",
        help="record omniroute serve with py-spy during the traffic into this file (.svg flame graph, .json "
        "speedscope, else collapsed stacks); needs .venv/bin/pip install py-spy",
    )
    parser.add_argument("--gc-log", action="store_true", help="log garbage collections of 5 ms or more (serve log)")
    parser.add_argument(
        "--samples",
        help="write every offer's enqueue wall time, latency, the time from the enqueue to its offer in Redis "
        "(the stream entry's millisecond) and the contact id (CSV) to this file",
    )
    args = parser.parse_args()

    from tests.support import RedisServer, delete_tenant_keys, free_port

    limit = raise_nofile()
    if args.agents + 100 > limit:
        sys.exit(f"the open-file limit is {limit}: too low for {args.agents} connections in one process")
    work = Path(tempfile.mkdtemp(prefix="omniroute-ws-fanout-"))
    redis_server = None
    if args.redis:
        redis_url = args.redis
    else:
        redis_server = RedisServer.start(work / "redis", "--save", "", "--appendonly", "no")
        redis_url = redis_server.url
    tenant = "wsbench" + uuid.uuid4().hex[:6]
    port = free_port()
    config_path = work / "routing.yaml"
    config_path.write_text(config_yaml(tenant, args.agents, port, args.heartbeat, args.stats_every))
    secret = uuid.uuid4().hex
    log = work / "serve.log"
    base = f"http://127.0.0.1:{port}"
    print(f"ws_fanout: {args.agents} agents, {args.rate:g} contacts/s for {args.warmup:g}+{args.duration:g} s, "
          f"{args.clients} client processes, heartbeat {args.heartbeat:g} s, stats_every {args.stats_every:g} s; "
          f"load average {os.getloadavg()[0]:.2f}; work dir {work}")
    command = ["serve", "--config", str(config_path), "--redis", redis_url]
    serve = subprocess.Popen(
        [sys.executable, "-c", GC_LOGGER, *command] if args.gc_log else [str(ROOT / ".venv/bin/omniroute"), *command],
        env={**os.environ, SECRET_ENV: secret},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        preexec_fn=raise_nofile,  # inherited across exec: the gateway may hold every connection
    )
    ctx = mp.get_context("spawn")
    clients: list = []
    stop = ctx.Event()
    try:
        wait_http(base + "/healthz", serve, log, 60)
        time.sleep(1.0)
        rss_before = rss_bytes(serve.pid)
        ready, out = ctx.Queue(), ctx.Queue()
        ids = [agent_id(i) for i in range(args.agents)]
        random.shuffle(ids)
        t_connect = time.monotonic()
        for k in range(args.clients):
            p = ctx.Process(
                target=run_clients,
                args=(f"ws://127.0.0.1:{port}", ids[k :: args.clients], secret, ready, stop, out),
                daemon=True,
            )
            p.start()
            clients.append(p)
        for _ in clients:
            status, detail = ready.get(timeout=600)
            if status != "ready":
                sys.exit(f"a client process failed to log its agents in: {detail}")
        connect_s = time.monotonic() - t_connect
        time.sleep(2.0)
        rss_after = rss_bytes(serve.pid)
        open_agents = metric(base, 'omniroute_websocket_connections{endpoint="agent"}')
        per_conn = (rss_after - rss_before) / args.agents
        print(f"  connected and logged in {args.agents} agents in {connect_s:.1f} s; gateway reports "
              f"{open_agents:.0f} agent connections")
        print(f"  gateway RSS {rss_before / 2**20:.1f} MiB before, {rss_after / 2**20:.1f} MiB after: "
              f"{per_conn / 1024:.1f} KiB per connection")

        cpu_serve0 = cpu_seconds(serve.pid)
        delay_serve0 = run_delay_seconds(serve.pid)
        cpu_redis0 = cpu_seconds(redis_server.process.pid) if redis_server else 0.0
        load0 = os.getloadavg()
        busy0 = machine_busy_seconds()
        cpu_self0 = time.process_time()
        wall0 = time.monotonic()
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(
                [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(serve.pid), "--output", args.profile,
                 "--format", PROFILE_FORMATS.get(Path(args.profile).suffix, "raw"),
                 "--duration", str(int(args.warmup + args.duration))],
                stdout=subprocess.DEVNULL,
            )
        seconds = args.warmup + args.duration
        sent, t0, cpu_enqueuer = asyncio.run(enqueue_at_rate(redis_url, str(config_path), args.rate, seconds))
        time.sleep(2.0)  # the last offers arrive
        if profiler is not None:
            profiler.wait(timeout=60)
            print(f"  py-spy profile of omniroute serve: {args.profile}")
        wall = time.monotonic() - wall0
        cpu_serve = (cpu_seconds(serve.pid) - cpu_serve0) / wall
        delay_serve = (run_delay_seconds(serve.pid) - delay_serve0) / wall
        cpu_redis = (cpu_seconds(redis_server.process.pid) - cpu_redis0) / wall if redis_server else float("nan")
        load1 = os.getloadavg()
        busy = (machine_busy_seconds() - busy0) / wall
        cpu_enqueuer /= wall
        cpu_self = (time.process_time() - cpu_self0) / wall  # with its loading of the configuration
        stop.set()
        results = [out.get(timeout=60) for _ in clients]
        samples = [s for r in results for s in r["samples"]]
        offers = sum(r["tally"]["offers"] for r in results)
        errors = sum(r["tally"]["errors"] for r in results)
        cpu_clients = sum(r["cpu"] for r in results) / wall
        client_paused = [p for r in results for p in r["pauses"]]
        counted = [lat for start, lat, _ in samples if start >= t0 + args.warmup]
        offered = offer_times(redis_url, tenant)
        routed = [(offered[c] - a, lat) for a, lat, c in samples if a >= t0 + args.warmup and c in offered]
        if args.samples:
            rows = sorted((a, b, offered.get(c, math.nan) - a, c) for a, b, c in samples)
            lines = "".join(f"{a:.6f},{b:.6f},{c:.3f},{d}\n" for a, b, c, d in rows)
            Path(args.samples).write_text("t0,latency_s,offered_s,contact\n" + lines)
        window = int(args.rate * args.duration)
        print(f"  enqueued {sent} contacts; agents got {offers} offers ({errors} error replies)")
        if not counted:
            sys.exit("  no offer reached an agent in the measured window")
        ms = [v * 1000 for v in counted]
        print(f"  enqueue-to-offer at the agent, {len(counted)} of {window} contacts of the measured window:")
        print(f"    p50 {percentile(ms, 50):.2f} ms   p90 {percentile(ms, 90):.2f} ms   p99 {percentile(ms, 99):.2f} ms"
              f"   p99.9 {percentile(ms, 99.9):.2f} ms   max {max(ms):.2f} ms")
        print(f"  CPU s/s: omniroute serve {cpu_serve:.2f}, redis {cpu_redis:.2f}, clients {cpu_clients:.2f}; "
              f"load average {load0[0]:.2f} -> {load1[0]:.2f}")
        print(f"  omniroute serve waited for a core {delay_serve * 1000:.0f} ms a second (runnable, not running)")
        others = busy - cpu_serve - (cpu_redis if redis_server else 0.0) - cpu_clients - cpu_self
        print(
            f"  the machine was busy {busy:.2f} CPU s/s: enqueuer {cpu_enqueuer:.2f} (this process {cpu_self:.2f} "
            f"with its start), other processes {others:.2f}"
        )
        if routed:
            to_redis = [r * 1000 for r, _ in routed]
            to_agent = [(lat - r) * 1000 for r, lat in routed]
            print(
                f"    of which enqueue to the offer in Redis (router; the stream's ms) p50 "
                f"{percentile(to_redis, 50):.1f} ms, p99 {percentile(to_redis, 99):.1f} ms; "
                "offer in Redis to the agent (gateway, client) p50 "
                f"{percentile(to_agent, 50):.1f} ms, p99 {percentile(to_agent, 99):.1f} ms"
            )
        print(
            f"  the client processes paused 10 ms or more {len(client_paused)} times (longest "
            f"{max(client_paused, default=0):.0f} ms): offers read meanwhile count that much later"
        )
        verdict = "met" if percentile(ms, 99) < 20 else "NOT met"
        if args.gc_log:
            pauses = [float(line.split()[4]) for line in log.read_text().splitlines() if line.startswith("gc gen")]
            print(f"  garbage collections of 5 ms or more in omniroute serve: {len(pauses)}, longest "
                  f"{max(pauses, default=0):.0f} ms, {sum(pauses) / 1000:.1f} s in all (see {log})")
        print(f"  target p99 < 20 ms at {args.rate:g}/s with {args.agents} agents: {verdict}")
    finally:
        stop.set()
        for p in clients:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        if redis_server is not None:
            redis_server.stop()
        else:
            delete_tenant_keys([redis_url], tenant)


if __name__ == "__main__":
    main()
