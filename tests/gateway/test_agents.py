"""Agents over real websockets: expiry, reject, transfer, sessions and their grace period, racing accepts."""

from __future__ import annotations

import asyncio
import time

from router.config import loads
from tests.gateway.stack import Peer, Stack, agent, customer, gateway_config, gateway_yaml


async def _queued(s: Stack, *texts: str) -> list[tuple[Peer, str]]:
    out = []
    for text in texts:
        p, started = await customer(s.url, text)
        out.append((p, started["contact"]))
        await p.expect("queue")  # it is in line before the next one arrives
    return out


async def test_expired_offer_is_revoked_and_the_contact_keeps_its_place(redis_url: str, tenant: str) -> None:
    config = gateway_config(tenant, offer_timeout=1, chat_capacity=1)
    async with Stack(config, redis_url) as s:
        (_, first), (_, second) = await _queued(s, "first", "second")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        assert offer["contact"]["id"] == first
        revoked = await ana.expect("offer_revoked", timeout=5)
        assert revoked == {"type": "offer_revoked", "offer": offer["offer"], "contact": first, "reason": "expired"}
        again = await ana.expect("offer", timeout=5)
        assert again["contact"]["id"] == first, "the expired contact went to the back of the line"
        assert again["offer"] != offer["offer"]
        late = await ana.call("accept", offer=offer["offer"])
        assert late["type"] == "error" and late["code"] == "offer_gone"
        assert (await ana.call("accept", offer=again["offer"]))["type"] == "ack"
        assert (await s.store.contact(second))["state"] == "queued"


async def test_reject_sends_the_contact_to_the_next_agent(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, reject_delay=60), redis_url) as s:
        [(_, contact)] = await _queued(s, "hello")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        assert (await ana.call("reject", offer=offer["offer"]))["type"] == "ack"
        bruno = await agent(s.url, "a2")
        second = await bruno.expect("offer")
        assert second["contact"]["id"] == contact
        assert (await bruno.call("accept", offer=second["offer"]))["type"] == "ack"


async def test_without_wrapup_a_contact_is_done_at_once_and_no_wrapup_ended_follows(redis_url, tenant) -> None:
    async with Stack(gateway_config(tenant, chat_capacity=1), redis_url) as s:
        (_, first), (_, second) = await _queued(s, "first", "second")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        assert offer["contact"]["id"] == first
        await ana.call("accept", offer=offer["offer"])
        done = await ana.call("complete", contact=first, disposition="ok")
        assert done["type"] == "ack" and "wrapup_until" not in done
        assert (await s.store.contact(first))["state"] == "done"
        assert (await ana.expect("offer"))["contact"]["id"] == second  # the capacity came back at once
        # The follower pushes in stream order, and the first contact's end came before the second's offer.
        assert not [m for m in ana.seen if m["type"] == "wrapup_ended"], ana.seen


async def test_wrapup_ended_is_pushed_when_the_wrapup_ends(redis_url: str, tenant: str) -> None:
    # The reply to complete says until when, and wrapup_ended comes when it ends (here the agent ends it).
    yaml = gateway_yaml(tenant, chat_capacity=1).replace("no_answer_delay: 0,", "no_answer_delay: 0, wrapup: 120,")
    async with Stack(loads(yaml), redis_url) as s:
        [(_, contact)] = await _queued(s, "third")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        done = await ana.call("complete", contact=contact, disposition="ok")
        assert (await s.store.contact(contact))["state"] == "wrapup"
        assert done["wrapup_until"] > time.time() + 100
        assert (await ana.call("end_wrapup", contact=contact))["type"] == "ack"
        assert (await ana.expect("wrapup_ended"))["contact"] == contact


async def test_transfer_to_another_agent_carries_the_conversation(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:
        [(maria, contact)] = await _queued(s, "my bill is wrong")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        await ana.call("message", contact=contact, text="Let me pass you to billing")
        bruno = await agent(s.url, "a2", available=True)
        moved = await ana.call("transfer", contact=contact, agent="a2")
        assert moved["type"] == "ack" and moved["agent"] == "a2", moved
        assert (await maria.expect("transferred"))["contact"] == contact
        offered = await bruno.expect("offer")
        assert offered["contact"]["id"] == contact
        texts = [m["text"] for m in offered["contact"]["transcript"]]
        assert texts == ["my bill is wrong", "Let me pass you to billing"]
        assert (await bruno.call("accept", offer=offered["offer"]))["type"] == "ack"
        assert (await maria.expect("agent_joined", agent_name="Bruno"))["contact"] == contact
        to_queue = await bruno.call("transfer", contact=contact, queue="support")
        assert to_queue["type"] == "ack" and to_queue["queue"] == "support"


ALLOW_PARTNER = """
ivr:
  transfer_allow: ["sip:*@partner.example"]
  flows: {main: {start: q, nodes: {q: {type: queue, queue: sales}}}}
"""


async def test_a_transfer_to_a_sip_uri_is_refused_off_the_allow_list_and_for_a_chat(redis_url, tenant) -> None:
    async with Stack(gateway_config(tenant, extra=ALLOW_PARTNER), redis_url) as s:
        [(_maria, contact)] = await _queued(s, "hi")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        off_list = await ana.call("transfer", contact=contact, uri="sip:desk@elsewhere.example")
        assert (off_list["type"], off_list["code"]) == ("error", "not_allowed")
        chat = await ana.call("transfer", contact=contact, uri="sip:desk@partner.example")
        assert (chat["type"], chat["code"]) == ("error", "illegal_state")  # only a call leaves for a SIP URI
        both = await ana.call("transfer", contact=contact, queue="support", uri="sip:desk@partner.example")
        assert (both["type"], both["code"]) == ("error", "bad_field")
        assert (await s.store.contact(contact))["state"] == "connected"  # still Ana's


async def test_reconnect_within_grace_resumes_open_contacts(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, grace=30), redis_url) as s:
        [(maria, contact)] = await _queued(s, "hi")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        await ana.close()
        await _until(lambda: _agent_state(s, "a1"), ("away", "disconnected"))
        assert (await s.store.contact(contact))["state"] == "connected"
        await maria.call("message", text="are you there?")

        back = await Peer.open(s.url, "/v1/agent")
        login = await back.call("login", agent="a1", token="tok-a1")
        assert login["resumed"] is True and login["state"] == "available"
        [held] = login["contacts"]
        assert held["id"] == contact and [m["text"] for m in held["transcript"]] == ["hi", "are you there?"]
        assert (await back.call("message", contact=contact, text="yes, sorry"))["type"] == "ack"
        assert (await maria.expect("message", **{"from": "agent"}))["text"] == "yes, sorry"


async def test_disconnect_past_grace_requeues_open_chats_in_place(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, grace=1, chat_capacity=1), redis_url) as s:
        [(maria, first)] = await _queued(s, "first")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        [(_, second)] = await _queued(s, "second")  # arrives while the first is connected
        await ana.close()
        await maria.expect("agent_left", timeout=6)
        assert await _agent_state(s, "a1") == ("offline", "grace_expired")
        assert (await s.store.contact(first))["state"] == "queued"
        bruno = await agent(s.url, "a2")
        assert (await bruno.expect("offer"))["contact"]["id"] == first, "the requeued chat kept its place"
        late = await Peer.open(s.url, "/v1/agent")
        login = await late.call("login", agent="a1", token="tok-a1")
        assert login["resumed"] is False and login["contacts"] == []
        assert (await s.store.contact(second))["state"] == "queued"


async def test_two_agents_race_to_accept_a_revoked_offer(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, chat_capacity=1), redis_url) as s:
        [(_, contact)] = await _queued(s, "hello")
        ana = await agent(s.url, "a1")
        revoked_offer = (await ana.expect("offer"))["offer"]
        await ana.close()  # its offer is revoked at once and the contact goes back in line
        bruno = await agent(s.url, "a2")
        fresh = await bruno.expect("offer")
        assert fresh["contact"]["id"] == contact and fresh["offer"] != revoked_offer
        ana = await Peer.open(s.url, "/v1/agent")
        assert (await ana.call("login", agent="a1", token="tok-a1"))["resumed"] is True

        sent = await asyncio.gather(  # all three on the wire before any answer is read
            ana.send("accept", offer=revoked_offer),
            bruno.send("accept", offer=revoked_offer),
            bruno.send("accept", offer=fresh["offer"]),
        )
        replies = [await ana.reply(sent[0]), await bruno.reply(sent[1]), await bruno.reply(sent[2])]
        assert [r.get("code", r["type"]) for r in replies] == ["offer_gone", "forbidden", "ack"]
        contact_now = await s.store.contact(contact)
        assert contact_now["state"] == "connected" and contact_now["agent"] == "a2"


async def _agent_state(s: Stack, agent_id: str) -> tuple[str, str]:
    fields = await s.store.agent(agent_id)
    return fields.get("state", ""), fields.get("reason", "")


async def _contact_state(s: Stack, contact_id: str) -> str:
    return (await s.store.contact(contact_id)).get("state", "")


async def _until(probe, expected, timeout: float = 5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await probe()
        if got == expected or asyncio.get_running_loop().time() > deadline:
            assert got == expected
            return got
        await asyncio.sleep(0.05)


async def test_a_silent_peer_is_found_dead_by_heartbeat(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, chat_capacity=1), redis_url) as s:  # gateway.heartbeat: 1 s
        [(_, contact)] = await _queued(s, "hello")
        ana = await agent(s.url, "a1")
        await ana.expect("offer")
        ana.ws.transport.pause_reading()  # the desktop froze: no pong to the server's pings
        await _until(lambda: _agent_state(s, "a1"), ("away", "disconnected"), timeout=6)
        # The agent is set away first (so nothing new reaches it), then its offer is revoked, in place.
        await _until(lambda: _contact_state(s, contact), "queued", timeout=2)


async def test_a_frozen_agent_loses_its_chat_after_the_grace_period(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant, grace=1, chat_capacity=1), redis_url) as s:  # heartbeat: 1 s
        [(maria, contact)] = await _queued(s, "hello")
        ana = await agent(s.url, "a1")
        offer = await ana.expect("offer")
        await ana.call("accept", offer=offer["offer"])
        ana.ws.transport.pause_reading()  # the desktop froze: no pong to the server's pings
        await maria.expect("agent_left", timeout=8)  # two heartbeats, the close timeout, the grace period
        assert await _agent_state(s, "a1") == ("offline", "grace_expired")
        assert (await s.store.contact(contact))["state"] == "queued"


async def test_an_idle_agent_that_answers_pings_keeps_its_connection(redis_url: str, tenant: str) -> None:
    async with Stack(gateway_config(tenant), redis_url) as s:  # heartbeat: 1 s
        ana = await agent(s.url, "a1")
        await asyncio.sleep(3.5)  # three and a half heartbeats with nothing to say
        held = s.gateway.agents["a1"].ws
        assert held.latency > 0, "the server's pings were answered"
        assert (await ana.call("ping"))["type"] == "ack"
        assert await _agent_state(s, "a1") == ("available", "")
