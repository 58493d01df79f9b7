"""``omniroute serve``: the long-running process (the router; later the gateway and IVR beside it)."""

from __future__ import annotations

import asyncio
import logging
import signal

from router import compiled
from router.config.model import Config
from router.engine import LiveRouter
from router.gateway.server import Gateway
from router.store import RedisStore, connect
from router.tap import EventTap

log = logging.getLogger(__name__)


async def serve(
    config: Config, redis_url: str, *, ready: asyncio.Event | None = None, gateway: bool = True
) -> None:
    """Run the router (and the websockets gateway) for ``config`` against ``redis_url`` until SIGINT or SIGTERM."""
    client = await connect(redis_url, tenant=config.tenant)
    store = RedisStore(client, config)
    tap = EventTap(store)  # one reader of the event stream for the router and the gateway
    router = LiveRouter(store, config, events=tap)
    stop = asyncio.Event()

    def stopping() -> None:
        router.stop()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping)
    tasks = [asyncio.create_task(router.run(), name="router")]
    build = "compiled" if all(s == "compiled" for s in compiled.status().values()) else "pure Python (slower)"
    log.info(
        "router running for tenant %s (%d queues, %d agents; routing core %s)",
        config.tenant,
        len(config.queues),
        len(config.agents),
        build,
    )
    if gateway:
        gateway_ready = asyncio.Event()
        gw = Gateway(config, RedisStore(client, config), events=tap)
        tasks.append(asyncio.create_task(gw.run(stop, gateway_ready), name="gateway"))
        waiter = asyncio.create_task(gateway_ready.wait())
        await asyncio.wait([waiter, tasks[-1]], return_when=asyncio.FIRST_COMPLETED)
        if tasks[-1].done():
            tasks[-1].result()  # raises why the gateway could not start (e.g. the port is taken)
        s = gw.settings
        scheme = "https" if s.tls_cert else "http"
        base = f"{scheme}://{s.host}:{gw.port}"
        print(f"  agent desktop  {base}/agent", flush=True)
        print(f"  web chat       {base}/chat", flush=True)
        print(f"  wallboard      {base}/wallboard", flush=True)
        print(f"  metrics        {base}/metrics", flush=True)
    if getattr(config.telephony, "enabled", False):  # Kamailio and the IVR worker pool (telephony/pool.py)
        tasks.append(asyncio.create_task(_telephony(config, redis_url, stop), name="telephony"))
    if ready is not None:
        ready.set()
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stopping()
        await asyncio.gather(*tasks)
    finally:
        await tap.close()
        await client.aclose()
        log.info("router stopped: %s", router.stats)


async def _telephony(config: Config, redis_url: str, stop: asyncio.Event) -> None:
    from telephony.pool import run_telephony  # imported only when telephony is enabled

    await run_telephony(config, redis_url, stop)
