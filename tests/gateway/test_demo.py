"""``omniroute demo`` against a live gateway, router and Redis: its scripted customers get routed and served."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

from router.events import EventType
from router.gateway.demo import Demo, DemoSettings
from tests.gateway.stack import Stack, gateway_config, gateway_yaml

OMNIROUTE = (sys.executable, "-m", "router.cli")


async def test_the_demo_routes_and_completes_web_and_whatsapp_contacts(redis_url: str, tenant: str) -> None:
    lines: list[str] = []
    async with Stack(gateway_config(tenant), redis_url) as s:
        first_event = await s.store.last_event_id()
        settings = DemoSettings(
            url=s.url,
            agents=("a1", "a2"),  # a3 stays free, as a human would use it
            token_prefix="tok-",
            connector="wa",
            connector_token="tok-wa",
            topics=("buying", "help", ""),
            rate=150.0,  # customers a minute
            web_share=0.5,
            leave_share=0.2,
            break_share=0.0,
            pace=0.03,
            duration=6.0,
            report_every=2.0,
            seed=7,
        )
        stats = await Demo(settings, out=lines.append).run(asyncio.Event())
        events = await s.store.read_events(first_event, block_ms=None, count=100_000)
        agent_states = {a: (await s.store.agent(a)).get("state") for a in ("a1", "a2", "a3")}

    enqueued = Counter(e.contact["channel"] for e in events if e.type == EventType.CONTACT_ARRIVED)
    accepted = [e for e in events if e.type == EventType.CONTACT_ACCEPTED]
    completed = [e for e in events if e.type == EventType.CONTACT_COMPLETED]
    assert enqueued["chat"] == stats.arrived_web > 0, (enqueued, stats)
    assert enqueued["whatsapp"] == stats.arrived_whatsapp > 0, (enqueued, stats)
    assert {e.contact["agent"] for e in accepted} <= {"a1", "a2"}
    assert len(accepted) == stats.answered > 0
    assert len(completed) >= stats.completed > 0
    channels_served = {e.contact["channel"] for e in completed}
    assert channels_served == {"chat", "whatsapp"}, channels_served
    dispositions = {e.extra.get("disposition") for e in completed}
    assert dispositions and "" not in dispositions, dispositions
    assert stats.errors == 0, stats
    assert len(lines) >= 3 and lines[-1].endswith("(stopped)"), lines
    # At the end the scripted agents completed what they held and logged off; a3 was never touched.
    assert agent_states["a1"] == agent_states["a2"] == "offline", agent_states
    assert agent_states["a3"] in (None, "offline"), agent_states


async def test_omniroute_demo_command_runs_against_a_live_gateway(redis_url: str, tenant: str, tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(gateway_yaml(tenant))
    async with Stack(gateway_config(tenant), redis_url) as s:
        first_event = await s.store.last_event_id()
        proc = await asyncio.create_subprocess_exec(
            *OMNIROUTE,
            "demo",
            "--config",
            str(config),
            "--url",
            s.url,
            "--leave-free",
            "a3",
            "--token-prefix",
            "tok-",
            "--connector",
            "wa",
            "--connector-token",
            "tok-wa",
            "--rate",
            "120",
            "--pace",
            "0.03",
            "--duration",
            "4",
            "--report-every",
            "1",
            "--seed",
            "3",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        events = await s.store.read_events(first_event, block_ms=None, count=100_000)
    text = out.decode()
    assert proc.returncode == 0, (text, err.decode())
    assert "2 scripted agents (a1, a2)" in text, text
    assert re.search(r"demo 00:0\d  arrived [1-9]\d* .* completed [1-9]", text), text
    assert text.rstrip().endswith("(stopped)"), text
    assert any(e.type == EventType.CONTACT_COMPLETED for e in events)


def test_omniroute_demo_explains_bad_arguments_and_an_unreachable_server(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(gateway_yaml("demo-args"))
    bad = subprocess.run(
        [*OMNIROUTE, "demo", "--config", str(config), "--agents", "a1,zz", "--connector", "nope", "--rate", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "demo: --rate must be above 0" in bad.stderr
    assert "demo: --agents: no agent 'zz'" in bad.stderr
    assert "demo: --connector: no connector 'nope'" in bad.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    down = subprocess.run(
        [*OMNIROUTE, "demo", "--config", str(config), "--url", f"ws://127.0.0.1:{port}", "--connector", "wa"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1
    assert "is `omniroute serve` running?" in down.stderr, down.stderr
