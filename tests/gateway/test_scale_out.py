"""Two ``omniroute serve`` processes on one Redis: a customer on B chats with an agent on A; A dies.

Liveness: each process refreshes ``or:{tenant}:gw:<id>`` with a TTL of three heartbeats (here
``gateway.heartbeat: 1``, so 3 s); the survivors check every tick (1 s), so a dead process's agents lose
their outstanding offers within four heartbeat periods of its death.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from router.config import loads
from router.store import RedisStore, connect
from tests.gateway.stack import Peer, agent, customer, gateway_yaml
from tests.support import UNIT, free_port


def _serve(config: Path, redis_url: str, port: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "router.cli",
                "serve",
                "--config",
                str(config),
                "--redis",
                redis_url,
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    deadline = time.time() + 20 * UNIT
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"omniroute serve did not come up on port {port}:\n{log.read_text()[-2000:]}")


async def test_two_processes_share_routing_and_survive_a_kill(redis_url: str, tenant: str, tmp_path: Path) -> None:
    text = gateway_yaml(tenant, grace=30)
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(text)
    config = loads(text)
    port_a, port_b = free_port(), free_port()
    a = _serve(config_file, redis_url, port_a, tmp_path / "a.log")
    b = _serve(config_file, redis_url, port_b, tmp_path / "b.log")
    client = await connect(redis_url, tenant=tenant)
    store = RedisStore(client, config)
    try:
        url_a, url_b = f"ws://127.0.0.1:{port_a}", f"ws://127.0.0.1:{port_b}"
        ana = await agent(url_a, "a1")
        maria, first = await customer(url_b, "hello from B")
        offer = await ana.expect("offer", timeout=10)
        assert offer["contact"]["id"] == first["contact"]
        await ana.call("accept", offer=offer["offer"])
        assert (await maria.expect("agent_joined"))["agent_name"] == "Ana"
        await ana.call("message", contact=first["contact"], text="hello from A")
        assert (await maria.expect("message", **{"from": "agent"}))["text"] == "hello from A"
        await maria.call("message", text="across processes")
        assert (await ana.expect("message", **{"from": "customer", "text": "across processes"}))["contact"]

        joao, second = await customer(url_b, "me too")
        pending = await ana.expect("offer", timeout=10)
        assert pending["contact"]["id"] == second["contact"]

        a.send_signal(signal.SIGKILL)
        a.wait(10)
        killed = time.monotonic()
        while (await store.contact(second["contact"]))["state"] != "queued":
            assert time.monotonic() - killed < 4 * UNIT + 1, "the dead process's offer was not revoked in time"
            await asyncio.sleep(0.1)
        revoked_after = time.monotonic() - killed
        assert (await store.contact(first["contact"]))["state"] == "connected"  # held for the grace period
        assert (await store.agent("a1"))["reason"] == "disconnected"

        back = await Peer.open(url_b, "/v1/agent")
        login = await back.call("login", agent="a1", token="tok-a1")
        assert login["resumed"] is True and login["state"] == "available"
        assert [c["id"] for c in login["contacts"]] == [first["contact"]]
        again = await back.expect("offer", timeout=10)  # the revoked contact, offered afresh
        assert again["contact"]["id"] == second["contact"]
        await back.call("message", contact=first["contact"], text="back, on B")
        assert (await maria.expect("message", **{"from": "agent", "text": "back, on B"}))["contact"]
        print(f"offer of the killed process revoked after {revoked_after:.1f} s")
        for p in (maria, joao, back):
            await p.close()
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        await client.aclose()
