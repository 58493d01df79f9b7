"""Bad input gets an ``error`` with a code, the connection lives on, and everyone else is served."""

from __future__ import annotations

import json

from tests.gateway.stack import Peer, Stack, agent, customer, gateway_config


async def _still_alive(p: Peer) -> None:
    assert (await p.call("ping"))["type"] == "ack"


async def test_malformed_messages_get_errors_and_the_connection_lives_on(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:
        p = await Peer.open(s.url, "/v1/agent")
        bystander, _ = await customer(s.url, "I am waiting")
        cases = [
            ("{not json", "bad_json"),
            ("[1, 2]", "bad_json"),
            (json.dumps({"no": "type"}), "missing_field"),
            (json.dumps({"type": "dance"}), "unknown_type"),
            (json.dumps({"type": "login", "agent": "a1"}), "missing_field"),
            (json.dumps({"type": "login", "agent": 7, "token": "x"}), "bad_field"),
            (json.dumps({"type": "login", "agent": "a1", "token": "x", "extra": 1}), "bad_field"),
            (json.dumps({"type": "accept", "offer": "x"}), "not_logged_in"),
            (json.dumps({"type": "login", "agent": "a1", "token": "wrong"}), "unauthorized"),
            (json.dumps({"type": "login", "agent": "nobody", "token": "tok-a1"}), "unauthorized"),
            (json.dumps({"type": "ping", "pad": "x" * 5000}), "too_large"),
        ]
        for frame, code in cases:
            await p.raw(frame)
            reply = await p.expect("error")
            assert reply["code"] == code, (frame[:40], reply)
            assert reply["message"]
            await _still_alive(p)
        assert (await p.call("login", agent="a1", token="tok-a1"))["type"] == "ack"
        assert (await p.call("state", state="away"))["code"] == "missing_field"  # away needs a reason
        assert (await p.call("state", state="sleeping"))["code"] == "bad_field"
        assert (await bystander.call("message", text="still here"))["type"] == "ack"


async def test_an_agent_cannot_touch_another_agents_offer_or_contact(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, chat_capacity=1), redis_url) as s:
        _maria, started = await customer(s.url, "hello")
        contact = started["contact"]
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        bruno = await agent(s.url, "a2")
        assert (await bruno.call("accept", offer=offer["offer"]))["code"] == "forbidden"
        assert (await bruno.call("reject", offer=offer["offer"]))["code"] == "forbidden"
        assert (await bruno.call("accept", offer="no-such-offer"))["code"] == "not_found"
        await ana.call("accept", offer=offer["offer"])
        assert (await bruno.call("message", contact=contact, text="hi"))["code"] == "forbidden"
        assert (await bruno.call("complete", contact=contact, disposition="x"))["code"] == "forbidden"
        assert (await bruno.call("transfer", contact=contact, queue="support"))["code"] == "forbidden"
        assert (await bruno.call("complete", contact="nope", disposition="x"))["code"] == "not_found"
        assert (await ana.call("transfer", contact=contact, queue="nowhere"))["code"] == "not_found"
        assert (await s.store.contact(contact))["agent"] == "a1"
        await _still_alive(bruno)


async def test_a_customer_sees_only_its_own_conversation(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:
        _maria, mine = await customer(s.url, "my secret account number is 1234")
        joao, theirs = await customer(s.url, "hello")
        peek = await joao.call("message", contact=mine["contact"], text="hi")
        assert peek["code"] == "forbidden"
        intruder = await Peer.open(s.url, "/v1/customer")
        stolen = await intruder.call("resume", contact=mine["contact"], session=theirs["session"])
        assert stolen["code"] == "forbidden"
        assert (await intruder.call("leave", contact=mine["contact"]))["code"] == "not_logged_in"
        assert all("1234" not in json.dumps(m) for m in joao.seen + intruder.seen)
        again = await Peer.open(s.url, "/v1/customer")
        resumed = await again.call("resume", contact=mine["contact"], session=mine["session"])
        assert resumed["type"] == "ack" and resumed["transcript"][0]["text"].endswith("1234")


async def test_a_flood_is_rate_limited_without_closing_the_connection(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:  # 30 messages per second per connection
        flooder = await Peer.open(s.url, "/v1/customer")
        other, _ = await customer(s.url, "hi")
        ids = [await flooder.send("ping") for _ in range(80)]
        replies = [await flooder.reply(i) for i in ids]
        limited = [r for r in replies if r["type"] == "error"]
        assert {r["code"] for r in limited} == {"rate_limited"}
        assert 40 <= len(limited) <= 50
        assert (await other.call("message", text="still served"))["type"] == "ack"
        assert not flooder.ws.close_code
