"""Continuity across channels: rules per channel (pure), and a customer's chat followed by a WhatsApp
message from the same number through the real router store: same customer, the chat in the offer's
timeline, and the agent who handled the chat preferred."""

from __future__ import annotations

from customers.continuity import continuity
from customers.store import CustomerStore
from customers.timeline import Case, message
from router.store import RedisStore
from tests.customers import routing


def test_continuity_rules_per_channel() -> None:
    config = routing.config("x").customers  # window 3600; voice reuses the queue
    case = Case(id="k1", opened_at=0, updated_at=1000, channel="chat", queue="support", skills="billing:3",
                last_agent="a2", contact="c1", contacts=1)
    voice = continuity(case, "voice", 1000 + 3600, config)
    assert (voice.queue, voice.skills, voice.last_agent) == ("support", "", "a2")
    chat = continuity(case, "chat", 2000, config)
    assert chat.case == case and chat.queue == "" and chat.last_agent == "a2"
    assert continuity(case, "voice", 1000 + 3601, config).case is None
    assert continuity(None, "voice", 0, config).case is None


async def test_a_chat_then_whatsapp_from_the_same_number(client, tenant, clock) -> None:
    config = routing.config(tenant)
    router = RedisStore(client, config)
    customers = CustomerStore(client, tenant, clock, config.customers)
    t = clock.now
    await routing.agents_available(router, t)
    cid = await customers.identify({"email": "ana@example.com", "phone": "(202) 555-0143"}, contact_id="k1")
    await routing.arrive(router, "k1", "support", "chat", cid, t)
    await customers.start_contact(cid, "k1", "chat", "support", now=t)
    await routing.answer(router, "k1", "a2", t + 5)
    await customers.append(cid, message(t + 6, "customer", "where is my parcel?", channel="chat", contact="k1"))
    await customers.append(cid, message(t + 9, "agent", "on its way", channel="chat", contact="k1", agent="a2"))
    await router.complete("k1", "a2", t + 60)

    clock.now = t + 1200
    again = await customers.identify({"whatsapp": "+12025550143"}, contact_id="k2")
    assert again == cid
    hint = continuity(await customers.case(cid), "whatsapp", clock.now, config.customers)
    assert hint.last_agent == "a2"
    await routing.arrive(router, "k2", "sales", "whatsapp", again, clock.now)
    assert (await router.contact("k2"))["preferred_agent"] == "a2"  # the router's last-agent, across channels
    started = await customers.start_contact(again, "k2", "whatsapp", "sales", now=clock.now)
    assert started.continued
    offer = await customers.for_offer(again)
    texts = [e["data"].get("text") for e in offer["timeline"] if e["kind"] == "message"]
    assert texts == ["where is my parcel?", "on its way"]
