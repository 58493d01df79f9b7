"""The IVR worker pool and Kamailio in front of it: started, supervised, stopped.

:class:`WorkerPool` runs ``telephony.workers`` worker processes (``python -m telephony.worker``), each on
its own SIP port. A worker that exits while the pool runs (a crash, ``kill -9``) is restarted after
``restart_delay``; before that, every contact its callers held (the worker's set in Redis) is ended: a
waiting one is abandoned with reason ``worker_lost``, a connected one completed with that disposition, so
no contact is left stuck waiting for a call that no longer exists. A waiting caller so cut off who calls
again within ``ivr.rejoin_window`` gets the old place back, as after hanging up.

The pool also reads the router's event stream once for all its workers and hands each worker the events
about its own calls (:mod:`telephony.events`).

:func:`run_telephony` is what ``omniroute serve`` calls when ``telephony.enabled``: Kamailio plus the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from router.client import RouterClient
from router.config.model import Config
from router.errors import StaleDecision
from router.store import RedisStore, connect
from telephony import state as w
from telephony.events import forward
from telephony.kamailio import Kamailio, die_with_parent

log = logging.getLogger(__name__)

WAITING = ("queued", "offered")
CONNECTED = ("connected",)


class WorkerPool:
    """Worker processes for ``config`` (read from ``config_path``), supervised against ``redis_url``."""

    def __init__(
        self,
        config: Config,
        config_path: str,
        redis_url: str,
        *,
        flow: str = w.DEFAULT_FLOW,
        log_dir: Path | None = None,
        python: str = sys.executable,
    ) -> None:
        self.config = config
        self.tel = config.telephony
        self.config_path = config_path
        self.redis_url = redis_url
        self.flow = flow
        self.log_dir = log_dir
        self.python = python
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.restarts: dict[int, int] = dict.fromkeys(range(self.tel.workers), 0)
        self._stopping = False
        self._store: RedisStore | None = None

    def worker_id(self, index: int) -> str:
        return w.worker_id(self.tel.host, self.tel.worker_port + index)

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        cmd = [self.python, "-m", "telephony.worker", "--config", self.config_path, "--redis", self.redis_url,
               "--index", str(index), "--flow", self.flow]  # fmt: skip
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"worker{index}.log").open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                *cmd,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT if out else None,
                stdin=asyncio.subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        finally:
            if out is not None:
                out.close()
        self.processes[index] = process
        return process

    async def _ready(self, index: int, process: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
        """Wait for the worker's first beat (it listens and has Redis) or its exit."""
        key = w.worker_key(self._store.keys.prefix, self.worker_id(index))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"telephony worker {index} exited with {process.returncode} while starting")
            if await self._store.client.hget(key, "pid") == str(process.pid):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"telephony worker {index} did not start within {timeout}s")

    async def end_contacts_of(self, index: int) -> list[str]:
        """End the contacts a dead worker's callers held; returns their ids."""
        store = self._store
        wid = self.worker_id(index)
        key = w.worker_contacts_key(store.keys.prefix, wid)
        client = RouterClient(store)
        ended = []
        window = float(getattr(self.config.ivr, "rejoin_window", 0.0) or 0.0)
        for cid in sorted(await store.client.smembers(key)):
            state, agent, customer = await store.client.hmget(store.keys.contact(cid), ["state", "agent", "customer"])
            try:
                if state in WAITING:
                    await client.abandon(cid, "worker_lost")
                    if window > 0 and customer:
                        # The caller did not hang up: the call was lost. Calling back within the rejoin
                        # window takes this place again, as after a hang-up (tel_left, tel_rejoin).
                        note = [w.rejoin_key(store.keys.prefix, customer), store.keys.contact(cid)]
                        await store.eval("tel_left", note, [cid, repr(window)])
                elif state in CONNECTED:
                    await client.complete(cid, agent or "", disposition="worker_lost")
                ended.append(cid)
            except StaleDecision as exc:
                log.warning("contact %s of lost worker %s: %s", cid, wid, exc)
            await store.eval("tel_hold", [key], ["drop", cid, w.HOLD_TTL])
        return ended

    async def _supervise(self, index: int, stop: asyncio.Event) -> None:
        process = self.processes[index]
        while True:
            watch = asyncio.create_task(self._watch_heartbeat(index, process))
            code = await process.wait()
            watch.cancel()
            if self._stopping or stop.is_set():
                return
            ended = await self.end_contacts_of(index)
            log.warning(
                "telephony worker %d exited with %s; %d of its contacts ended (worker_lost); restarting",
                index,
                code,
                len(ended),
            )
            await asyncio.sleep(self.tel.restart_delay)
            if self._stopping or stop.is_set():
                return
            self.restarts[index] += 1
            process = await self._spawn(index)
            try:
                await self._ready(index, process)
            except RuntimeError as exc:
                log.error("%s", exc)

    async def _watch_heartbeat(self, index: int, process: asyncio.subprocess.Process) -> None:
        """A worker alive but silent (its heartbeat key expired: stuck, or its event loop blocked) is
        killed, so :meth:`_supervise` ends its calls and restarts it like any dead worker."""
        key = w.worker_key(self._store.keys.prefix, self.worker_id(index))
        grace = max(2.0, 3 * self.tel.heartbeat)
        while process.returncode is None:
            await asyncio.sleep(grace)
            if self._stopping:
                return
            if process.returncode is None and not await self._store.client.exists(key):
                log.error("telephony worker %d stopped beating for %.1fs: killing it", index, grace)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                return

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        client = await connect(self.redis_url, tenant=self.config.tenant)
        self._store = RedisStore(client, self.config)
        self._store.add_scripts("telephony", w.SCRIPTS)
        supervisors: list[asyncio.Task] = []
        forwarder = asyncio.create_task(
            forward(
                self._store,
                {self.worker_id(i) for i in range(self.tel.workers)},
                callbacks=bool(self.tel.callback_uri),
                handle_times=getattr(self.config.ivr, "announce", None) is not None,
            ),
            name="forward-events",
        )
        forwarder.add_done_callback(_forwarder_ended)
        try:
            for index in range(self.tel.workers):
                await self.end_contacts_of(index)  # left by a previous run that died with its workers
                await self._spawn(index)
            await asyncio.gather(*(self._ready(i, p) for i, p in self.processes.items()))
            supervisors = [asyncio.create_task(self._supervise(i, stop)) for i in range(self.tel.workers)]
            log.info("telephony: %d IVR workers on ports %s", self.tel.workers, self.tel.worker_ports())
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            self._stopping = True
            await self._terminate()
            for task in (*supervisors, forwarder):
                task.cancel()
            await client.aclose()

    async def _terminate(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


def _forwarder_ended(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telephony: the event forwarder failed; workers get no router events", exc_info=task.exception())


async def run_telephony(
    config: Config, redis_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None, *, flow: str | None = None
) -> None:
    """Kamailio and the worker pool until ``stop`` (what ``omniroute serve`` runs when telephony is enabled).

    ``flow`` (module:function starting a caller's IVR flow) defaults to $OMNIROUTE_IVR_FLOW, else the IVR's own.
    """
    tel = config.telephony
    flow = flow or os.environ.get("OMNIROUTE_IVR_FLOW") or w.DEFAULT_FLOW
    pool = WorkerPool(config, str(Path(config.source).resolve()), redis_url, flow=flow)
    kamailio = Kamailio(tel)
    pool_ready = asyncio.Event()
    task = asyncio.create_task(pool.run(stop, pool_ready))
    waiter = asyncio.create_task(pool_ready.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raises why the pool could not start
        return
    try:
        await asyncio.get_running_loop().run_in_executor(None, kamailio.start)
        print(f"  SIP (callers)  sip:{tel.host}:{tel.sip_port}  ({tel.workers} IVR workers)", flush=True)
        if ready is not None:
            ready.set()
        await task
    finally:
        await asyncio.get_running_loop().run_in_executor(None, kamailio.stop)  # off the loop: it may take seconds
        if not task.done():
            stop.set()
            await task


__all__ = ["WorkerPool", "run_telephony"]
