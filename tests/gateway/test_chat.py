"""The web-chat lifecycle over real websockets, a real gateway and router, and real Redis."""

from __future__ import annotations

from tests.gateway.stack import Stack, agent, customer, gateway_config


async def test_chat_lifecycle_both_ways(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:
        maria, started = await customer(
            s.url, "I want a new plan", name="Maria", email="maria@example.com", topic="buying"
        )
        contact = started["contact"]
        assert started["queue"] == "sales"
        position = await maria.expect("queue", contact=contact)
        assert position["position"] == 1 and position["estimated_wait"] >= 60

        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        assert offer["contact"]["id"] == contact
        assert offer["contact"]["channel"] == "chat" and offer["contact"]["queue"] == "sales"
        assert offer["contact"]["attrs"]["name"] == "Maria"
        assert [m["text"] for m in offer["contact"]["transcript"]] == ["I want a new plan"]
        assert 0 < offer["expires_in"] <= 20

        accepted = await ana.call("accept", offer=offer["offer"])
        assert accepted["type"] == "ack" and accepted["contact"]["state"] == "connected"
        joined = await maria.expect("agent_joined")
        assert joined["agent_name"] == "Ana"

        assert (await ana.call("message", contact=contact, text="Hi Maria, which plan?"))["type"] == "ack"
        got = await maria.expect("message", **{"from": "agent"})
        assert got["text"] == "Hi Maria, which plan?" and got["agent_name"] == "Ana" and "agent" not in got
        assert (await maria.call("message", text="The 5G one"))["type"] == "ack"
        heard = await ana.expect("message", **{"from": "customer", "text": "The 5G one"})
        assert heard["contact"] == contact

        done = await ana.call("complete", contact=contact, disposition="sold", note="5G plan")
        assert done["type"] == "ack"
        assert (await maria.expect("ended"))["reason"] == "completed"
        assert (await s.store.contact(contact))["state"] in ("wrapup", "done")
        for p in (maria, ana):
            await p.close()


async def test_a_contact_without_messages_is_offered_with_none_and_counts_those_posted(redis_url, tenant) -> None:
    async with Stack(gateway_config(tenant, chat_capacity=1), redis_url) as s:
        await s.gateway.router.enqueue("sales", "chat", contact_id="quiet")  # from a system: no conversation
        assert (await s.store.contact("quiet"))["messages"] == "0"
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        assert offer["contact"]["id"] == "quiet" and offer["contact"]["transcript"] == []
        accepted = await ana.call("accept", offer=offer["offer"])
        assert accepted["contact"]["transcript"] == []
        await ana.call("message", contact="quiet", text="Hello, how can I help?")
        assert (await s.store.contact("quiet"))["messages"] == "1"
