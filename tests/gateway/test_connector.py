"""A channel connector (a WhatsApp bridge) over a real websocket: conversations, replies, closing."""

from __future__ import annotations

from tests.gateway.stack import Peer, Stack, agent, gateway_config

SENDER = "+5511999990000"


async def test_connector_conversation(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:
        bridge = await Peer.open(s.url, "/v1/connector")
        login = await bridge.call("login", connector="wa", token="tok-wa")
        assert login["type"] == "ack" and login["channels"] == ["whatsapp"]

        first = await bridge.call("inbound", channel="whatsapp", **{"from": SENDER}, text="Oi, my internet is down")
        assert first["type"] == "ack" and first["new"] is True
        contact = first["contact"]
        more = await bridge.call("inbound", channel="whatsapp", **{"from": SENDER}, text="since this morning")
        assert more == {**more, "type": "ack", "contact": contact, "new": False}
        other = await bridge.call("inbound", channel="whatsapp", **{"from": "+5511988887777"}, text="hello")
        assert other["new"] is True and other["contact"] != contact

        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer", timeout=5)
        while offer["contact"]["id"] != contact:
            offer = await ana.expect("offer", timeout=5)
        assert offer["contact"]["channel"] == "whatsapp" and offer["contact"]["queue"] == "support"
        assert [m["text"] for m in offer["contact"]["transcript"]] == ["Oi, my internet is down", "since this morning"]
        await ana.call("accept", offer=offer["offer"])

        await ana.call("message", contact=contact, text="Restarting your line now")
        out = await bridge.expect("outbound")
        assert out == {
            "type": "outbound",
            "contact": contact,
            "channel": "whatsapp",
            "to": SENDER,
            "text": "Restarting your line now",
        }
        during = await bridge.call("inbound", channel="whatsapp", **{"from": SENDER}, text="thanks!")
        assert during["contact"] == contact and during["new"] is False
        assert (await ana.expect("message", **{"from": "customer"}))["text"] == "thanks!"

        await ana.call("complete", contact=contact, disposition="resolved")
        assert (await bridge.expect("closed"))["contact"] == contact
        later = await bridge.call("inbound", channel="whatsapp", **{"from": SENDER}, text="it broke again")
        assert later["new"] is True and later["contact"] != contact


async def test_connector_needs_its_token_and_its_channels(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:
        bridge = await Peer.open(s.url, "/v1/connector")
        early = await bridge.call("inbound", channel="whatsapp", **{"from": SENDER}, text="x")
        assert early["code"] == "not_logged_in"
        assert (await bridge.call("login", connector="wa", token="wrong"))["code"] == "unauthorized"
        assert (await bridge.call("login", connector="wa", token="tok-wa"))["type"] == "ack"
        sms = await bridge.call("inbound", channel="sms", **{"from": SENDER}, text="x")
        assert sms["code"] == "forbidden"
