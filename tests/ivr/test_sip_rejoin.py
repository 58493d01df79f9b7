"""A caller who hangs up while queued and calls again (same caller ID) within ``ivr.rejoin_window`` gets
their old place back, over real SIP: callers A then B wait in sales, A hangs up and calls again; within
the window A's new call is offered before B (it skips the menu and hears ``welcome_back``); outside it, A
goes through the menu to the back of the line."""

from __future__ import annotations

import asyncio
import json

from router.events import EventType
from router.lifecycle import AgentState
from tests.ivr.test_sip_flow import ivr_stack
from tests.telephony import sipp

IVR = """
ivr:
  languages: [en]
  rejoin_window: {window}
  prompts:
    main: {{en: For sales press 2.}}
    welcome_back: {{en: Welcome back. You keep your place in line.}}
  flows:
    main:
      start: main_menu
      nodes:
        main_menu: {{type: menu, prompt: main, options: {{"2": sales}}}}
        sales: {{type: queue, queue: sales}}
"""
A, B = "+12025550143", "+12025550144"  # valid numbers (fictional range): a profile per caller ID


async def _a_b_then_a_again(tmp_path, stack, *, pause: float):
    """A queues, B queues after A, A hangs up, (``pause`` s later) A calls again and waits; returns the
    first contacts of A and B, A's new contact, and the first offer once an agent is available."""

    def start(name: str, caller_id: str, hold_ms: int, media: int) -> sipp.Sipp:
        scenario = sipp.caller("2", hold_ms=hold_ms, caller_id=caller_id)
        return sipp.start_sipp(scenario, tmp_path, name, target=stack.target, media_port=stack.ports.media + media)

    def arrivals_of(caller_id: str) -> list:
        found = stack.of_type(EventType.CONTACT_ARRIVED)
        return [e for e in found if json.loads(e.contact["attrs"])["caller_id"] == caller_id]

    calls = [start("a_first", A, 5000, 0)]
    try:
        first = (await stack.wait_for(lambda: arrivals_of(A), 30, "A's arrival"))[0].contact
        calls.append(start("b", B, 60000, 10))
        b = (await stack.wait_for(lambda: arrivals_of(B), 30, "B's arrival"))[0].contact
        assert await asyncio.to_thread(calls[0].wait, 30) == 0, calls[0].output()  # A hung up while queued
        abandoned = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, first["id"])
        assert abandoned.extra["reason"] == "caller_hangup"
        await asyncio.sleep(pause)
        calls.append(start("a_again", A, 60000, 20))
        again = (await stack.wait_for(lambda: arrivals_of(A)[1:], 30, "A's second call"))[0]
        await stack.router_client.set_agent_state("a1", AgentState.AVAILABLE)
        offer = await stack.wait_event(EventType.CONTACT_OFFERED, 10)
    finally:
        for call in calls:
            call.stop()
    return first, b, again, offer


async def test_a_caller_back_within_the_window_is_offered_before_the_caller_who_came_after(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with ivr_stack(tmp_path, redis_url, tenant, monkeypatch, IVR.format(window=120)) as stack:
        first, b, again, offer = await _a_b_then_a_again(tmp_path, stack, pause=0)
        logs = stack.worker_logs()
    assert again.extra.get("rejoined") == first["id"]
    new = again.contact
    assert new["id"] != first["id"] and new["customer"] == first["customer"]
    assert (new["queue"], new["seq"], new["enqueued_at"]) == (first["queue"], first["seq"], first["enqueued_at"])
    assert float(new["enqueued_at"]) < float(b["enqueued_at"])
    assert offer.contact["id"] == new["id"], "A's old place is ahead of B"
    assert f"call {new['id']} rejoins sales" in logs
    assert f"call {new['id']} queued in" not in logs  # straight back in line: not through the menu


async def test_a_caller_back_after_the_window_goes_through_the_menu_to_the_back_of_the_line(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with ivr_stack(tmp_path, redis_url, tenant, monkeypatch, IVR.format(window=1)) as stack:
        first, b, again, offer = await _a_b_then_a_again(tmp_path, stack, pause=2.5)
    assert again.contact["customer"] == first["customer"]  # the same caller: only the window decided
    assert "rejoined" not in again.extra
    assert int(again.contact["seq"]) > int(b["seq"])
    assert float(again.contact["enqueued_at"]) > float(b["enqueued_at"])
    assert offer.contact["id"] == b["id"], "B waited longer than A's new call"
