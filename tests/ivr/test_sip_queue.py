"""While queued, over real SIP: announcements play, and the callback key keeps the caller's place.

sipp callers through Kamailio to the pjsua2 workers running the real flow and announcer (see
tests/ivr/test_sip_flow.py for the stack and sipp's digit quirks).
"""

from __future__ import annotations

import asyncio
import json
import time

from customers.store import CustomerStore
from router.events import EventType
from router.lifecycle import AgentState
from tests.ivr.test_sip_flow import ivr_stack
from tests.telephony import sipp

IVR = """
ivr:
  languages: [en]
  announce: {frequency: 60, min_frequency: 15, callback_key: "9"}
  prompts:
    main: {en: For sales press 2.}
    position_is: {en: You are number}
    in_line: {en: in line.}
    you_are_next: {en: You are next.}
    wait_is: {en: Your estimated wait is}
    minute: {en: minute.}
    minutes: {en: minutes.}
    callback_offer: {en: "To be called back without losing your place, press 9."}
  flows:
    main:
      start: main_menu
      nodes:
        main_menu: {type: menu, prompt: main, options: {"2": sales}, fallback: sales}
        sales: {type: queue, queue: sales}
"""


async def test_callback_key_while_queued_keeps_the_callers_place(tmp_path, redis_url, tenant, monkeypatch):
    async with ivr_stack(tmp_path, redis_url, tenant, monkeypatch, IVR) as stack:
        first = sipp.start_sipp(
            sipp.caller("29", hold_ms=3000, caller_id="+15550111"), tmp_path, "first", target=stack.target,
            media_port=stack.ports.media,
        )  # fmt: skip
        try:
            arrived = await stack.wait_event(EventType.CONTACT_ARRIVED, 30)
            contact = arrived.contact["id"]
            second = sipp.start_sipp(
                sipp.caller("2", hold_ms=6000, caller_id="+15550222"), tmp_path, "second", target=stack.target,
                media_port=stack.ports.media + 10,
            )  # fmt: skip
            try:
                marked = await stack.wait_event(EventType.CONTACT_CALLBACK_REQUESTED, 20, contact)
                later = await stack.wait_for(
                    lambda: [e for e in stack.of_type(EventType.CONTACT_ARRIVED) if e.contact["id"] != contact],
                    30, "the second caller's arrival",
                )  # fmt: skip
                await asyncio.to_thread(first.wait, 30)
                assert "unexpected BYE" in first.output()  # the worker let the first caller go
                assert await asyncio.to_thread(second.wait, 30) == 0, second.output()
            finally:
                second.stop()
        finally:
            first.stop()
        attrs = json.loads(marked.contact["attrs"])
        assert attrs["callback"] == "+15550111"
        assert stack.of_type(EventType.CONTACT_ABANDONED, contact) == []  # not an abandon
        fields = await stack.store.contact(contact)
        assert fields["state"] == "queued"
        assert float(fields["enqueued_at"]) == float(arrived.contact["enqueued_at"])  # its original place
        assert float(fields["enqueued_at"]) < float(later[0].contact["enqueued_at"])
        queued = await stack.store.queue_ids("sales")
        assert queued[0] == contact, "the callback is still ahead of the caller who came after it"


SURVEY_IVR = """
customers: {surveys: {voice: true}}
ivr:
  languages: [en]
  prompts:
    main: {en: For sales press 2.}
    survey: {en: "How satisfied were you? Press 1 to 5."}
  flows:
    main:
      start: main_menu
      nodes:
        main_menu: {type: menu, prompt: main, options: {"2": sales}, fallback: sales}
        sales: {type: queue, queue: sales}
"""


async def test_ivr_choices_and_a_dtmf_survey_after_the_agent_hangs_up_reach_the_timeline(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with ivr_stack(tmp_path, redis_url, tenant, monkeypatch, SURVEY_IVR) as stack:
        phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=300, talk_ms=1500), tmp_path, "phone", target=None,
            port=stack.ports.phones, media_port=stack.ports.media + 10, extra=("-rtp_echo",),
        )  # fmt: skip
        caller = sipp.start_sipp(
            sipp.caller("2", later="4", later_after_ms=5000, hangs_up=False, caller_id="+15550133"), tmp_path,
            "caller", target=stack.target, media_port=stack.ports.media,
        )  # fmt: skip
        try:
            await stack.router_client.set_agent_state("a1", AgentState.AVAILABLE)
            offer = await stack.wait_event(EventType.CONTACT_OFFERED, 20)
            cid = offer.contact["id"]
            await stack.router_client.accept(cid, "a1", offer.contact["offer_id"])
            completed = await stack.wait_event(EventType.CONTACT_COMPLETED, 20, cid)
            assert await asyncio.to_thread(caller.wait, 30) == 0, caller.output()  # the worker hung up after
        finally:
            phone.stop()
            caller.stop()
        assert completed.extra.get("disposition") == "agent_hangup"  # the agent was freed before the survey
        profiles = CustomerStore(stack.store.client, tenant, time.time)
        customer = offer.contact["customer"]
        timeline = await profiles.timeline(customer)
        choices = [e.data for e in timeline if e.kind == "ivr.choice"]
        assert choices == [{"menu": "main_menu", "choice": "sales"}]  # the IVR choice is in the timeline too
        surveys = [e for e in timeline if e.kind == "survey"]
        assert [(e.data["score"], e.channel, e.agent, e.contact) for e in surveys] == [(4, "voice", "a1", cid)]
        cdr = await stack.wait_for(lambda: stack.cdr(cid), 5, "the call record")
        assert cdr["survey"] == "4"
