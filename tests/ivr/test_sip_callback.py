"""The flow's ``callback`` node over real SIP: the caller picks a callback in the menu, hears the
confirmation and is let go; a callback contact waits in the queue; when an agent accepts it, a worker
rings the caller's number (``telephony.callback_uri``), then the agent's phone, and bridges them."""

from __future__ import annotations

import asyncio
import json

from router.events import EventType
from tests.ivr.test_sip_flow import ivr_stack
from tests.telephony import sipp

IVR = """
ivr:
  languages: [en]
  prompts:
    main: {en: For sales press 2. To be called back press 3.}
    callback_confirm: {en: We will call you back. Goodbye.}
  flows:
    main:
      start: main_menu
      nodes:
        main_menu: {type: menu, prompt: main, options: {"2": sales, "3": callback}, fallback: sales}
        sales: {type: queue, queue: sales}
        callback: {type: callback, prompt: callback_confirm, queue: sales}
"""


async def test_a_callback_chosen_in_the_menu_is_queued_then_dialled_when_an_agent_accepts(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with ivr_stack(tmp_path, redis_url, tenant, monkeypatch, IVR) as stack:
        caller = sipp.start_sipp(
            sipp.caller("3", hangs_up=False, caller_id="+15550144"), tmp_path, "caller", target=stack.target,
            media_port=stack.ports.media,
        )  # fmt: skip
        try:
            arrived = await stack.wait_event(EventType.CONTACT_ARRIVED, 30)
            assert await asyncio.to_thread(caller.wait, 30) == 0, caller.output()  # confirmed, then let go
        finally:
            caller.stop()
        cid = arrived.contact["id"]
        attrs = json.loads(arrived.contact["attrs"])
        assert arrived.contact["queue"] == "sales" and attrs["callback"] == "+15550144"
        assert attrs["ivr_nodes"] == "main_menu>callback"
        assert stack.of_type(EventType.CONTACT_ABANDONED, cid) == []  # the caller leaving is not an abandon
        assert (await stack.store.contact(cid))["state"] == "queued"

        completed, cdr = await stack.ring_back(cid)  # the caller's phone at callback_uri, then a1's
        assert completed.agent["id"] == "a1"
        assert int(cdr["agent_rx_packets"]) > 50 and int(cdr["caller_rx_packets"]) > 50, cdr
