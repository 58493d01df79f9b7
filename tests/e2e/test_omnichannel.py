"""One customer across channels, through the real gateway, router and Redis (issue 7's end-to-end case).

A customer chats from the web widget giving a phone number; later a WhatsApp message from the same
number arrives through a connector, or a SIP call with that caller ID through Kamailio and the pjsua2
workers. The later contact attaches to the same customer, its offer carries the earlier chat (the
timeline), and it goes first to the agent who handled the chat, even though another agent has been idle
longer.
"""

from __future__ import annotations

import asyncio

from tests.gateway.stack import Peer, Stack, agent, customer, gateway_config, sha

PHONE_IN_CHAT = "(11) 99999-0000"  # as typed in the form, in Brazil
PHONE_ON_WHATSAPP = "+5511999990000"  # as the connector gives it


async def test_whatsapp_after_a_chat_carries_the_chat_and_prefers_its_agent(redis_url: str, tenant: str) -> None:
    extra = "customers: {default_region: BR, timeline_length: 20}\n"
    async with Stack(gateway_config(tenant, last_agent=120, extra=extra), redis_url) as s:
        bruno = await agent(s.url, "a2")
        maria, started = await customer(s.url, "my internet is down", name="Maria", phone=PHONE_IN_CHAT, topic="help")
        chat = started["contact"]
        offer = await bruno.expect("offer")
        assert offer["contact"]["id"] == chat
        await bruno.call("accept", offer=offer["offer"])
        await bruno.call("message", contact=chat, text="I reset your router, try now")
        await maria.call("message", text="works, thanks")
        await bruno.expect("message", text="works, thanks")
        assert (await bruno.call("complete", contact=chat, disposition="resolved", note="router reset"))[
            "type"
        ] == "ack"
        await bruno.call("end_wrapup", contact=chat)

        ana = await agent(s.url, "a1")  # idle longer than Bruno from here on
        await asyncio.sleep(0.3)
        bridge = await Peer.open(s.url, "/v1/connector")
        await bridge.call("login", connector="wa", token="tok-wa")
        later = await bridge.call("inbound", channel="whatsapp", **{"from": PHONE_ON_WHATSAPP}, text="down again")
        assert later["new"] is True

        second = await bruno.expect("offer", timeout=10)
        assert second["contact"]["id"] == later["contact"]
        assert second["contact"]["customer"]["id"] == offer["contact"]["customer"]["id"] != ""
        history = second["contact"]["history"]
        said = [e["data"]["text"] for e in history if e["kind"] == "message"]
        assert said[:3] == ["my internet is down", "I reset your router, try now", "works, thanks"]
        assert {"chat", "whatsapp"} <= {e["channel"] for e in history}
        assert any(e["kind"] == "disposition" and e["data"]["code"] == "resolved" for e in history)
        assert not [m for m in ana.seen if m["type"] == "offer"], "the chat's agent was preferred"


def _voice_and_chat(voice_yaml):
    """The telephony tests' config, with web chat and a gateway too, and Bruno able to sell."""

    def patched(*args, **kwargs) -> str:
        text = voice_yaml(*args, **kwargs)
        text = text.replace(
            "  voice: {capacity: 1, exclusive: true}", "  voice: {capacity: 1, exclusive: true}\n  chat: {capacity: 3}"
        )
        text = text.replace("channels: [voice]", "channels: [voice, chat]")
        text = text.replace("skills: {support: 5}", "skills: {support: 5, sales: 5}")
        text = text.replace("wrapup: 0}", "wrapup: 0, last_agent: 120}")
        for agent_id in ("a1", "a2"):
            text = text.replace(f"{{id: {agent_id}, ", f"{{id: {agent_id}, token_sha256: {sha('tok-' + agent_id)}, ")
        return text + ("gateway: {port: 0, heartbeat: 1, chat: {queue: sales}}\ncustomers: {default_region: US}\n")

    return patched


async def test_a_call_after_a_chat_carries_the_chat_and_rings_its_agent_first(
    tmp_path, redis_url, tenant, monkeypatch
) -> None:
    from tests.telephony import harness, sipp
    from tests.telephony.harness import VoiceStack

    monkeypatch.setattr(harness, "voice_yaml", _voice_and_chat(harness.voice_yaml))
    async with VoiceStack(tmp_path, redis_url, tenant, monkeypatch) as voice, voice.gateway() as url:
        bruno = await agent(url, "a2")
        maria, started = await customer(url, "my bill is wrong", name="Maria", phone="(212) 555-0144")
        chat = started["contact"]
        offer = await bruno.expect("offer")
        await bruno.call("accept", offer=offer["offer"])
        ana = await agent(url, "a1")  # idle from now: longer than Bruno will be
        await bruno.call("message", contact=chat, text="Fixed, you will see it next month")
        await bruno.call("complete", contact=chat, disposition="resolved")
        await bruno.call("end_wrapup", contact=chat)

        caller = sipp.start_sipp(
            sipp.caller("13", hold_ms=6000, caller_id="+12125550144"), tmp_path, "caller",
            target=voice.target, media_port=voice.ports.media,
        )  # fmt: skip
        try:
            call = await bruno.expect("offer", timeout=20)
        finally:
            caller.stop()
        assert call["contact"]["channel"] == "voice"
        assert call["contact"]["customer"]["id"] == offer["contact"]["customer"]["id"] != ""
        said = [e["data"]["text"] for e in call["contact"]["history"] if e["kind"] == "message"]
        assert said[:2] == ["my bill is wrong", "Fixed, you will see it next month"]
        assert not [m for m in ana.seen if m["type"] == "offer"], "the chat's agent was preferred"
        for p in (maria, bruno, ana):
            await p.close()
