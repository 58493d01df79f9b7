"""Real SIP on loopback: sipp callers through Kamailio to the pjsua2 worker pool, the live router behind it."""

from __future__ import annotations

import asyncio
import json
import wave

import numpy as np

from router.events import EventType
from router.lifecycle import AgentState
from tests.telephony import sipp
from tests.telephony.harness import VoiceStack


async def test_a_call_navigates_the_menu_lands_in_its_queue_and_hanging_up_there_abandons(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as stack:
        caller = sipp.start_sipp(
            sipp.caller("12", hold_ms=2500, caller_id="+15550123"), tmp_path, "caller", target=stack.target,
            media_port=stack.ports.media,
        )  # fmt: skip
        try:
            arrived = await stack.wait_event(EventType.CONTACT_ARRIVED, 20)
            contact = arrived.contact
            assert contact["queue"] == "support"  # 1 (sub-menu), then 2 (support)
            attrs = json.loads(contact["attrs"])
            assert attrs["ivr_path"] == "12"
            assert attrs["caller_id"] == "+15550123"
            assert attrs["menu"] == "support"
            assert attrs["worker"] in {stack.pool.worker_id(i) for i in range(2)}
            assert await stack.store.queue_ids("support") == [contact["id"]]
            assert await asyncio.to_thread(caller.wait, 20) == 0, caller.output()
            abandoned = await stack.wait_event(EventType.CONTACT_ABANDONED, 10, contact["id"])
        finally:
            caller.stop()
        assert abandoned.extra["reason"] == "caller_hangup"
        assert float(abandoned.extra["waited"]) >= 2.0
        assert await stack.store.queue_ids("support") == []
        cdr = await stack.cdr(contact["id"])
        assert cdr["end"] == "caller_hangup"
        assert int(cdr["caller_tx_packets"]) > 100  # ~5 s of prompts and music on hold at 50 packets/s
        assert int(cdr["caller_rx_packets"]) > 0  # its RFC 2833 digits


async def test_an_accepted_call_rings_the_agent_phone_and_bridges_audio_both_ways(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as stack:
        phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=300, talk_ms=3000), tmp_path, "phone", target=None,
            port=stack.ports.phones, media_port=stack.ports.media + 10, extra=("-rtp_echo",),
        )  # fmt: skip
        caller = sipp.start_sipp(
            sipp.caller("13", audio=True, hangs_up=False), tmp_path, "caller", target=stack.target,
            media_port=stack.ports.media,
        )  # fmt: skip
        try:
            await stack.router_client.set_agent_state("a1", AgentState.AVAILABLE)
            offer = await stack.wait_event(EventType.CONTACT_OFFERED, 20)
            cid = offer.contact["id"]
            assert offer.contact["queue"] == "sales" and offer.contact["agent"] == "a1"
            await stack.router_client.accept(cid, "a1", offer.contact["offer_id"])
            assert await asyncio.to_thread(phone.wait, 20) == 0, phone.output()  # rang, answered, hung up
            assert await asyncio.to_thread(caller.wait, 10) == 0, caller.output()  # got the BYE
            completed = await stack.wait_event(EventType.CONTACT_COMPLETED, 10, cid)
        finally:
            phone.stop()
            caller.stop()
        assert completed.agent["id"] == "a1"
        cdr = await stack.wait_for(lambda: stack.cdr(cid), 5, "the call record")
        assert cdr["end"] == "agent_hangup"
        # RTP both ways on both legs: 3 s bridged at 50 packets/s; the caller sent 20 DTMF packets, then its voice
        assert int(cdr["caller_rx_packets"]) > 40, cdr
        assert int(cdr["caller_tx_packets"]) > 100, cdr
        assert int(cdr["agent_rx_packets"]) > 100, cdr
        assert int(cdr["agent_tx_packets"]) > 100, cdr
        # and audio crossed the bridge both ways: the agent heard the caller's voice, and the caller heard it
        # echoed back by the agent's phone (sipp -rtp_echo). Without the caller's voice both levels stay 0.
        assert int(cdr["agent_heard_level"]) > 5, cdr
        assert int(cdr["caller_heard_level"]) > 5, cdr


async def test_voicemail_records_the_caller_to_a_wav_and_leaves_a_contact_for_agents(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as stack:
        caller = sipp.start_sipp(
            sipp.caller("9", audio=True, hangs_up=False), tmp_path, "caller", target=stack.target,
            media_port=stack.ports.media,
        )  # fmt: skip
        try:
            arrived = await stack.wait_event(EventType.CONTACT_ARRIVED, 20)
            assert await asyncio.to_thread(caller.wait, 10) == 0, caller.output()  # the IVR hung up after it
        finally:
            caller.stop()
        attrs = json.loads(arrived.contact["attrs"])
        assert arrived.contact["queue"] == "general" and attrs["menu"] == "voicemail"
        assert attrs["caller_id"] == "+15550100"
        with wave.open(attrs["voicemail"]) as wav:
            assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
            assert 2.5 <= wav.getnframes() / 8000 <= 3.5  # max_seconds: 3
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 200  # the caller's voice, not silence


async def test_an_agent_transfers_a_bridged_call_to_another_queue_and_its_next_agent_gets_it(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as stack:
        first_phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=200, talk_ms=None), tmp_path, "a1phone", target=None,
            port=stack.ports.phones, media_port=stack.ports.media + 10, extra=("-rtp_echo",),
        )  # fmt: skip
        second_phone = sipp.start_sipp(
            sipp.agent_phone(answer_after_ms=200, talk_ms=1500), tmp_path, "a2phone", target=None,
            port=stack.ports.phones + 2, media_port=stack.ports.media + 20, extra=("-rtp_echo",),
        )  # fmt: skip
        caller = sipp.start_sipp(
            sipp.caller("13", hangs_up=False), tmp_path, "caller", target=stack.target, media_port=stack.ports.media
        )
        try:
            await stack.router_client.set_agent_state("a1", AgentState.AVAILABLE)
            offer = await stack.wait_event(EventType.CONTACT_OFFERED, 20)
            cid = offer.contact["id"]
            await stack.router_client.accept(cid, "a1", offer.contact["offer_id"])
            await stack.wait_for(lambda: f"call {cid} bridged to agent a1" in stack.worker_logs(), 10, "the bridge")
            await stack.router_client.transfer(cid, "a1", "support")
            assert await asyncio.to_thread(first_phone.wait, 10) == 0, first_phone.output()  # a1's phone hung up
            assert await stack.store.queue_ids("support") == [cid]  # the caller waits again, with music
            await stack.router_client.set_agent_state("a2", AgentState.AVAILABLE)
            second = await stack.wait_for(
                lambda: [e for e in stack.of_type(EventType.CONTACT_OFFERED, cid) if e.contact["agent"] == "a2"],
                10,
                "the offer to a2",
            )
            await stack.router_client.accept(cid, "a2", second[0].contact["offer_id"])
            assert await asyncio.to_thread(second_phone.wait, 15) == 0, second_phone.output()
            assert await asyncio.to_thread(caller.wait, 10) == 0, caller.output()
            completed = await stack.wait_event(EventType.CONTACT_COMPLETED, 10, cid)
        finally:
            for s in (first_phone, second_phone, caller):
                s.stop()
        assert completed.agent["id"] == "a2"


async def test_an_accepted_callback_rings_the_customer_then_the_agent_and_bridges_them(
    tmp_path, redis_url, tenant, monkeypatch
):
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as stack:
        # what the IVR's Callback action leaves: a voice contact with the number to call back
        made = await stack.router_client.enqueue("sales", "voice", attrs={"callback": "+15550999"})
        completed, cdr = await stack.ring_back(made.contact.id)
        assert completed.agent["id"] == "a1"
        assert cdr["end"] == "agent_hangup"
        assert int(cdr["agent_rx_packets"]) > 50 and int(cdr["caller_rx_packets"]) > 50, cdr
