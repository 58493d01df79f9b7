"""``omniroute demo`` against a live gateway, router and Redis: its scripted customers get routed and served."""

from __future__ import annotations

import asyncio
from collections import Counter

from router.events import EventType
from router.gateway.demo import Demo, DemoSettings
from tests.gateway.stack import Stack, gateway_config


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
