"""The real interpreter behind real SIP: sipp callers through Kamailio to the pjsua2 workers, which run
``ivr.flow:session_for_call`` on espeak-ng prompts and put the caller in the queue the digits chose.

sipp's DTMF comes from one pcap per digit: a repeated digit is one RFC 2833 event, and a digit after a
higher one ("21") is not delivered (seen here), so the digit strings below are distinct and ascending."""

from __future__ import annotations

import asyncio
import json

from ivr.prompts import build
from router.config.loader import load
from router.events import EventType
from tests.telephony import harness, sipp
from tests.telephony.harness import VoiceStack

IVR = """
ivr:
  languages: [en]
  prompts:
    main: {en: For support press 1. For sales press 2.}
    support: {en: For internet press 1. For mobile press 2.}
    invalid: {en: That is not a valid choice.}
  flows:
    main:
      start: main_menu
      nodes:
        main_menu:
          type: menu
          prompt: main
          options: {"1": support_menu, "2": sales}
          invalid: invalid
          retries: 2
          fallback: general
          attribute: topic
        support_menu: {type: menu, prompt: support, options: {"1": internet, "2": mobile}, fallback: support}
        internet: {type: set, attrs: {product: internet}, next: support}
        mobile: {type: set, attrs: {product: mobile}, next: support}
        sales: {type: queue, queue: sales}
        support: {type: queue, queue: support}
        general: {type: queue, queue: general}
"""


def ivr_stack(tmp_path, redis_url, tenant, monkeypatch, ivr: str = IVR) -> VoiceStack:
    """The telephony tests' stack, with an IVR section (this one by default), its prompts built, and the real
    flow."""
    monkeypatch.setattr(harness, "FLOW", "ivr.flow:session_for_call")
    stack = VoiceStack(tmp_path, redis_url, tenant, monkeypatch)
    path = tmp_path / "routing.yaml"
    path.write_text(path.read_text() + ivr)
    stack.config = load(path)
    build(stack.config.ivr)
    return stack


async def arrival(tmp_path, redis_url, tenant, monkeypatch, digits: str) -> dict:
    async with ivr_stack(tmp_path, redis_url, tenant, monkeypatch) as stack:
        caller = sipp.start_sipp(
            sipp.caller(digits, hold_ms=1000), tmp_path, "caller", target=stack.target, media_port=stack.ports.media
        )
        try:
            arrived = await stack.wait_event(EventType.CONTACT_ARRIVED, 30)
            assert await asyncio.to_thread(caller.wait, 30) == 0, caller.output()
        finally:
            caller.stop()
        return arrived.contact


async def test_two_level_menu_over_sip_reaches_support_with_the_path(tmp_path, redis_url, tenant, monkeypatch):
    contact = await arrival(tmp_path, redis_url, tenant, monkeypatch, "12")
    assert contact["queue"] == "support"
    attrs = json.loads(contact["attrs"])
    assert attrs["ivr_path"] == "12"
    assert (attrs["topic"], attrs["support_menu"], attrs["product"]) == ("support_menu", "mobile", "mobile")
    assert attrs["ivr_nodes"] == "main_menu>support_menu>mobile>support"


async def test_invalid_digits_over_sip_replay_the_menu_then_fall_back(tmp_path, redis_url, tenant, monkeypatch):
    contact = await arrival(tmp_path, redis_url, tenant, monkeypatch, "789")  # distinct: see tests/telephony/flows.py
    assert contact["queue"] == "general"
    attrs = json.loads(contact["attrs"])
    assert attrs["ivr_path"] == "789"
    assert attrs["ivr_nodes"] == "main_menu>general"
