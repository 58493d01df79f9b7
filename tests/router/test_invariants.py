"""Several router processes on one Redis (and on a Redis Cluster), random agents, thousands of contacts:
afterwards the event stream must show no broken invariant, and nothing may be left behind."""

from __future__ import annotations

import asyncio
import random
import signal
import time

from redis.asyncio.cluster import RedisCluster

from router.config import load
from router.store import RedisStore, connect
from tests.router.invariants import RandomAgents, check_stream, invariant_config_yaml, push_contacts, start_router
from tests.support import UNIT

AGENTS = 300
CONTACTS = 5000
RATE = 400.0  # contacts per second
ROUTERS = 3


async def _drive(url: str, config, contacts: int, rate: float, seed: int, *, kill_one=None, cluster=False) -> None:
    # On a cluster the agents' side goes through redis-py's cluster client (routing every script by its
    # keys' slot); the routers talk to the node holding the tenant's slot, so that they can pipeline.
    client = await connect(url) if cluster else await connect(url, tenant=config.tenant)
    if cluster:
        assert isinstance(client, RedisCluster)
    store = RedisStore(client, config)
    await store.load_scripts()
    rng = random.Random(seed)
    agents = RandomAgents(store, rng)
    start_id = await store.last_event_id()
    follower = asyncio.create_task(agents.follow(start_id))
    await agents.login_all()
    started = time.time()
    pushing = push_contacts(store, contacts, rate, rng)
    if kill_one is None:
        await pushing
    else:
        await asyncio.gather(pushing, kill_one(store))
    pushed_at = time.time()
    deadline = pushed_at + 120 * UNIT
    while await client.scard(store.keys.contacts) and time.time() < deadline:
        await asyncio.sleep(0.2)
    print(f"pushed in {pushed_at - started:.1f} s, drained {time.time() - pushed_at:.1f} s later")
    left = await client.scard(store.keys.contacts)
    agents.stopping = True
    await follower
    await asyncio.gather(*agents.tasks, return_exceptions=True)
    events = await store.events_between()
    await client.aclose()
    assert left == 0, f"{left} contacts still open after the run"
    report = check_stream(events, config)
    assert report.arrived == contacts
    assert report.done == contacts
    assert report.violations == [], report.violations[:20]
    # every kind of answer happened, so the run exercised what it claims to
    for kind in ("contact.rejected", "contact.offer_expired", "contact.accepted", "contact.done"):
        assert report.outcomes[kind] > 0, kind


def _run_routers(tmp_path, url, tenant, body, routers=ROUTERS):
    config_path = tmp_path / "routing.yaml"
    config_path.write_text(invariant_config_yaml(tenant, AGENTS))
    config = load(config_path)
    procs = [start_router(config_path, url, tmp_path / f"router{i}.log") for i in range(routers)]
    try:
        asyncio.run(body(config, procs))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except Exception:
                p.kill()
    for i, p in enumerate(procs):
        assert p.returncode in (0, -signal.SIGKILL), (tmp_path / f"router{i}.log").read_text()[-3000:]


def test_three_routers_keep_every_invariant(redis_url, tenant, tmp_path):
    async def body(config, procs):
        await _drive(redis_url, config, CONTACTS, RATE, seed=11)

    _run_routers(tmp_path, redis_url, tenant, body)


def test_three_routers_on_a_redis_cluster_keep_every_invariant(redis_cluster_nodes, tenant, tmp_path):
    host, port = redis_cluster_nodes[0]
    url = f"redis://{host}:{port}/0"

    async def body(config, procs):
        await _drive(url, config, CONTACTS, RATE, seed=12, cluster=True)

    _run_routers(tmp_path, url, tenant, body)


def test_a_router_killed_with_offers_outstanding_loses_nothing(redis_url, tenant, tmp_path):
    """kill -9 the only router mid-run; a new one picks up, and every contact is routed and finished."""

    async def body(config, procs):
        async def kill_and_replace(store):
            await asyncio.sleep(2.0)
            outstanding = [c for c in await _open_contacts(store) if c.get("state") == "offered"]
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait()
            assert outstanding, "no offer was outstanding when the router died"
            await asyncio.sleep(1.5)  # nobody routes now: the offers expire in Redis, untouched
            waiting = [c for c in await _open_contacts(store) if c.get("state") == "queued"]
            assert waiting, "contacts should pile up while no router runs"
            procs.append(start_router(tmp_path / "routing.yaml", redis_url, tmp_path / "router-new.log"))

        await _drive(redis_url, config, 1500, 300.0, seed=13, kill_one=kill_and_replace)

    _run_routers(tmp_path, redis_url, tenant, body, routers=1)


async def _open_contacts(store: RedisStore) -> list[dict[str, str]]:
    ids = await store.client.smembers(store.keys.contacts)
    return [await store.contact(cid) for cid in ids]
