"""CustomerStore on real Redis: identify, link, merge and undo, timeline, continuity, surveys."""

from __future__ import annotations

import asyncio

import pytest

from customers.identity import Identifier, InvalidIdentifier
from customers.store import CustomerError, CustomerStore
from customers.timeline import Entry, EntryKind, message

PHONE = "+12025550143"


async def test_a_new_contact_with_a_known_identifier_attaches_to_that_customer(customers: CustomerStore) -> None:
    first = await customers.identify({"phone": "(202) 555-0143", "email": ""}, contact_id="k1")
    assert first.startswith("c")
    # Later, the same number on WhatsApp with an email never seen before: same customer, email linked.
    again = await customers.identify({"whatsapp": PHONE, "email": "Ana@Example.com"}, contact_id="k2")
    assert again == first
    by_email = await customers.identify({"email": "ana@example.com"})
    assert by_email == first
    # A SIP caller ID of the same number.
    assert await customers.identify({"sip": f"sip:{PHONE}@pbx.example.com"}) == first
    other = await customers.identify({"phone": "+1 202 555 0199"})
    assert other != first
    profile = await customers.profile(first)
    assert profile.identifiers == (Identifier("email", "ana@example.com"), Identifier("phone", PHONE))
    assert await customers.customer_of("k2") == first
    with pytest.raises(InvalidIdentifier, match="phone: not a valid number"):
        await customers.identify({"phone": "12", "email": "ana@example.com"})
    # A connector or widget can ask to leave out what doesn't parse instead.
    assert await customers.identify({"phone": "12", "email": "ana@example.com"}, strict=False) == first
    assert await customers.identify({"telegram": "@ana"}, strict=False) not in (first, other)  # nothing usable


async def test_link_an_identifier_and_refuse_one_taken_by_another_customer(customers: CustomerStore) -> None:
    ana = await customers.identify({"phone": PHONE})
    bob = await customers.identify({"email": "bob@example.com"})
    assert await customers.link(ana, "crm", "SF-1", by="a1") is True
    assert await customers.link(ana, "crm", "SF-1") is False  # already
    assert await customers.identify({"crm": "SF-1"}) == ana
    with pytest.raises(CustomerError) as e:
        await customers.link(ana, "email", "BOB@example.com")
    assert e.value.code == "taken" and e.value.detail == bob
    with pytest.raises(CustomerError, match="not_found"):
        await customers.link("cnope", "crm", "x")
    (entry,) = [e for e in await customers.timeline(ana) if e.kind == EntryKind.LINK]
    assert entry.data == {"identifier": "crm:SF-1"} and entry.agent == "a1"


async def test_merge_then_undo_restores_both_profiles_and_their_identifiers(customers: CustomerStore, clock) -> None:
    ana = await customers.identify({"phone": PHONE}, contact_id="k1")
    await customers.append(ana, message(clock.now, "customer", "my order is late", channel="chat", contact="k1"))
    dup = await customers.identify({"email": "ana@example.com"}, contact_id="k2")
    clock.now += 10
    await customers.append(dup, message(clock.now, "customer", "hello again", channel="email", contact="k2"))
    before_ana, before_dup = await customers.profile(ana), await customers.profile(dup)

    clock.now += 10
    merge_id = await customers.merge(ana, dup, by="sup1")
    assert await customers.identify({"email": "ana@example.com"}) == ana
    merged = await customers.profile(ana)
    assert set(merged.identifiers) == {Identifier("phone", PHONE), Identifier("email", "ana@example.com")}
    assert merged.merged == (dup,)
    assert (await customers.profile(dup)).merged_into == ana
    texts = [e.data.get("text") for e in await customers.timeline(ana) if e.kind == EntryKind.MESSAGE]
    assert texts == ["my order is late", "hello again"]  # one timeline, in time order
    assert await customers.resolve(dup) == ana
    clock.now += 10
    await customers.append(dup, message(clock.now, "customer", "after merge", channel="email", contact="k2"))
    with pytest.raises(CustomerError, match="merged"):
        await customers.merge(ana, dup)
    with pytest.raises(CustomerError, match="same"):
        await customers.merge(ana, ana)

    clock.now += 10
    await customers.undo_merge(merge_id, by="sup1")
    assert await customers.identify({"email": "ana@example.com"}) == dup
    assert await customers.identify({"phone": PHONE}) == ana
    after_ana, after_dup = await customers.profile(ana), await customers.profile(dup)
    assert after_ana.identifiers == before_ana.identifiers and after_dup.identifiers == before_dup.identifiers
    assert after_ana.merged == () and after_dup.merged_into == ""
    kinds = [e.kind for e in await customers.timeline(ana)]
    assert kinds.count(EntryKind.MERGE) == 1 and kinds.count(EntryKind.UNMERGE) == 1
    assert [e.kind for e in await customers.timeline(dup)][-2:] == [EntryKind.MERGE, EntryKind.UNMERGE]
    with pytest.raises(CustomerError, match="undone"):
        await customers.undo_merge(merge_id)
    with pytest.raises(CustomerError, match="not_found"):
        await customers.undo_merge("mnope")


async def test_merges_are_undone_last_first(customers: CustomerStore) -> None:
    a = await customers.identify({"phone": PHONE})
    b = await customers.identify({"email": "b@example.com"})
    c = await customers.identify({"crm": "C-9"})
    m1 = await customers.merge(a, b)
    m2 = await customers.merge(c, a)
    assert await customers.identify({"email": "b@example.com"}) == c
    with pytest.raises(CustomerError) as e:
        await customers.undo_merge(m1)
    assert e.value.code == "into_merged" and e.value.detail == c
    await customers.undo_merge(m2)
    await customers.undo_merge(m1)
    assert [await customers.identify(x) for x in ({"phone": PHONE}, {"email": "b@example.com"}, {"crm": "C-9"})] == [
        a, b, c]


async def test_a_customer_back_within_the_window_continues_the_case(customers: CustomerStore, clock) -> None:
    cid = await customers.identify({"phone": PHONE})
    first = await customers.start_contact(cid, "k1", "chat", "support", skills="billing:3")
    assert not first.continued and first.case.contacts == 1
    await customers.append(cid, Entry(kind=EntryKind.CONTACT_ENDED, at=clock.now + 60, channel="chat", agent="a2",
                                      contact="k1", data={"outcome": "completed"}))
    clock.now += 1800  # within the hour
    again = await customers.start_contact(cid, "k2", "voice", "sales")
    assert again.continued and again.case.id == first.case.id and again.case.contacts == 2
    case = await customers.case(cid)
    assert case.last_agent == "a2" and case.queue == "sales" and case.channel == "voice"
    clock.now += 7200  # past the window
    later = await customers.start_contact(cid, "k3", "chat", "support")
    assert not later.continued and later.case.id != first.case.id
    started = [e for e in await customers.timeline(cid) if e.kind == EntryKind.CONTACT_STARTED]
    assert [e.data["continued"] for e in started] == [False, True, False]
    assert started[1].data["case"] == first.case.id


async def test_survey_answers_go_to_the_customer_timeline(customers: CustomerStore, clock) -> None:
    cid = await customers.identify({"phone": PHONE}, contact_id="k1")
    assert await customers.record_survey("k1", 4, channel="chat", agent="a1") == cid
    assert await customers.record_survey("unknown", 5) == ""
    with pytest.raises(ValueError, match="from 1 to 5"):
        await customers.record_survey("k1", 6)
    (survey,) = [e for e in await customers.timeline(cid) if e.kind == EntryKind.SURVEY]
    assert survey.data == {"score": 4, "question": "csat"} and survey.contact == "k1"


async def test_the_offer_carries_the_profile_case_and_recent_timeline(customers: CustomerStore, clock) -> None:
    customers.config = type(customers.config)(default_region="US", timeline_length=3)
    cid = await customers.identify({"phone": PHONE}, contact_id="k1")
    await customers.start_contact(cid, "k1", "chat", "support")
    for i in range(5):
        clock.now += 1
        await customers.append(cid, message(clock.now, "customer", f"line {i}", channel="chat", contact="k1"))
    offer = await customers.for_offer(cid)
    assert offer["profile"]["identifiers"] == [f"phone:{PHONE}"]
    assert offer["case"]["queue"] == "support"
    assert [e["data"]["text"] for e in offer["timeline"]] == ["line 2", "line 3", "line 4"]


async def test_concurrent_contacts_with_the_same_new_number_make_one_customer(redis_url, tenant, clock) -> None:
    from router.store import connect

    clients = [await connect(redis_url) for _ in range(8)]
    try:
        stores = [CustomerStore(c, tenant, clock) for c in clients]
        got = await asyncio.gather(*(
            s.identify([Identifier("phone", PHONE), Identifier("email", f"x{i}@example.com")], contact_id=f"k{i}")
            for i, s in enumerate(stores * 3)
        ))
        assert len(set(got)) == 1
        profile = await stores[0].profile(got[0])
        assert len(profile.identifiers) == 25  # the number and the 24 emails
        assert await stores[0].client.zcard(stores[0].keys.all) == 1
    finally:
        for c in clients:
            await c.aclose()
