"""Export and erase (GDPR/LGPD requests), retention, and logs without personal data: real Redis, with the
customer's contacts run through the real router store and chat messages through the gateway's scripts."""

from __future__ import annotations

import json
import logging

import pytest

from customers.config import CustomersConfig
from customers.store import CustomerError, CustomerStore
from customers.timeline import Entry, EntryKind, message
from router.gateway.sessions import GatewayState
from router.store import RedisStore
from tests.customers import routing
from tests.support import tenant_pattern

PHONE_RAW, PHONE = "(202) 555-0143", "+12025550143"
EMAIL = "ana.privacy@example.com"
TEXTS = ("my card ending 4417 was charged twice", "sorry Ana, refunding it now", "zebra-tango secret word")


async def everything(client, tenant: str) -> dict[str, str]:
    """Every key of the tenant with all it holds, whatever its type, as text."""
    out = {}
    async for key in client.scan_iter(match=tenant_pattern(tenant), count=1000):
        kind = await client.type(key)
        if kind == "string":
            value = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "list":
            value = await client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(await client.smembers(key))
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await client.xrange(key, "-", "+")
        else:
            raise AssertionError(f"{key}: a {kind} this scan can't read")
        out[key] = json.dumps(value, ensure_ascii=False)
    return out


def holding(dump: dict[str, str], needles: list[str]) -> list[tuple[str, str]]:
    return [(k, n) for k, v in dump.items() for n in needles if n in k or n in v]


async def ana_and_bob(client, tenant: str, clock) -> tuple[CustomerStore, RedisStore, str, str, str]:
    """Ana: a web chat (merged duplicate profile, messages, survey) then WhatsApp; Bob: one chat."""
    config = routing.config(tenant)
    router = RedisStore(client, config)
    gateway = GatewayState(router)
    customers = CustomerStore(client, tenant, clock, config.customers)
    t = clock.now
    await routing.agents_available(router, t)
    ana = await customers.identify({"phone": PHONE_RAW, "email": ""}, contact_id="k1")
    dup = await customers.identify({"email": EMAIL})
    merge_id = await customers.merge(ana, dup, by="sup1")
    await routing.arrive(router, "k1", "support", "chat", ana, t)
    await customers.start_contact(ana, "k1", "chat", "support", now=t)
    for who, text, dt in (("customer", TEXTS[0], 1), ("agent", TEXTS[1], 20)):
        if who == "agent":
            await routing.answer(router, "k1", "a1", t + 10)
        await gateway.post("k1", who, "a1" if who == "agent" else "", text, t + dt)
        await customers.append(ana, message(t + dt, who, text, channel="chat", contact="k1",
                                            agent="a1" if who == "agent" else ""))
    await router.complete("k1", "a1", t + 60, disposition="refund", note=TEXTS[2])
    await customers.append(ana, Entry(kind=EntryKind.NOTE, at=t + 61, channel="chat", agent="a1", contact="k1",
                                      data={"text": TEXTS[2]}))
    await customers.record_survey("k1", 5, channel="chat", agent="a1", now=t + 62)
    clock.now = t + 600
    assert await customers.identify({"whatsapp": PHONE}, contact_id="k2") == ana
    assert (await gateway.claim_conversation("whatsapp", PHONE, "", "k2"))[0]
    await routing.handle(router, "k2", "support", "whatsapp", ana, "a1", clock.now, 5, 30,
                         attrs={"connector": "wa", "address": PHONE})
    bob = await customers.identify({"email": "bob@example.com"}, contact_id="k3")
    await routing.arrive(router, "k3", "sales", "chat", bob, clock.now)
    await routing.answer(router, "k3", "a2", clock.now + 5)
    await gateway.post("k3", "customer", "", "bob's own words", clock.now + 6)
    await router.complete("k3", "a2", clock.now + 30)
    await customers.append(bob, message(clock.now + 6, "customer", "bob's own words", channel="chat", contact="k3"))
    return customers, router, ana, dup, merge_id


async def test_export_holds_everything_the_timeline_showed(client, tenant, clock) -> None:
    customers, _, ana, dup, merge_id = await ana_and_bob(client, tenant, clock)
    shown = [e.to_json() for e in await customers.timeline(ana)]
    data = json.loads(json.dumps(await customers.export(dup)))  # any id of the family; JSON round trip
    assert data["customer"] == ana
    assert [{k: v for k, v in e.items() if k != "profile"} for e in data["timeline"]] == shown
    assert {p["id"] for p in data["profiles"]} == {ana, dup}
    assert {i for p in data["profiles"] for i in p["identifiers"]} == {f"phone:{PHONE}", f"email:{EMAIL}"}
    assert [m["id"] for m in data["merges"]] == [merge_id]
    assert set(data["contacts"]) == {"k1", "k2"}
    assert [m["text"] for m in data["contacts"]["k1"]["transcript"]] == list(TEXTS[:2])
    assert data["case"]["last_agent"] == "a1"
    exported = json.dumps(data)
    assert all(t in exported for t in TEXTS) and "bob" not in exported


async def test_erase_leaves_no_key_or_value_holding_the_customer(client, tenant, clock) -> None:
    customers, _, ana, dup, _ = await ana_and_bob(client, tenant, clock)
    needles = [ana, dup, PHONE, PHONE_RAW, PHONE[2:], EMAIL, *TEXTS]
    before = await everything(client, tenant)
    held = {k.split(":", 2)[2].split(":")[0] for k, _ in holding(before, needles)}
    assert {"events", "chat", "contact", "transcript", "customer", "cust"} <= held, held
    bob_keys = {k for k, _ in holding(before, ["bob@example.com", "bob's own words"])}
    conversation = GatewayState(RedisStore(client, routing.config(tenant))).conversation_key("whatsapp", PHONE)
    assert await client.exists(conversation)
    counts = await customers.erase(ana)
    assert not await client.exists(conversation)
    assert counts["identifiers"] == 2 and counts["stream_entries"] > 0
    after = await everything(client, tenant)
    assert holding(after, needles) == []
    assert bob_keys and {k for k, _ in holding(after, ["bob@example.com", "bob's own words"])} == bob_keys
    with pytest.raises(CustomerError, match="not_found"):
        await customers.profile(ana)
    assert await customers.identify({"phone": PHONE}) not in (ana, dup)  # a stranger now


async def test_erase_waits_for_an_open_contact(client, tenant, clock) -> None:
    config = routing.config(tenant)
    router = RedisStore(client, config)
    customers = CustomerStore(client, tenant, clock, config.customers)
    cid = await customers.identify({"phone": PHONE}, contact_id="k9")
    await routing.arrive(router, "k9", "sales", "voice", cid, clock.now)
    with pytest.raises(CustomerError, match="active"):
        await customers.erase(cid)


async def test_retention_purge_erases_idle_customers_and_drops_old_entries(client, tenant, clock) -> None:
    customers = CustomerStore(client, tenant, clock, CustomersConfig(default_region="US", retention_days=30))
    day = 86400.0
    idle = await customers.identify({"phone": PHONE}, contact_id="k1")
    await customers.append(idle, message(clock.now, "customer", TEXTS[0], channel="chat", contact="k1"))
    busy = await customers.identify({"email": EMAIL}, contact_id="k2")
    await customers.append(busy, message(clock.now, "customer", TEXTS[1], channel="chat", contact="k2"))
    clock.now += 20 * day
    await customers.append(busy, message(clock.now, "customer", TEXTS[2], channel="chat", contact="k2"))
    clock.now += 15 * day  # the idle one: 35 days; busy's first message 35 days old, its last 15
    assert await customers.purge() == {"erased": 1, "entries_dropped": 1}
    with pytest.raises(CustomerError, match="not_found"):
        await customers.profile(idle)
    assert [e.data["text"] for e in await customers.timeline(busy)] == [TEXTS[2]]
    assert holding(await everything(client, tenant), [PHONE, TEXTS[0], TEXTS[1], idle]) == []


async def test_info_logs_carry_ids_never_numbers_emails_or_text(client, tenant, clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    customers, _, ana, dup, merge_id = await ana_and_bob(client, tenant, clock)
    await customers.link(ana, "crm", "CRM-777")
    await customers.undo_merge(merge_id)
    await customers.export(ana)
    await customers.erase(ana)
    with pytest.raises(CustomerError):
        await customers.link(dup, "email", "bob@example.com")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert ana in logged  # ids are logged
    for secret in (PHONE, PHONE[2:], "555-0143", EMAIL, "bob@example.com", "CRM-777", *TEXTS, "bob's own words"):
        assert secret not in logged, secret
