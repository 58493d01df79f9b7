"""`omniroute serve` with telephony enabled: Kamailio and the worker pool come up, take a call, and go away."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from telephony.kamailio import _listening_udp
from tests.telephony import sipp
from tests.telephony.harness import Ports, voice_yaml, write_wav

ROOT = Path(__file__).resolve().parents[2]


async def test_serve_runs_kamailio_and_the_pool_and_stops_them(tmp_path, redis_url, tenant):
    ports = Ports(2)
    (tmp_path / "prompts").mkdir()
    for name in ("main", "sub"):
        write_wav(tmp_path / "prompts" / f"{name}.wav", 3)
    write_wav(tmp_path / "moh.wav", 2)
    config = tmp_path / "routing.yaml"
    config.write_text(
        voice_yaml(tenant, ports, workers=2, offer_timeout=20, allow="[127.0.0.0/8]", flood="{requests: 200, per: 2}")
    )
    env = {
        **os.environ,
        "OMNIROUTE_IVR_FLOW": "tests.telephony.flows:menu",
        "OMNIROUTE_TEST_PROMPTS": str(tmp_path / "prompts"),
    }
    omniroute = Path(sys.executable).parent / "omniroute"
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [str(omniroute), "serve", "--config", str(config), "--redis", redis_url, "--no-gateway"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "SIP (callers)" not in (tmp_path / "serve.log").read_text():
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            await asyncio.sleep(0.1)
        caller = sipp.start_sipp(
            sipp.caller("2", hold_ms=1500), tmp_path, "caller", target=f"127.0.0.1:{ports.sip}", media_port=ports.media
        )
        assert await asyncio.to_thread(caller.wait, 20) == 0, caller.output()
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        entries = r.xrange(f"or:{{{tenant}}}:events")
        kinds = [fields["type"] for _, fields in entries]
        assert kinds.count("contact.arrived") == 1 and kinds.count("contact.abandoned") == 1, kinds
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(20) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        log.close()
    assert not _listening_udp(ports.sip)  # Kamailio stopped
    assert not any(_listening_udp(p) for p in range(ports.worker, ports.worker + 2))  # and the workers
