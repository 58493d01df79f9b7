"""An agent blind-transfers a call out of the center to a SIP URI, over the agent websocket and real SIP.

The agent desktop's ``transfer`` with a ``uri`` on ``ivr.transfer_allow`` completes the contact (disposition
``transferred``); the worker holding the call hangs up the agent's phone, dials the URI (a sipp UAS here,
echoing RTP) and bridges the caller to it: the caller's voice reaches it and its echo comes back. A URI off the
allow-list is refused with ``not_allowed`` and the call stays with the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from customers.store import CustomerStore
from router.events import EventType
from tests.gateway.stack import agent, sha
from tests.telephony import harness, sipp
from tests.telephony.harness import VoiceStack


def _with_gateway(voice_yaml):
    """The telephony tests' config, with agent tokens, a gateway, and an IVR allow-list for transfers."""

    def patched(*args, **kwargs) -> str:
        text = voice_yaml(*args, **kwargs).replace("  callback_ring: 5\n", "  callback_ring: 5\n  transfer_ring: 3\n")
        for agent_id in ("a1", "a2"):
            text = text.replace(f"{{id: {agent_id}, ", f"{{id: {agent_id}, token_sha256: {sha('tok-' + agent_id)}, ")
        return text + (
            "gateway: {port: 0, heartbeat: 1}\n"
            "customers: {default_region: US}\n"
            "ivr:\n"
            "  languages: [en]\n"
            '  transfer_allow: ["sip:partner@127.0.0.1:*"]\n'
            "  prompts: {main: {file: prompts/main.wav}}\n"
            "  flows: {main: {start: sales, nodes: {sales: {type: queue, queue: sales}}}}\n"
        )

    return patched


@contextlib.asynccontextmanager
async def _voice_and_gateway(tmp_path, redis_url, tenant, monkeypatch):
    monkeypatch.setattr(harness, "voice_yaml", _with_gateway(harness.voice_yaml))
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as stack, stack.gateway() as url:
        yield stack, url


async def test_an_agent_transfers_a_call_to_an_allowed_sip_uri_and_the_caller_is_bridged_to_it(
    tmp_path, redis_url, tenant, monkeypatch
):
    partner_port = harness.free_udp_ports(1)
    async with _voice_and_gateway(tmp_path, redis_url, tenant, monkeypatch) as (stack, url):
        phone = sipp.start_sipp(  # the agent's phone: answers, then waits for the worker's BYE
            sipp.agent_phone(answer_after_ms=200, talk_ms=None), tmp_path, "phone", target=None,
            port=stack.ports.phones, media_port=stack.ports.media + 10, extra=("-rtp_echo",),
        )  # fmt: skip
        partner = sipp.start_sipp(  # where the call is transferred: answers, echoes, hangs up after 3 s
            sipp.agent_phone(answer_after_ms=200, talk_ms=3000), tmp_path, "partner", target=None,
            port=partner_port, media_port=stack.ports.media + 20, extra=("-rtp_echo",),
        )  # fmt: skip
        caller = sipp.start_sipp(
            sipp.caller("13", audio=True, hangs_up=False, caller_id="+12025550161"), tmp_path, "caller",
            target=stack.target, media_port=stack.ports.media,
        )  # fmt: skip
        try:
            ana = await agent(url, "a1")
            offer = await ana.expect("offer", timeout=20)
            cid = offer["contact"]["id"]
            assert (await ana.call("accept", offer=offer["offer"]))["type"] == "ack"
            await stack.wait_for(lambda: f"call {cid} bridged to agent a1" in stack.worker_logs(), 10, "the bridge")
            # Ana and the caller talk a moment before she transfers (transferred within milliseconds of the
            # bridge, the agent's leg may not have carried a packet yet, and its counts below would be 0).
            await asyncio.sleep(1.0)

            refused = await ana.call("transfer", contact=cid, uri="sip:elsewhere@127.0.0.1:5060")
            assert (refused["type"], refused["code"]) == ("error", "not_allowed")
            assert (await stack.store.contact(cid))["state"] == "connected"  # still Ana's call

            uri = f"sip:partner@127.0.0.1:{partner_port}"
            moved = await ana.call("transfer", contact=cid, uri=uri)
            assert moved["type"] == "ack" and moved["uri"] == uri, moved
            assert await asyncio.to_thread(phone.wait, 10) == 0, phone.output()  # Ana's phone was hung up
            assert await asyncio.to_thread(partner.wait, 20) == 0, partner.output()  # answered, talked, hung up
            assert await asyncio.to_thread(caller.wait, 10) == 0, caller.output()  # then the caller got a BYE
            await ana.close()
        finally:
            for s in (phone, partner, caller):
                s.stop()
        completed = await stack.wait_event(EventType.CONTACT_COMPLETED, 10, cid)
        assert completed.extra["disposition"] == "transferred" and completed.extra["transfer_to"] == uri
        cdr = await stack.wait_for(lambda: stack.cdr(cid), 5, "the call record")
        assert cdr["end"] == "transfer_hangup", cdr
        assert int(cdr["agent_rx_packets"]) > 0, cdr  # the agent's leg, before the transfer
        # RTP on the transferred leg both ways, and the caller's voice reached the URI (its echo came back)
        assert int(cdr["transfer_rx_packets"]) > 100 and int(cdr["transfer_tx_packets"]) > 100, cdr
        assert int(cdr["transfer_heard_level"]) > 5 and int(cdr["caller_heard_level"]) > 5, cdr
        profiles = CustomerStore(stack.store.client, tenant, time.time)
        timeline = await profiles.timeline(completed.contact["customer"])
        moves = [e.data for e in timeline if e.kind == "transfer"]
        assert moves == [{"from_queue": "sales", "to_uri": uri}]
        assert [e.data["code"] for e in timeline if e.kind == "disposition"] == ["transferred"]


async def test_a_transfer_nobody_answers_lets_the_caller_go(tmp_path, redis_url, tenant, monkeypatch):
    partner_port = harness.free_udp_ports(1)
    async with _voice_and_gateway(tmp_path, redis_url, tenant, monkeypatch) as (stack, url):
        phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=200, talk_ms=None), tmp_path, "phone", target=None,
            port=stack.ports.phones, media_port=stack.ports.media + 10, extra=("-rtp_echo",),
        )  # fmt: skip
        partner = sipp.start_sipp(  # rings until cancelled
            sipp.agent_phone(answer_after_ms=None), tmp_path, "partner", target=None, port=partner_port,
            media_port=stack.ports.media + 20,
        )  # fmt: skip
        caller = sipp.start_sipp(
            sipp.caller("13", hangs_up=False), tmp_path, "caller", target=stack.target, media_port=stack.ports.media
        )
        try:
            ana = await agent(url, "a1")
            offer = await ana.expect("offer", timeout=20)
            cid = offer["contact"]["id"]
            await ana.call("accept", offer=offer["offer"])
            await stack.wait_for(lambda: f"call {cid} bridged to agent a1" in stack.worker_logs(), 10, "the bridge")
            moved = await ana.call("transfer", contact=cid, uri=f"sip:partner@127.0.0.1:{partner_port}")
            assert moved["type"] == "ack", moved
            assert await asyncio.to_thread(partner.wait, 15) == 0, partner.output()  # rang, then CANCEL
            assert await asyncio.to_thread(caller.wait, 10) == 0, caller.output()  # then the caller's BYE
            await ana.close()
        finally:
            for s in (phone, partner, caller):
                s.stop()
        cdr = await stack.wait_for(lambda: stack.cdr(cid), 5, "the call record")
        assert cdr["end"] == "transfer_failed", cdr
