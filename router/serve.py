"""``omniroute serve``: the long-running process (the router; later the gateway and IVR beside it)."""

from __future__ import annotations

import asyncio
import logging
import signal

from router.config.model import Config
from router.engine import LiveRouter
from router.store import RedisStore, connect

log = logging.getLogger(__name__)


async def serve(config: Config, redis_url: str, *, ready: asyncio.Event | None = None) -> None:
    """Run the router for ``config`` against ``redis_url`` until SIGINT or SIGTERM."""
    client = await connect(redis_url, tenant=config.tenant)
    store = RedisStore(client, config)
    router = LiveRouter(store, config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, router.stop)
    task = asyncio.create_task(router.run())
    log.info(
        "router running for tenant %s (%d queues, %d agents)", config.tenant, len(config.queues), len(config.agents)
    )
    if ready is not None:
        ready.set()
    try:
        await task
    finally:
        await client.aclose()
        log.info("router stopped: %s", router.stats)
